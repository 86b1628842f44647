import { describe, expect, test } from "bun:test";
import {
  ConcurrencyError,
  EventCorruptError,
  StreamDeletedError,
  StreamDeletionNotSupportedError,
  StreamNotFoundError,
} from "../../src/index.js";
import { fromWireError, toWireError } from "./object-wire.js";

/** What a Durable Object's error becomes on the caller's side: through JSON, as the wire carries it. */
const acrossTheWire = (error: unknown) => fromWireError(JSON.parse(JSON.stringify(toWireError(error, "readStream"))));

describe("Durable Object event store errors on the wire", () => {
  test("each comes back as the same class with the same fields and message", () => {
    for (const error of [
      new EventCorruptError("Order-1", 7, "its data is text that is not JSON"),
      new ConcurrencyError("Order-1", 2, 3),
      new StreamDeletedError("Order-1", "hard"),
      // What a deletion through the client meets: a stream that never was, a store without deletion.
      new StreamNotFoundError("Order-1"),
      new StreamDeletionNotSupportedError("SomeEventStore"),
    ]) {
      const rebuilt = acrossTheWire(error);
      expect(rebuilt).toBeInstanceOf(error.constructor as new (...args: never[]) => Error);
      expect({ ...rebuilt, message: rebuilt.message }).toEqual({ ...error, message: error.message });
    }
  });

  test("an error that is not ours comes back opaque", () => {
    const rebuilt = acrossTheWire(new Error("SELECT * FROM secret"));
    expect(rebuilt).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "INTERNAL" });
    expect(rebuilt.message).not.toContain("secret");
  });
});
