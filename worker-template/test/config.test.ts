/**
 * `storeOpener`: each entry opens only its own store, and every way a deployment can be wrong is a
 * ConfigurationError (a 500 or 503 for the client, the reason in the log), never the adapter's own
 * error, which the routes would answer as the client's fault. No store is touched: the openers here
 * return a stand-in, or throw as an adapter refusing its options does.
 */
import { expect, test } from "bun:test";
import { InMemoryEventStore, ValidationError } from "../../src/index.js";
import { ConfigurationError, type OpenedStore, type StoreOpener, storeOpener } from "../src/config.ts";

const opened: OpenedStore = { store: new InMemoryEventStore(), close: async () => {} };

test("an unset EVENT_STORE means the entry's own store; naming it opens it too", () => {
  const open = storeOpener("dynamodb", () => opened);
  expect(open({})).toBe(opened);
  expect(open({ EVENT_STORE: "dynamodb" })).toBe(opened);
});

test("an EVENT_STORE naming another store (or none the template has) is refused before anything opens", () => {
  let calls = 0;
  const open = storeOpener("d1", () => {
    calls++;
    return opened;
  });
  for (const named of ["postgres", "dynamodb", "D1", "", "x".repeat(100)]) {
    expect(() => open({ EVENT_STORE: named })).toThrow(ConfigurationError);
    expect(() => open({ EVENT_STORE: named })).toThrow(`EVENT_STORE is "${named.slice(0, 32)}", but this entry`);
  }
  expect(calls).toBe(0);
});

test("the refusal names the deploy command of the store EVENT_STORE names, or the values it may take", () => {
  const messageOf = (open: StoreOpener, named: string): string => {
    try {
      open({ EVENT_STORE: named });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`EVENT_STORE "${named}" was not refused`);
  };
  const d1 = storeOpener("d1", () => opened);
  const dynamodb = storeOpener("dynamodb", () => opened);
  expect(messageOf(d1, "postgres")).toContain("`wrangler deploy --env postgres`");
  expect(messageOf(d1, "dynamodb")).toContain("`wrangler deploy --env dynamodb`");
  expect(messageOf(dynamodb, "d1")).toContain('`wrangler deploy --env=""`');
  for (const named of ["D1", "mysql", ""]) {
    const message = messageOf(d1, named);
    expect(message).toContain('EVENT_STORE must be "d1", "dynamodb" or "postgres"');
    expect(message).not.toContain("wrangler deploy --env");
  }
});

test("a store refusing its options becomes a ConfigurationError carrying it as the cause", () => {
  const refusal = new ValidationError("Invalid DynamoDB client configuration");
  const open = storeOpener("dynamodb", () => {
    throw refusal;
  });
  let thrown: unknown;
  try {
    open({});
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigurationError);
  expect((thrown as Error).message).toBe("the dynamodb event store is misconfigured");
  expect((thrown as Error).cause).toBe(refusal);
});

test("the opener's own ConfigurationError passes through as it is", () => {
  const missing = new ConfigurationError("DYNAMODB_TABLE is not set");
  const open = storeOpener("dynamodb", () => {
    throw missing;
  });
  expect(() => open({})).toThrow(missing);
});
