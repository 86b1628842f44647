import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AggregateRoot } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { isValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { retryOnConcurrency } from "../messaging/middleware.js";
import { kindOf, objectIssues, unknownKeyIssues } from "./validate.js";

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
