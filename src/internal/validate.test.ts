import { describe, expect, test } from "bun:test";
import { AggregateRoot } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
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
