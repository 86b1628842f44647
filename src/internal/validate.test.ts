import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AggregateRoot } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { isValidationError, ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { retryOnConcurrency } from "../messaging/middleware.js";
import { InMemorySagaStore } from "../sagas/in-memory-saga-store.js";
import { TenantEventStore } from "../tenancy/tenant-event-store.js";
import { tenantId } from "../tenancy/tenant-id.js";
import { assertFunction, assertObject, kindOf, objectIssues, unknownKeyIssues } from "./validate.js";

const SECRET = "h53-secret-marker";

class Doc extends AggregateRoot<object> {
  constructor(id: string) {
    super(id, {});
  }
}

/** A revoked Proxy: every operation on it, Array.isArray included, throws a TypeError. */
function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A Proxy whose every trap throws an error of the caller's, with text the library cannot vouch for. */
function hostile(): object {
  const fail = () => {
    throw new Error(SECRET);
  };
  return new Proxy({}, { get: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail, getPrototypeOf: fail });
}

describe("input that cannot be read", () => {
  test("kindOf and the issue helpers describe it instead of throwing", () => {
    for (const value of [revoked(), hostile()]) {
      expect(typeof kindOf(value)).toBe("string");
      expect(() => objectIssues(value, "options")).not.toThrow();
      expect(() => unknownKeyIssues(value, ["a"])).not.toThrow();
    }
    expect(unknownKeyIssues(hostile(), ["a"])).toEqual([{ path: [], message: "could not be read: reading it threw" }]);
  });

  test("as a stream id, options or expected version, is a ValidationError without the caller's error text", async () => {
    const store = new InMemoryEventStore();
    const commands = new CommandBus<{ Do: { payload: object; result: number } }>();
    commands.register("Do", async () => 1);
    const event = { type: "Happened", data: {} };
    const repository = new AggregateRepository({
      store,
      stream: (id) => `Doc-${id}`,
      create: (id) => new Doc(id),
    });
    for (const value of [revoked(), hostile()]) {
      const attempts: (() => Promise<unknown>)[] = [
        () => store.appendToStream(value as never, [event]),
        () => store.appendToStream("Doc-1", [event], value as never),
        () => store.appendToStream("Doc-1", [event], { expectedVersion: value as never }),
        () => store.readStream("Doc-1", value as never).next(),
        () => store.readAll(value as never).next(),
        () => commands.execute("Do", {}, value as never),
        async () => new InMemoryEventBus().subscribeToAll(() => {}, value as never),
        async () => retryOnConcurrency(value as never),
        () => repository.update("1", () => 1, value as never),
      ];
      for (const attempt of attempts) {
        // readStream and readAll refuse their options when called, before the first next().
        const error = await Promise.resolve()
          .then(attempt)
          .catch((e: unknown) => e);
        expect(isValidationError(error)).toBe(true);
        expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(SECRET);
      }
    }
    expect(await store.getLastGlobalPosition()).toBe(0);
  });

  test("options whose keys cannot be read, or with a key it does not take whose getter throws, are a ValidationError on every store method", async () => {
    // Before, subscribeToAll read a wrapping store's check from the options first, and the saga store's
    // listings and claims read their fields unchecked: the Proxy's or getter's own error came out.
    const store = new InMemoryEventStore();
    await store.appendToStream("Doc-1", [{ type: "Happened", data: {} }]);
    const tenant = new TenantEventStore(tenantId("acme"), new InMemoryEventStore());
    const sagas = new InMemorySagaStore();
    const calls: Record<string, (options: never) => Promise<unknown>> = {
      appendToStream: (o) => store.appendToStream("Doc-1", [], o),
      readStream: async (o) => store.readStream("Doc-1", o).next(),
      readAll: async (o) => store.readAll(o).next(),
      deleteStream: (o) => store.deleteStream("Doc-1", o),
      subscribeToAll: async (o) => store.subscribeToAll(o).stop(),
      "tenant appendToStream": (o) => tenant.appendToStream("Doc-1", [], o),
      "tenant readStream": async (o) => tenant.readStream("Doc-1", o).next(),
      "tenant readAll": async (o) => tenant.readAll(o).next(),
      "tenant subscribeToAll": async (o) => tenant.subscribeToAll(o).stop(),
      "saga list": (o) => sagas.list(o),
      "saga failures": (o) => sagas.failures(o),
      "saga nextDueAt": (o) => sagas.nextDueAt(o),
      "saga claimDueTimeouts": (o) => sagas.claimDueTimeouts(o),
    };
    for (const [name, call] of Object.entries(calls)) {
      // `type` is no option of any of these (the audit's getter on a saga listing's options).
      const getter = Object.defineProperty({}, "type", {
        enumerable: true,
        get: () => {
          throw new Error(SECRET);
        },
      });
      for (const [kind, options] of Object.entries({ revoked: revoked(), hostile: hostile(), getter })) {
        const error = await Promise.resolve()
          .then(() => call(options as never))
          .catch((e: unknown) => e);
        expect({ name, kind, validation: isValidationError(error) }).toEqual({ name, kind, validation: true });
        expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(SECRET);
      }
    }
    expect(await store.getStreamVersion("Doc-1")).toBe(1);
  });
});

describe("the helpers documented for store authors, called from JavaScript without their arguments", () => {
  test("assertFunction and assertObject refuse with a ValidationError, unknownKeyIssues lists issues: no TypeError", () => {
    for (const call of [
      () => assertFunction(undefined as never, undefined as never, undefined as never),
      () => assertObject(undefined as never, undefined as never, undefined as never),
      () => assertFunction(5, 7 as never, "options"),
      () => assertObject("x", {} as never, "options"),
    ]) {
      expect(call).toThrow(ValidationError);
    }
    // Without the list of keys it takes, every key of the options is one it does not take.
    expect(unknownKeyIssues([{}], undefined as never).map((issue) => issue.path)).toEqual([["0"]]);
    expect(unknownKeyIssues({ a: 1 }, 5 as never, 3 as never, 4 as never).map((issue) => issue.path)).toEqual([["a"]]);
  });
});

describe("number checks around Number.MAX_SAFE_INTEGER", () => {
  const store = new InMemoryEventStore();
  const checkpoints = new InMemoryCheckpointStore();
  /** The position, version and count checks a caller meets, each given `value`; resolves to the refusal's text. */
  const checks: Record<string, (value: number) => Promise<unknown>> = {
    "readStream fromVersion": (value) => drain(store.readStream("S-1", { fromVersion: value })),
    "readStream maxCount": (value) => drain(store.readStream("S-1", { maxCount: value })),
    "readAll after": (value) => drain(store.readAll({ after: value })),
    "readAll maxCount": (value) => drain(store.readAll({ maxCount: value })),
    expectedVersion: (value) => store.appendToStream("S-1", [{ type: "A", data: {} }], { expectedVersion: value }),
    "checkpoint position": (value) => checkpoints.store("c", value),
  };
  const refusal = (check: (value: number) => Promise<unknown>, value: number) =>
    // readStream and readAll refuse their options as they are called, before a generator exists.
    Promise.resolve(value)
      .then(check)
      .then(
        () => undefined,
        (error: unknown) =>
          isValidationError(error) ? JSON.stringify(error.issues) : `not a ValidationError: ${error}`,
      );
  const past = fc.oneof(
    fc.integer({ min: 1, max: 2 ** 20 }).map((above) => Number.MAX_SAFE_INTEGER + above * 2),
    fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 60, 1e300, Number.MAX_VALUE),
  );
  // Doubles from 2^52 up are all integers: the non-integers nearest the bound lie below 2^52.
  const wrong = fc
    .oneof(fc.double({ min: 2 ** 51, max: 2 ** 52, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true }))
    .filter((value) => !Number.isInteger(value) || value < 0);
  const safe = fc.integer({ min: Number.MAX_SAFE_INTEGER - 2 ** 20, max: Number.MAX_SAFE_INTEGER });

  test("a value past it is refused saying so: 2^53 is a non-negative integer, and 'must be a non-negative integer, got 9007199254740992' read as a contradiction", async () => {
    await fc.assert(
      fc.asyncProperty(past, async (value) => {
        for (const [name, check] of Object.entries(checks)) {
          const text = await refusal(check, value);
          expect({ name, text }).toEqual({
            name,
            text: expect.stringContaining(`got ${value}, over Number.MAX_SAFE_INTEGER`),
          });
        }
      }),
      { numRuns: 50 },
    );
  });

  test("below it, a non-integer or a negative number is refused without mention of the bound; an integer up to it is taken", async () => {
    await fc.assert(
      fc.asyncProperty(wrong, safe, async (value, integer) => {
        for (const [name, check] of Object.entries(checks)) {
          const text = await refusal(check, value);
          expect({ name, text }).toEqual({ name, text: expect.stringContaining(`got ${value}`) });
          expect(text).not.toContain("MAX_SAFE_INTEGER");
        }
        for (const name of ["readAll after", "readStream fromVersion", "checkpoint position"]) {
          expect({ name, text: await refusal(checks[name] as (value: number) => Promise<unknown>, integer) }).toEqual({
            name,
            text: undefined,
          });
        }
      }),
      { numRuns: 50 },
    );
  });
});

async function drain(events: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of events);
}
