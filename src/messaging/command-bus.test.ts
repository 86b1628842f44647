import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { Counter, recordWaits } from "../../test/fixtures/contention.ts";
import { AggregateRepository } from "../aggregate/repository.js";
import {
  ConcurrencyError,
  DuplicateHandlerError,
  HandlerNotFoundError,
  isValidationError,
  ValidationError,
} from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { defineStream } from "../events/stream.js";
import { isUlid } from "../ids.js";
import { jsonLogger } from "../logging/json-logger.js";
import { setLogger } from "../logging/library-logger.js";
import { CommandBus } from "./command-bus.js";
import { eventMetadataFor, type Message } from "./message.js";
import { logging, retryOnConcurrency, validation } from "./middleware.js";

type Commands = {
  Add: { payload: { a: number; b: number }; result: number };
  Greet: { payload: { name: string }; result: string };
};

describe("CommandBus", () => {
  test("routes a command to its handler and returns the typed result", async () => {
    const bus = new CommandBus<Commands>();
    bus.register("Add", ({ a, b }) => a + b);
    bus.register("Greet", async ({ name }) => `hello ${name}`);
    const sum: number = await bus.execute("Add", { a: 2, b: 3 });
    expect(sum).toBe(5);
    expect(await bus.execute("Greet", { name: "Ada" })).toBe("hello Ada");
  });

  test("an unregistered type is a HandlerNotFoundError; a second handler is a DuplicateHandlerError", async () => {
    const bus = new CommandBus<Commands>();
    await expect(bus.execute("Add", { a: 1, b: 1 })).rejects.toBeInstanceOf(HandlerNotFoundError);
    bus.register("Add", ({ a, b }) => a + b);
    expect(() => bus.register("Add", () => 0)).toThrow(DuplicateHandlerError);
    expect(await bus.execute("Add", { a: 1, b: 1 })).toBe(2);
  });

  test("bad registrations and type names are ValidationErrors", async () => {
    const bus = new CommandBus();
    expect(() => bus.register("", () => 1)).toThrow(ValidationError);
    expect(() => bus.register("X", "not a function" as never)).toThrow(ValidationError);
    expect(() => bus.use("nope" as never)).toThrow(ValidationError);
    await expect(bus.execute(42 as never, {})).rejects.toBeInstanceOf(ValidationError);
  });

  test("register returns an unregister function; introspection lists what is registered", async () => {
    const bus = new CommandBus<Commands>();
    const off = bus.register("Add", ({ a, b }) => a + b);
    bus.register("Greet", ({ name }) => name);
    expect(bus.registeredTypes()).toEqual(["Add", "Greet"]);
    expect(bus.has("Add")).toBe(true);
    off();
    expect(bus.has("Add")).toBe(false);
    expect(bus.unregister("Greet")).toBe(true);
    expect(bus.unregister("Greet")).toBe(false);
    expect(bus.registeredTypes()).toEqual([]);
  });

  test("an unregister function removes its own registration only, never a later one of the same handler", async () => {
    const bus = new CommandBus<Commands>();
    const add = ({ a, b }: { a: number; b: number }) => a + b;
    const first = bus.register("Add", add);
    first();
    const second = bus.register("Add", add);
    first(); // stale: its registration is gone
    expect(bus.has("Add")).toBe(true);
    bus.unregister("Add");
    bus.register("Add", add);
    second(); // stale too: removed by unregister, then registered anew
    expect(bus.has("Add")).toBe(true);
    expect(await bus.execute("Add", { a: 2, b: 3 })).toBe(5);
  });

  test("assertAllHandled refuses types that are not an object with a ValidationError", () => {
    const bus = new CommandBus();
    for (const types of [undefined, null, "Add", 42, ["Add"]]) {
      expect(() => bus.assertAllHandled(types as never)).toThrow(ValidationError);
    }
    bus.register("Add", () => 1);
    expect(() => bus.assertAllHandled({ Add: true })).not.toThrow();
    expect(() => bus.assertAllHandled({ Add: true, Sub: true })).toThrow(HandlerNotFoundError);
  });

  test("hooks and middleware run in order around the handler", async () => {
    const bus = new CommandBus<Commands>();
    const log: string[] = [];
    bus.before((m) => void log.push(`before ${m.type}`));
    bus.use(async (_m, next) => {
      log.push("outer in");
      const result = await next();
      log.push("outer out");
      return result;
    });
    bus.use(async (_m, next) => {
      log.push("inner in");
      return ((await next()) as number) * 10;
    });
    bus.after((m, outcome) => void log.push(`after ${m.type} ${outcome.ok ? (outcome.result as number) : "error"}`));
    bus.register("Add", ({ a, b }) => {
      log.push("handler");
      return a + b;
    });
    expect(await bus.execute("Add", { a: 1, b: 2 })).toBe(30);
    expect(log).toEqual(["before Add", "outer in", "inner in", "handler", "outer out", "after Add 30"]);
  });

  test("a before hook that throws stops dispatch; an after hook that throws does not change the outcome", async () => {
    const bus = new CommandBus<Commands>();
    let ran = false;
    bus.register("Add", () => {
      ran = true;
      return 1;
    });
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      bus.after(() => {
        throw new Error("after broke");
      });
      expect(await bus.execute("Add", { a: 0, b: 0 })).toBe(1);
      expect(errors).toHaveLength(1);
      bus.before(() => {
        throw new Error("denied");
      });
      ran = false;
      await expect(bus.execute("Add", { a: 0, b: 0 })).rejects.toThrow("denied");
      expect(ran).toBe(false);
    } finally {
      console.error = original;
    }
  });

  test("handlers get the message: a lazy ULID id, metadata, and event metadata derived from it", async () => {
    const bus = new CommandBus<Commands>();
    let seen: Message | undefined;
    bus.register("Greet", (_payload, message) => {
      seen = message;
      return "ok";
    });
    await bus.execute("Greet", { name: "x" }, { metadata: { correlationId: "corr", userId: "u1" } });
    expect(seen?.kind).toBe("command");
    expect(isUlid(seen?.id)).toBe(true);
    expect(seen?.metadata).toEqual({ correlationId: "corr", userId: "u1" });
    expect(eventMetadataFor(seen as Message)).toEqual({ correlationId: "corr", causationId: seen?.id });
    await bus.execute("Greet", { name: "y" }, { id: "01J0000000000000000000000A" });
    expect(seen?.id).toBe("01J0000000000000000000000A");
    expect(eventMetadataFor(seen as Message).correlationId).toBe("01J0000000000000000000000A");
  });

  test("tracks executions and failures per type; onError sees the failing command", async () => {
    const failures: [unknown, string][] = [];
    const bus = new CommandBus<Commands>({
      timeExecutions: true,
      onError: (error, message) => failures.push([error, message.type]),
    });
    bus.register("Add", ({ a }) => {
      // Runs across a tick of the clock the bus reads, so the recorded duration cannot be 0.
      for (const started = performance.now(); performance.now() === started; );
      if (a < 0) throw new RangeError("negative");
      return a;
    });
    await bus.execute("Add", { a: 1, b: 0 });
    await expect(bus.execute("Add", { a: -1, b: 0 })).rejects.toBeInstanceOf(RangeError);
    const stats = bus.stats("Add");
    expect(stats?.executions).toBe(2);
    expect(stats?.failures).toBe(1);
    expect(stats?.timedExecutions).toBe(2);
    expect(stats?.maxDurationMs).toBeGreaterThan(0);
    expect(stats?.totalDurationMs).toBeGreaterThan(stats?.maxDurationMs ?? 0);
    expect(Number.isNaN(Date.parse(stats?.lastExecutedAt ?? ""))).toBe(false);
    expect(bus.stats().map((s) => s.type)).toEqual(["Add"]);
    expect(failures).toEqual([[new RangeError("negative"), "Add"]]);
    const untracked = new CommandBus<Commands>({ trackExecutions: false });
    untracked.register("Add", () => 1);
    await untracked.execute("Add", { a: 1, b: 1 });
    expect(untracked.stats()).toEqual([]);
  });

  test("execute options refused with a ValidationError are not a dispatch: no hook, no onError, not counted", async () => {
    for (const hooked of [false, true]) {
      const seen: string[] = [];
      const bus = new CommandBus<Commands>({ onError: () => void seen.push("onError") });
      if (hooked) bus.before(() => void seen.push("before")).after(() => void seen.push("after"));
      bus.register("Add", ({ a }) => a);
      await expect(bus.execute("Add", { a: 1, b: 0 }, { id: "" })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.execute("Add", { a: 1, b: 0 }, { metdata: {} } as never)).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect(seen).toEqual([]);
      expect(bus.stats("Add")).toBeUndefined();
      await bus.execute("Add", { a: 1, b: 0 });
      expect(bus.stats("Add")?.executions).toBe(1);
    }
  });

  test("an onError that throws, or an async one that rejects, is logged, and the caller still gets the dispatch's error", async () => {
    const logged: unknown[] = [];
    setLogger({ ...jsonLogger(), error: (message, fields) => void logged.push([message, fields?.type]) });
    try {
      const throwing = {
        onError: () => {
          throw new Error("onError broke");
        },
      };
      const rejecting = { onError: async () => Promise.reject(new Error("async onError broke")) };
      for (const noisy of [
        new CommandBus<Commands>(throwing),
        new CommandBus<Commands>(throwing).before(() => {}),
        new CommandBus<Commands>(rejecting),
      ]) {
        noisy.register("Add", () => {
          throw new RangeError("handler failed");
        });
        await expect(noisy.execute("Add", { a: 1, b: 1 })).rejects.toThrow("handler failed");
      }
      // The async hook's rejection settles after the caller got its error.
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      setLogger(undefined);
    }
    expect(logged).toEqual([
      ["the bus's onError threw", "Add"],
      ["the bus's onError threw", "Add"],
      ["the bus's onError threw", "Add"],
    ]);
  });

  test("when the library's logger throws too, the caller still gets the dispatch's own error or result", async () => {
    setLogger({
      ...jsonLogger(),
      error: () => {
        throw new Error("logger down");
      },
    });
    try {
      const throwing = () => {
        throw new Error("onError broke");
      };
      for (const bus of [
        new CommandBus<Commands>({ onError: throwing }),
        new CommandBus<Commands>({ onError: throwing }).before(() => {}),
      ]) {
        bus.register("Add", () => {
          throw new RangeError("handler failed");
        });
        await expect(bus.execute("Add", { a: 1, b: 1 })).rejects.toThrow("handler failed");
      }
      const observed = new CommandBus<Commands>().after(() => {
        throw new Error("after hook broke");
      });
      observed.register("Add", ({ a, b }) => a + b);
      expect(await observed.execute("Add", { a: 1, b: 1 })).toBe(2);
      const rejecting = new CommandBus<Commands>({ onError: async () => Promise.reject(new Error("async broke")) });
      rejecting.register("Add", () => {
        throw new RangeError("handler failed");
      });
      await expect(rejecting.execute("Add", { a: 1, b: 1 })).rejects.toThrow("handler failed");
      // The async hook's rejection is reported after the caller got its error: no unhandled rejection.
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      setLogger(undefined);
    }
  });

  test("execute options a caller got wrong are refused before the handler runs, naming each", async () => {
    const bus = new CommandBus<Commands>();
    let ran = 0;
    bus.register("Add", ({ a, b }) => {
      ran++;
      return a + b;
    });
    for (const [options, paths] of [
      [5, [[]]],
      [{ id: "" }, [["id"]]],
      [{ id: 7, metadata: "c-1", signal: {} }, [["id"], ["metadata"], ["signal"]]],
      [{ metadata: [] }, [["metadata"]]],
      // Only an `aborted` flag: a handler calling signal.throwIfAborted() failed with a TypeError.
      [{ signal: { aborted: false } }, [["signal"]]],
    ] as const) {
      const error = await bus.execute("Add", { a: 1, b: 1 }, options as never).catch((e: unknown) => e);
      expect(isValidationError(error)).toBe(true);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(paths as never);
    }
    expect(ran).toBe(0);
    // Well-formed options still go through.
    const controller = new AbortController();
    expect(await bus.execute("Add", { a: 1, b: 2 }, { id: "cmd-1", metadata: {}, signal: controller.signal })).toBe(3);
  });

  test("execute takes null options as none, as save, update, subscribe and the bus options do", async () => {
    const bus = new CommandBus<Commands>();
    let seen: Message | undefined;
    bus.register("Add", ({ a, b }, message) => {
      seen = message;
      return a + b;
    });
    expect(await bus.execute("Add", { a: 1, b: 2 }, null)).toBe(3);
    expect(seen?.metadata).toEqual({});
    expect(isUlid(seen?.id ?? "")).toBe(true);
    expect(seen?.signal).toBeUndefined();
  });

  test("before and after refuse a hook that is not a function; null options are no options", async () => {
    expect(() => new CommandBus().before(42 as never)).toThrow(ValidationError);
    expect(() => new CommandBus().after("x" as never)).toThrow(ValidationError);
    const bus = new CommandBus<Commands>(null);
    bus.register("Add", ({ a, b }) => a + b);
    expect(await bus.execute("Add", { a: 1, b: 2 })).toBe(3);
    expect(bus.stats("Add")?.executions).toBe(1);
    expect(() => retryOnConcurrency(null as never)).not.toThrow();
    // Options of another kind are not taken for none: "fast" or 3 meant something the defaults are not.
    for (const options of ["fast", 3, [], true]) {
      expect(() => retryOnConcurrency(options as never)).toThrow(ValidationError);
    }
  });
});

describe("middleware", () => {
  const schemas = {
    Greet: v.object({
      name: v.pipe(
        v.string(),
        v.minLength(1),
        v.transform((s) => s.trim()),
      ),
    }),
  };

  test("validation rejects a bad payload with every issue, before the handler", async () => {
    const bus = new CommandBus<Commands>().use(validation(schemas));
    let ran = false;
    bus.register("Greet", ({ name }) => {
      ran = true;
      return name;
    });
    const error = await bus.execute("Greet", { name: 5 } as never).catch((e) => e);
    expect(isValidationError(error)).toBe(true);
    expect((error as ValidationError).issues[0]?.path).toEqual(["name"]);
    expect(String(error.message)).toContain('Invalid command "Greet"');
    expect(ran).toBe(false);
    expect(await bus.execute("Greet", { name: "  Ada " })).toBe("Ada");
  });

  test("validation lets types without a schema through", async () => {
    const bus = new CommandBus<Commands>().use(validation(schemas));
    bus.register("Add", ({ a, b }) => a + b);
    expect(await bus.execute("Add", { a: 1, b: 1 })).toBe(2);
  });

  test("validation finds no schema for a type named like an Object.prototype member", async () => {
    type Named = {
      toString: { payload: { n: number }; result: number };
      constructor: { payload: null; result: string };
    };
    const bus = new CommandBus<Named>().use(validation<Named>({}));
    bus.register("toString", ({ n }) => n);
    bus.register("constructor", () => "ran");
    expect(await bus.execute("toString", { n: 1 })).toBe(1);
    expect(await bus.execute("constructor", null)).toBe("ran");
  });

  test("validation refuses, when called, an entry that is not a synchronous valibot schema", () => {
    const asyncSchema = v.objectAsync({
      name: v.pipeAsync(
        v.string(),
        v.checkAsync(async () => false, "taken"),
      ),
    });
    const refusal = (given: unknown) => {
      try {
        validation(given as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const async = refusal({ Greet: asyncSchema });
    expect(isValidationError(async)).toBe(true);
    expect((async as ValidationError).issues).toEqual([
      {
        path: ["Greet"],
        message:
          "is an async schema (objectAsync, pipeAsync, …); validation() checks synchronously: give a synchronous one",
      },
    ]);
    const notSchemas = refusal({ Greet: 5, Add: { kind: "schema" }, Other: undefined });
    expect((notSchemas as ValidationError).issues).toEqual([
      { path: ["Greet"], message: "must be a valibot schema, got 5" },
      { path: ["Add"], message: "must be a valibot schema, got object" },
    ]);
    expect(isValidationError(refusal(null))).toBe(true);
  });

  test("retryOnConcurrency re-runs the handler on ConcurrencyError only, up to the bound", async () => {
    const bus = new CommandBus<Commands>().use(retryOnConcurrency({ maxAttempts: 3, baseDelayMs: 0 }));
    let calls = 0;
    bus.register("Add", () => {
      calls++;
      if (calls < 3) throw new ConcurrencyError("S-1", 1, 2);
      return calls;
    });
    expect(await bus.execute("Add", { a: 0, b: 0 })).toBe(3);
    calls = -10;
    await expect(bus.execute("Add", { a: 0, b: 0 })).rejects.toBeInstanceOf(ConcurrencyError);
    expect(calls).toBe(-7);
    const other = new CommandBus<Commands>().use(retryOnConcurrency({ baseDelayMs: 1 }));
    let otherCalls = 0;
    other.register("Add", () => {
      otherCalls++;
      throw new TypeError("not retried");
    });
    await expect(other.execute("Add", { a: 0, b: 0 })).rejects.toBeInstanceOf(TypeError);
    expect(otherCalls).toBe(1);
    expect(() => retryOnConcurrency({ maxAttempts: 0 })).toThrow(ValidationError);
  });

  test("retryOnConcurrency refuses a key it does not take, as update does: a misspelt maxAttempts is no default", () => {
    let error: unknown;
    try {
      retryOnConcurrency({ maxAtempts: 1 } as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { path: ["maxAtempts"], message: "is not an option (the options are maxAttempts, baseDelayMs)" },
    ]);
  });

  test("retryOnConcurrency() makes 6 attempts by default, waiting up to 10 ms doubled each retry, as update does", async () => {
    const bus = new CommandBus<Commands>().use(retryOnConcurrency());
    let calls = 0;
    let conflicts = 5;
    bus.register("Add", () => {
      calls++;
      if (calls <= conflicts) throw new ConcurrencyError("S-1", calls, calls + 1);
      return calls;
    });
    const { waits, restore } = recordWaits();
    try {
      expect(await bus.execute("Add", { a: 0, b: 0 })).toBe(6);
      expect(waits.map(Math.round)).toEqual([10, 20, 40, 80, 160]);
      calls = 0;
      conflicts = 6;
      await expect(bus.execute("Add", { a: 0, b: 0 })).rejects.toBeInstanceOf(ConcurrencyError);
      expect(calls).toBe(6);
    } finally {
      restore();
    }
  });

  test("retryOnConcurrency() lets 10 concurrent commands updating one aggregate all through", async () => {
    const store = new InMemoryEventStore();
    const repository = new AggregateRepository({
      store,
      stream: defineStream("Tally"),
      create: (id) => new Counter(id),
    });
    const bus = new CommandBus<{ Count: { payload: { id: string }; result: number } }>().use(retryOnConcurrency());
    bus.register("Count", async ({ id }) => {
      const tally = (await repository.find(id)) ?? new Counter(id);
      await Promise.resolve(); // yield, as a handler awaiting I/O would: every command loads the same version
      tally.count();
      await repository.save(tally);
      return tally.version;
    });
    for (let burst = 0; burst < 20; burst++) {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () => bus.execute("Count", { id: `tally-${burst}` })),
      );
      expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
      expect((await repository.load(`tally-${burst}`)).version).toBe(10);
    }
  });

  test("logging writes structured lines without payloads", async () => {
    const lines: [string, Record<string, unknown> | undefined][] = [];
    const logger = {
      info: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
      error: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
    };
    const bus = new CommandBus<Commands>().use(logging(logger));
    bus.register("Greet", ({ name }) => {
      if (name === "bad") throw new ValidationError("no");
      return name;
    });
    await bus.execute("Greet", { name: "secret-value" }, { metadata: { correlationId: "c9" } });
    await expect(bus.execute("Greet", { name: "bad" })).rejects.toBeInstanceOf(ValidationError);
    expect(lines[0]?.[0]).toBe("command Greet handled");
    expect(lines[0]?.[1]?.correlationId).toBe("c9");
    expect(JSON.stringify(lines)).not.toContain("secret-value");
    expect(lines[1]?.[0]).toBe("command Greet failed");
    expect(lines[1]?.[1]?.error).toBe("VALIDATION_FAILED");
  });
});

describe("logging middleware, hostile cases", () => {
  test("a logger that throws never changes the outcome: the result of a command that ran, or its own error", async () => {
    const broken = {
      info: () => {
        throw new Error("log sink closed");
      },
      error: () => {
        throw new Error("log sink closed");
      },
    };
    let runs = 0;
    const bus = new CommandBus<Commands>().use(logging(broken));
    bus.register("Greet", ({ name }) => {
      runs++;
      if (name === "bad") throw new ValidationError("no");
      return name;
    });
    expect(await bus.execute("Greet", { name: "ok" })).toBe("ok");
    await expect(bus.execute("Greet", { name: "bad" })).rejects.toBeInstanceOf(ValidationError);
    expect(runs).toBe(2);
  });

  // Taken, each logged nothing, failed dispatches included (found by an outside audit).
  test("logging refuses what is no logger with info and error, when the middleware is made", () => {
    for (const logger of [5, "console", { info() {} }, null]) {
      expect(() => logging(logger as never)).toThrow(ValidationError);
    }
    expect(() => logging()).not.toThrow();
    expect(() => logging({ info() {}, error() {} })).not.toThrow();
  });

  test("an error carrying a password reaches a logger of the caller's own masked, as the library's loggers mask it", async () => {
    const lines: [string, Record<string, unknown> | undefined][] = [];
    const logger = {
      info: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
      error: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
    };
    const bus = new CommandBus().use(logging(logger));
    const failures = [
      new Error("connect to postgres://app:hunter2@db:5432/shop failed"),
      new Error("connect failed: host=db user=app password='hunter2' dbname=shop"),
      "Authorization: Bearer hunter2.token",
      { code: "E_AUTH postgres://app:hunter2@db/shop" },
    ];
    for (const thrown of failures) {
      bus.unregister("Connect");
      bus.register("Connect", () => {
        throw thrown;
      });
      await expect(bus.execute("Connect", {})).rejects.toBe(thrown);
    }
    expect(JSON.stringify(lines)).not.toContain("hunter2");
    expect(lines.map(([, f]) => f?.error)).toEqual([
      "Error: connect to postgres://app:[redacted]@db:5432/shop failed",
      "Error: connect failed: host=db user=app password=[redacted] dbname=shop",
      "Authorization: Bearer [redacted]",
      "E_AUTH postgres://app:[redacted]@db/shop",
    ]);
  });

  test("a thrown value with no usable text (null prototype, throwing toString) reaches the caller as thrown, and is logged", async () => {
    const lines: [string, Record<string, unknown> | undefined][] = [];
    const logger = {
      info: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
      error: (m: string, f?: Record<string, unknown>) => lines.push([m, f]),
    };
    const bus = new CommandBus().use(logging(logger));
    const bare = Object.create(null);
    const liar = {
      toString() {
        throw new Error("toString boom");
      },
    };
    for (const thrown of [bare, liar]) {
      bus.unregister("Throw");
      bus.register("Throw", () => {
        throw thrown;
      });
      await expect(bus.execute("Throw", {})).rejects.toBe(thrown);
    }
    expect(lines.map(([m, f]) => [m, f?.error])).toEqual([
      ["command Throw failed", "[object Object]"],
      ["command Throw failed", "[object Object]"],
    ]);
  });
});
