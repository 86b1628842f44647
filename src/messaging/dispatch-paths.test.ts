// The bus dispatches by one of three paths (no hooks and no middleware; middleware only; hooks), the
// first two without an async frame of their own. These tests hold every path to the same contract.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { HandlerNotFoundError, ValidationError } from "../errors.js";
import { CommandBus } from "./command-bus.js";
import type { Message } from "./message.js";
import type { MessageBusOptions, Middleware } from "./message-bus.js";
import { validation } from "./middleware.js";
import { QueryBus } from "./query-bus.js";

type Commands = { Run: { payload: { fail: "sync" | "async" | "no" }; result: string } };

const passThrough: Middleware = (_message, next) => next();

const setups: Record<string, (options?: MessageBusOptions) => CommandBus<Commands>> = {
  "no hooks, no middleware": (options) => new CommandBus<Commands>(options),
  "middleware only": (options) => new CommandBus<Commands>(options).use(passThrough),
  // validation runs inline, as a synchronous step, not as a middleware call: the same contract.
  "validation only": (options) =>
    new CommandBus<Commands>(options).use(validation({ Run: v.object({ fail: v.picklist(["sync", "async", "no"]) }) })),
  "before and after hooks": (options) =>
    new CommandBus<Commands>(options).before(() => undefined).after(() => undefined),
};

function register(bus: CommandBus<Commands>): void {
  bus.register("Run", ({ fail }) => {
    if (fail === "sync") throw new RangeError("sync failure");
    if (fail === "async") return Promise.reject(new RangeError("async failure"));
    return "done";
  });
}

for (const [path, create] of Object.entries(setups)) {
  describe(`dispatch, ${path}`, () => {
    test("a handler that throws synchronously gives a rejection, counted as a failure and told to onError", async () => {
      const seen: [unknown, Message][] = [];
      const bus = create({ onError: (error, message) => seen.push([error, message]) });
      register(bus);
      let pending: Promise<string> | undefined;
      expect(() => {
        pending = bus.execute("Run", { fail: "sync" });
      }).not.toThrow();
      await expect(pending).rejects.toThrow("sync failure");
      await expect(bus.execute("Run", { fail: "async" })).rejects.toThrow("async failure");
      expect(await bus.execute("Run", { fail: "no" })).toBe("done");
      expect(bus.stats("Run")).toMatchObject({ type: "Run", executions: 3, failures: 2 });
      expect(seen.map(([error, message]) => [(error as Error).message, message.type, message.payload])).toEqual([
        ["sync failure", "Run", { fail: "sync" }],
        ["async failure", "Run", { fail: "async" }],
      ]);
    });

    test("without onError, every dispatch is counted, failures included, by the time its caller resumes", async () => {
      const bus = create();
      register(bus);
      let failures = 0;
      for (let i = 0; i < 40; i++) {
        const fail = i % 4 === 0 ? "sync" : i % 4 === 1 ? "async" : "no";
        if (fail !== "no") failures++;
        await bus.execute("Run", { fail }).catch(() => undefined);
        expect(bus.stats("Run")).toMatchObject({ executions: i + 1, failures });
      }
    });

    test("timing: by default the first dispatch of a type and then one in 16; true times all, false none, n one in n", async () => {
      const timed = async (options: MessageBusOptions, runs: number) => {
        const bus = create(options);
        register(bus);
        for (let i = 0; i < runs; i++) await bus.execute("Run", { fail: i % 2 === 0 ? "no" : "async" }).catch(() => 0);
        return bus.stats("Run");
      };
      expect(await timed({}, 40)).toMatchObject({ executions: 40, failures: 20, timedExecutions: 3 });
      expect(await timed({ timeExecutions: true }, 5)).toMatchObject({ executions: 5, timedExecutions: 5 });
      expect(await timed({ timeExecutions: 4 }, 9)).toMatchObject({ executions: 9, timedExecutions: 3 });
      const untimed = await timed({ timeExecutions: false }, 3);
      expect(untimed).toEqual({
        type: "Run",
        executions: 3,
        failures: 1,
        timedExecutions: 0,
        totalDurationMs: 0,
        maxDurationMs: 0,
        lastExecutedAt: undefined,
      });
    });

    test("without stats, failures still reach onError and the caller", async () => {
      const seen: unknown[] = [];
      const bus = create({ trackExecutions: false, onError: (error) => seen.push(error) });
      register(bus);
      await expect(bus.execute("Run", { fail: "sync" })).rejects.toBeInstanceOf(RangeError);
      await expect(bus.execute("Run", { fail: "async" })).rejects.toBeInstanceOf(RangeError);
      expect(await bus.execute("Run", { fail: "no" })).toBe("done");
      expect(seen).toHaveLength(2);
      expect(bus.stats()).toEqual([]);
    });

    test("unknown and invalid types are rejections, never synchronous throws, and are not counted", async () => {
      const seen: unknown[] = [];
      const bus = create({ onError: (error) => seen.push(error) });
      let unknown: Promise<unknown> | undefined;
      let invalid: Promise<unknown> | undefined;
      expect(() => {
        unknown = bus.execute("Run", { fail: "no" });
        invalid = bus.execute(42 as never, { fail: "no" } as never);
      }).not.toThrow();
      await expect(unknown).rejects.toBeInstanceOf(HandlerNotFoundError);
      await expect(invalid).rejects.toBeInstanceOf(ValidationError);
      expect(bus.stats()).toEqual([]);
      expect(seen).toEqual([]);
    });

    test("a result whose then getter throws is a rejection, never a synchronous throw, and is counted", async () => {
      for (const options of [{}, { timeExecutions: false }, { trackExecutions: false }, { onError: () => undefined }]) {
        const bus = create(options);
        bus.register("Run", () => {
          // A proxy that throws on any property it does not know, as some client objects do.
          return new Proxy({} as { then?: unknown }, {
            get: (_target, key) => {
              throw new TypeError(`no property ${String(key)}`);
            },
          }) as never;
        });
        for (let i = 0; i < 3; i++) {
          let pending: Promise<unknown> | undefined;
          expect(() => {
            pending = bus.execute("Run", { fail: "no" });
          }).not.toThrow();
          await expect(pending).rejects.toThrow("no property then");
        }
        if (options !== undefined && !("trackExecutions" in options)) {
          expect(bus.stats("Run")).toMatchObject({ executions: 3, failures: 3 });
        }
      }
    });

    test("lastExecutedAt is the wall-clock time the dispatch ended", async () => {
      const bus = create();
      register(bus);
      const before = Date.now();
      await bus.execute("Run", { fail: "no" });
      const after = Date.now();
      const at = Date.parse(bus.stats("Run")?.lastExecutedAt ?? "");
      // Date.now() has millisecond resolution, the stat is derived from a sub-millisecond clock.
      expect(at).toBeGreaterThanOrEqual(before - 1);
      expect(at).toBeLessThanOrEqual(after + 1);
    });
  });
}

describe("middleware chain", () => {
  test("a middleware that throws synchronously is a rejection the outer middleware can catch", async () => {
    const caught: unknown[] = [];
    const bus = new QueryBus<{ Q: { payload: null; result: string } }>()
      .use((_message, next) =>
        next().catch((error: unknown) => {
          caught.push(error);
          return "recovered";
        }),
      )
      .use(() => {
        throw new Error("inner broke");
      });
    bus.register("Q", () => "unreached");
    expect(await bus.execute("Q", null)).toBe("recovered");
    expect(caught).toEqual([new Error("inner broke")]);
  });

  test("a handler that throws synchronously under middleware reaches the middleware as a rejection", async () => {
    const seen: string[] = [];
    const bus = new QueryBus<{ Q: { payload: null; result: string } }>().use((_message, next) => {
      const pending = next();
      seen.push(pending instanceof Promise ? "promise" : typeof pending);
      return pending.catch(() => "handled");
    });
    bus.register("Q", () => {
      throw new Error("handler broke");
    });
    expect(await bus.execute("Q", null)).toBe("handled");
    expect(seen).toEqual(["promise"]);
    expect(bus.stats("Q")).toMatchObject({ executions: 1, failures: 0 });
  });

  test("a middleware can call next() again; the handler runs each time", async () => {
    let runs = 0;
    const bus = new CommandBus<{ C: { payload: null; result: number } }>().use(async (_message, next) => {
      await next();
      return next();
    });
    bus.register("C", () => ++runs);
    expect(await bus.execute("C", null)).toBe(2);
    expect(runs).toBe(2);
  });
});

describe("validation as a step of the chain", () => {
  type Orders = { Place: { payload: { quantity: number }; result: unknown } };
  const Place = v.object({ quantity: v.pipe(v.string(), v.transform(Number), v.number(), v.minValue(1)) });

  test("keeps its place: a middleware before it sees the raw payload, one after it and the handler the parsed one", async () => {
    const seen: unknown[] = [];
    const watch =
      (label: string): Middleware =>
      (message, next) => {
        seen.push([label, message.payload]);
        return next();
      };
    const bus = new CommandBus<Orders>()
      .use(watch("before"))
      .use(validation<Orders>({ Place: Place as never }))
      .use(watch("after"));
    bus.register("Place", (payload) => payload);
    expect(await bus.execute("Place", { quantity: "3" } as never)).toEqual({ quantity: 3 });
    expect(seen).toEqual([
      ["before", { quantity: "3" }],
      ["after", { quantity: 3 }],
    ]);
  });

  test("a refused payload is a ValidationError rejection: the handler and later middleware never run, the failure is counted", async () => {
    let reached = 0;
    const bus = new CommandBus<Orders>().use(validation<Orders>({ Place: Place as never })).use((_message, next) => {
      reached++;
      return next();
    });
    bus.register("Place", () => {
      reached++;
    });
    const pending = bus.execute("Place", { quantity: "0" } as never);
    await expect(pending).rejects.toBeInstanceOf(ValidationError);
    expect(reached).toBe(0);
    expect(bus.stats("Place")).toMatchObject({ executions: 1, failures: 1 });
  });

  test("an outer middleware that calls next() again runs the validation again", async () => {
    let validations = 0;
    const counted = v.pipe(
      v.object({ quantity: v.number() }),
      v.check(() => ++validations > 0),
    );
    const bus = new CommandBus<Orders>()
      .use(async (_message, next) => {
        await next();
        return next();
      })
      .use(validation<Orders>({ Place: counted }));
    bus.register("Place", ({ quantity }) => quantity);
    expect(await bus.execute("Place", { quantity: 2 })).toBe(2);
    expect(validations).toBe(2);
  });

  test("called as a plain middleware, outside a bus, it checks the same way", async () => {
    const middleware = validation<Orders>({ Place: Place as never });
    const message = { kind: "command", type: "Place", payload: { quantity: "5" } } as unknown as Message;
    expect(await middleware(message, async () => message.payload)).toEqual({ quantity: 5 });
    const refused = { ...message, payload: { quantity: "x" } } as Message;
    await expect(middleware(refused, async () => "unreached")).rejects.toBeInstanceOf(ValidationError);
  });

  test("any payload: the bus accepts exactly what the schema accepts, and hands the handler its output", async () => {
    const Schema = v.object({ id: v.pipe(v.string(), v.minLength(1)), tags: v.optional(v.array(v.string()), []) });
    const bus = new CommandBus<{ C: { payload: unknown; result: unknown } }>().use(validation({ C: Schema }));
    bus.register("C", (payload) => payload);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({ id: fc.string(), tags: fc.option(fc.array(fc.string()), { nil: undefined }) }),
        ),
        async (payload) => {
          const expected = v.safeParse(Schema, payload);
          const outcome = await bus.execute("C", payload).then(
            (output) => ({ ok: true, output }),
            (error: unknown) => ({ ok: false, error }),
          );
          expect(outcome.ok).toBe(expected.success);
          if (expected.success) expect((outcome as { output: unknown }).output).toEqual(expected.output);
          else expect((outcome as { error: unknown }).error).toBeInstanceOf(ValidationError);
        },
      ),
    );
  });
});

describe("messages sent without metadata", () => {
  test("share one empty metadata object, frozen: MessageMetadata is read-only", async () => {
    const bus = new QueryBus<{ Q: { payload: null; result: Message["metadata"] } }>();
    bus.register("Q", (_payload, message) => message.metadata);
    const metadata = await bus.execute("Q", null);
    expect(metadata).toEqual({});
    expect(Object.isFrozen(metadata)).toBe(true);
    expect(await bus.execute("Q", null, { metadata: { correlationId: "c-1" } })).toEqual({ correlationId: "c-1" });
  });
});

describe("timeExecutions", () => {
  test("anything but true, false or a whole number of at least 1 is refused", () => {
    for (const timeExecutions of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new CommandBus({ timeExecutions })).toThrow(ValidationError);
      expect(() => new QueryBus({ timeExecutions })).toThrow(ValidationError);
    }
    expect(() => new CommandBus({ timeExecutions: 1 })).not.toThrow();
  });
});

describe("bus options", () => {
  test("trackExecutions, telemetry and onError of the wrong kind are refused, naming each", () => {
    const given = { trackExecutions: "no", telemetry: 0, onError: "log" } as never;
    for (const make of [() => new CommandBus(given), () => new QueryBus(given)]) {
      let thrown: unknown;
      try {
        make();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).issues).toEqual([
        { path: ["trackExecutions"], message: 'must be a boolean, got "no"' },
        { path: ["telemetry"], message: "must be a boolean, got 0" },
        { path: ["onError"], message: 'must be a function, got "log"' },
      ]);
    }
    expect(() => new CommandBus({ trackExecutions: false, telemetry: true, onError: () => undefined })).not.toThrow();
  });

  test("options that are not an object are refused; null is no options", () => {
    for (const given of ["fast", 16, true]) {
      expect(() => new CommandBus(given as never)).toThrow(ValidationError);
      expect(() => new QueryBus(given as never)).toThrow("options must be an object");
    }
    expect(() => new CommandBus(null)).not.toThrow();
  });
});
