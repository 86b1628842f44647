import type { AnyAggregate, EventsOf } from "../aggregate/aggregate-root.js";
import { isAggregate } from "../aggregate/repository.js";
import { isRehydrationError, ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import { assertAppendableStream } from "../event-store/stream-deletion.js";
import {
  type DomainEvent,
  type EnvelopeOf,
  type EventEnvelope,
  type EventMetadata,
  type NewEvent,
  prepareEvents,
} from "../events/envelope.js";
import { assertFunction, kindOf, MAX_STREAM_ID_LENGTH, nameIssues } from "../internal/validate.js";
import { AssertionError, assertEqual, collect } from "./assert.js";

/**
 * Given-When-Then for aggregates: history in, one decision, the events it raised (or the error) out.
 * The history and the expected events are typed by the aggregate's event union, so a misspelt type
 * or wrong data is a compile error.
 *
 * @example
 * await aggregateSpec((id) => new Cart(id))
 *   .given([{ type: "ItemAdded", data: { sku: "A", quantity: 1 } }])
 *   .when((cart) => cart.checkOut())
 *   .thenEvents([{ type: "CheckedOut", data: {} }]);
 */
export function aggregateSpec<A extends AnyAggregate>(create: (id: string) => A, id = "spec-aggregate") {
  checkFunction(create, "create");
  return {
    given(history: readonly EventsOf<A>[] = []) {
      checkArray(history, "history");
      // The history is replayed before the decision, and a failure there is the test's setup failing:
      // never the error a thenThrows expects (the decision did not run).
      const build = () => {
        const aggregate = create(id);
        // As the repository refuses it: replaying into anything else failed with a TypeError of its own.
        if (!isAggregate(aggregate)) {
          throw invalid("create", `must return an aggregate (an AggregateRoot), got ${kindOf(aggregate)}`);
        }
        try {
          // Past events were stored: what no store appends (a Date, NaN, a BigInt) never reaches a handler.
          storable(history);
        } catch (error) {
          throw new AssertionError(
            `the given history holds events no event store would have stored, so the decision never ran: ${describeError(error)}`,
            { cause: error },
          );
        }
        try {
          aggregate.rehydrate(history.map((event, i) => envelopeFor(event, id, i + 1)));
        } catch (error) {
          // A handler's own error is the RehydrationError's cause: say it too, it is what the test needs.
          const handler = isRehydrationError(error) ? `, because ${describeError(error.cause)}` : "";
          throw new AssertionError(
            `the given history could not be replayed, so the decision never ran: ${describeError(error)}${handler}`,
            { cause: error },
          );
        }
        return aggregate;
      };
      return {
        when(decide: (aggregate: A) => unknown) {
          checkFunction(decide, "decide");
          const act = async () => {
            const aggregate = build();
            await decide(aggregate);
            return aggregate;
          };
          const expectDecisionToThrow = async (expected: ErrorExpectation) => {
            checkExpectation(expected);
            const aggregate = build();
            return expectThrow(() => decide(aggregate), expected, "the decision");
          };
          return {
            /** The decision raised exactly these events (type and data), in order. */
            async thenEvents(expected: readonly EventsOf<A>[]): Promise<A> {
              checkArray(expected, "expected");
              const aggregate = await act();
              assertEqual(
                aggregate.uncommittedEvents.map((e: DomainEvent) => ({ type: e.type, data: e.data })),
                expected.map((e) => ({ type: e.type, data: e.data })),
                "raised events",
              );
              // The events are right, but would the save take them? A store refuses what is not JSON.
              try {
                storable(aggregate.uncommittedEvents);
              } catch (error) {
                throw new AssertionError(
                  `the decision raised the expected events, but no event store would append them: ${describeError(error)}`,
                  { cause: error },
                );
              }
              return aggregate;
            },
            /** The decision threw: an error with this code, of this class, or matching this predicate. */
            thenThrows: expectDecisionToThrow,
          };
        },
      };
    },
  };
}

/** An event to seed a stream with: one of the union, optionally with an id and metadata. */
export type GivenEvent<E extends DomainEvent> = E & { readonly id?: string; readonly metadata?: EventMetadata };

/**
 * Given-When-Then for command handlers against a real store: seed streams, run the command, then
 * check what was appended to a stream (only the events the command added). Give the event union
 * (`commandSpec<CartEvent>(store)`, or `commandSpec<EventsOf<Cart>>(store)`) to type the seeded and
 * expected events.
 */
export function commandSpec<E extends DomainEvent = DomainEvent>(store: EventStore) {
  if (typeof (store as { appendToStream?: unknown } | null)?.appendToStream !== "function") {
    throw invalid("store", `must be an event store, got ${kindOf(store)}`);
  }
  return {
    given(streams: Readonly<Record<string, readonly GivenEvent<E>[]>> = {}) {
      if (typeof streams !== "object" || streams === null || Array.isArray(streams)) {
        throw invalid("streams", `must be an object of stream ids to events, got ${kindOf(streams)}`);
      }
      checkStreams(streams);
      const seed = async () => {
        for (const [streamId, events] of Object.entries(streams)) await store.appendToStream(streamId, events);
      };
      return {
        when(action: () => unknown) {
          checkFunction(action, "action");
          return {
            async thenEvents(streamId: string, expected: readonly E[]): Promise<EnvelopeOf<E>[]> {
              checkArray(expected, "expected");
              await seed();
              const before = await store.getStreamVersion(streamId);
              await action();
              const added = await collect(store.readStream<EnvelopeOf<E>>(streamId, { fromVersion: before + 1 }));
              assertEqual(
                added.map((e) => ({ type: e.type, data: e.data })),
                expected.map((e) => ({ type: e.type, data: e.data })),
                `events appended to ${streamId}`,
              );
              return added;
            },
            async thenThrows(expected: ErrorExpectation) {
              checkExpectation(expected);
              await seed();
              return expectThrow(action, expected, "the command");
            },
          };
        },
      };
    },
  };
}

/** Refuses, as every append does (`ValidationError` naming the place), events that are not plain JSON. */
function storable(events: readonly NewEvent[]): void {
  prepareEvents(events, undefined, new Date(0));
}

function envelopeFor(event: DomainEvent, streamId: string, version: number): EventEnvelope {
  return {
    id: `given-${version}`,
    type: event.type,
    data: event.data,
    streamId,
    version,
    timestamp: new Date(0).toISOString(),
    metadata: {},
  };
}

/** An error code, an error class, or a predicate. */
export type ErrorExpectation = string | (abstract new (...args: never[]) => unknown) | ((error: unknown) => boolean);

async function expectThrow(action: () => unknown, expected: ErrorExpectation, what: string): Promise<unknown> {
  checkExpectation(expected);
  try {
    await action();
  } catch (error) {
    if (matches(error, expected)) return error;
    throw new AssertionError(
      `expected ${what} to throw ${describeExpectation(expected)}, but it threw ${describeError(error)}`,
    );
  }
  throw new AssertionError(`expected ${what} to throw ${describeExpectation(expected)}, but it succeeded`);
}

function describeExpectation(expected: ErrorExpectation): string {
  if (typeof expected === "string") return `an error with code ${expected}`;
  if (isClass(expected)) return `a ${expected.name}`;
  return "an error matching the predicate";
}

/** The class, the code (what a string expectation compares) and the message of what was thrown. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `a non-error value: ${String(error)}`;
  const code = (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? " (no code)" : ` with code ${String(code)}`}: ${error.message}`;
}

function matches(error: unknown, expected: ErrorExpectation): boolean {
  if (typeof expected === "string") return (error as { code?: unknown })?.code === expected;
  if (isClass(expected)) return error instanceof (expected as abstract new () => Error);
  return (expected as (error: unknown) => boolean)(error);
}

/**
 * An error class, not a predicate: one that extends Error, or any `class` (the type lets through one
 * shaped like an Error without extending it, and calling a class as a predicate is a TypeError).
 */
function isClass(expected: Exclude<ErrorExpectation, string>): boolean {
  return (
    expected === Error ||
    expected.prototype instanceof Error ||
    /^class\b/.test(Function.prototype.toString.call(expected))
  );
}

/** A misused helper is a bad argument, refused before anything runs: never a TypeError from inside it. */
function invalid(path: string | readonly (string | number)[], message: string): ValidationError {
  return new ValidationError("Invalid Given-When-Then argument", [
    { path: typeof path === "string" ? [path] : [...path], message },
  ]);
}

function checkFunction(value: unknown, path: string): void {
  assertFunction(value, path, "Given-When-Then argument");
}

/** An array of `{ type, data }` events: each one an object with a non-empty string type. */
function checkArray(value: unknown, path: string): void {
  if (!Array.isArray(value)) throw invalid(path, `must be an array of events, got ${kindOf(value)}`);
  for (let i = 0; i < value.length; i++) {
    const event: unknown = value[i];
    if (typeof event !== "object" || event === null || Array.isArray(event)) {
      throw invalid([path, i], `must be an event ({ type, data }), got ${kindOf(event)}`);
    }
    const type = (event as { type?: unknown }).type;
    if (typeof type !== "string" || type === "") {
      throw invalid([path, i, "type"], `must be a non-empty string, got ${kindOf(type)}`);
    }
  }
}

/**
 * Each seeded stream's id and events, as the store's append checks them: refused at `given`, the call
 * that is wrong, not by the seeding at `then` (with the store's error, after other streams were seeded).
 */
function checkStreams(streams: Readonly<Record<string, readonly unknown[]>>): void {
  for (const [streamId, events] of Object.entries(streams)) {
    const idIssues = nameIssues(streamId, "stream id", MAX_STREAM_ID_LENGTH);
    if (idIssues.length > 0) throw invalid(["streams", streamId], idIssues[0]?.message ?? "is not a stream id");
    try {
      // `$streams`, which only deleteStream, restoreStream and truncateStream write.
      assertAppendableStream(streamId);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw invalid(["streams", streamId], error.issues[0]?.message ?? error.message);
    }
    try {
      prepareEvents(events as readonly NewEvent[], undefined);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const issue = error.issues[0];
      throw invalid(["streams", streamId, ...(issue?.path ?? [])], issue?.message ?? error.message);
    }
  }
}

function checkExpectation(expected: unknown): void {
  if ((typeof expected === "string" && expected !== "") || typeof expected === "function") return;
  throw invalid("expected", `must be an error code, an error class or a predicate, got ${kindOf(expected)}`);
}
