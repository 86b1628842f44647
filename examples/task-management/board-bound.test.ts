/**
 * The board is one document per project: CreateTask refuses a task past MAX_TASKS, so that document
 * stays far under a store's limit. Unbounded, it outgrew a Durable Object's 2 MB at some 2,700 tasks,
 * its projection stopped, and every query answered 500 (found by an outside audit of the examples).
 */
import { expect, test } from "bun:test";
import { InMemoryEventStore, InMemoryReadModelStore, isValidationError, ProjectionRunner } from "@eventflows/core";
import { boardBuses, MAX_TASKS } from "./api.js";
import { type Board, boardProjection, EMPTY_BOARD } from "./board.js";

test("CreateTask refuses a task past MAX_TASKS with a ValidationError, and appends nothing", async () => {
  const eventStore = new InMemoryEventStore();
  const readModels = new InMemoryReadModelStore();
  const board = new ProjectionRunner({ projection: boardProjection, eventStore, readModels });
  const { commands } = boardBuses({ eventStore, readModels, board });
  const ada = { metadata: { userId: "ada" } };
  await commands.execute("CreateTask", { title: "the first" }, ada);
  await board.catchUp();
  // A board at the bound, as MAX_TASKS creates would leave it.
  const card = { title: "t", status: "todo", assignee: null, version: 1 } as const;
  const tasks = Object.fromEntries(
    Array.from({ length: MAX_TASKS }, (_, n) => [`T${n}`, { ...card, taskId: `T${n}` }]),
  );
  await readModels.transaction((tx) =>
    tx.put("board", "board", { tasks, counts: { ...EMPTY_BOARD.counts, todo: MAX_TASKS } } satisfies Board),
  );
  const before = await eventStore.getLastGlobalPosition();
  const refused = await commands.execute("CreateTask", { title: "one too many" }, ada).catch((e: unknown) => e);
  expect(isValidationError(refused)).toBe(true);
  expect(await eventStore.getLastGlobalPosition()).toBe(before);
});

test("the bound holds with no query in between: the thousand-and-first create in a row is refused", async () => {
  const eventStore = new InMemoryEventStore();
  const readModels = new InMemoryReadModelStore();
  const board = new ProjectionRunner({ projection: boardProjection, eventStore, readModels });
  const { commands } = boardBuses({ eventStore, readModels, board });
  const ada = { metadata: { userId: "ada" } };
  for (let n = 0; n < MAX_TASKS; n++) await commands.execute("CreateTask", { title: `task ${n}` }, ada);
  const before = await eventStore.getLastGlobalPosition();
  const refused = await commands.execute("CreateTask", { title: "one too many" }, ada).catch((e: unknown) => e);
  expect(isValidationError(refused)).toBe(true);
  expect(await eventStore.getLastGlobalPosition()).toBe(before);
}, 60_000);
