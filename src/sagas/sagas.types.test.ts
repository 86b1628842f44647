/** Type-level tests: handlers see narrowed events, and a process manager cannot go to an undeclared state. */
import { describe, expectTypeOf, test } from "bun:test";
import { defineSaga } from "./define-saga.js";
import { defineProcessManager, type ProcessState } from "./process-manager.js";

type DoorEvent =
  | { type: "Opened"; data: { doorId: string; by: string } }
  | { type: "Closed"; data: { doorId: string } }
  | { type: "Locked"; data: { doorId: string; code: number } };

describe("saga types", () => {
  test("each handler sees its own event's data; correlation per type too", () => {
    defineSaga<DoorEvent, { opens: number }>({
      name: "Door",
      startedBy: ["Opened"],
      handles: ["Closed"],
      correlate: {
        Opened: (event) => {
          expectTypeOf(event.data.by).toEqualTypeOf<string>();
          return event.data.doorId;
        },
        Closed: (event) => event.data.doorId,
      },
      initialState: { opens: 0 },
      on: {
        Opened: (state, event) => {
          expectTypeOf(event.data).toEqualTypeOf<{ doorId: string; by: string }>();
          return { opens: state.opens + 1 };
        },
        Closed: (state) => state,
      },
    });
    // Never called: only its compilation is under test.
    void (() =>
      defineSaga<DoorEvent, { opens: number }>({
        name: "Door",
        // @ts-expect-error a type the event union does not have
        startedBy: ["Slammed"],
        correlate: (event) => event.data.doorId,
        initialState: { opens: 0 },
        on: {},
      }));
    // Never called: only its compilation is under test.
    void (() =>
      defineSaga<DoorEvent, { opens: number }>({
        name: "Door",
        startedBy: ["Opened"],
        correlate: (event) => event.data.doorId,
        initialState: { opens: 0 },
        // @ts-expect-error a handler must return the state type (or nothing)
        on: { Opened: () => ({ closes: 1 }) },
      }));
  });

  test("a process manager's transitions go to declared states only", () => {
    const door = defineProcessManager<DoorEvent, "open" | "closed" | "locked", { code?: number }>({
      name: "DoorMachine",
      startedBy: ["Opened"],
      handles: ["Closed", "Locked"],
      correlate: (event) => event.data.doorId,
      states: ["open", "closed", "locked"],
      initial: "open",
      final: ["locked"],
      data: {},
      transitions: {
        open: { Closed: { to: "closed" } },
        closed: {
          Opened: { to: "open" },
          Locked: {
            to: "locked",
            guard: (_data, event) => {
              expectTypeOf(event.data.code).toEqualTypeOf<number>();
              return true;
            },
            action: (data, event) => ({ ...data, code: event.data.code }),
          },
        },
      },
      ignore: { locked: ["Opened", "Closed"] },
    });
    expectTypeOf(door.initialState).toEqualTypeOf<ProcessState<"open" | "closed" | "locked", { code?: number }>>();

    void (() =>
      defineProcessManager<DoorEvent, "open" | "closed", object>({
        name: "DoorMachine",
        startedBy: ["Opened"],
        correlate: (event) => event.data.doorId,
        states: ["open", "closed"],
        initial: "open",
        data: {},
        transitions: {
          // @ts-expect-error "ajar" is not a declared state
          open: { Closed: { to: "ajar" } },
        },
      }));
    void (() =>
      defineProcessManager<DoorEvent, "open" | "closed", object>({
        name: "DoorMachine",
        startedBy: ["Opened"],
        correlate: (event) => event.data.doorId,
        states: ["open", "closed"],
        // @ts-expect-error the initial state must be declared too
        initial: "ajar",
        data: {},
        transitions: {},
      }));
    void (() =>
      defineProcessManager<DoorEvent, "open" | "closed", object>({
        name: "DoorMachine",
        startedBy: ["Opened"],
        correlate: (event) => event.data.doorId,
        states: ["open", "closed"],
        initial: "open",
        data: {},
        transitions: {
          // @ts-expect-error transitions from an undeclared state
          ajar: { Closed: { to: "closed" } },
        },
      }));
  });
});
