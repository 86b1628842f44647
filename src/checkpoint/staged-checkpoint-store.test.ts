import { describe, expect, test } from "bun:test";
import { isConcurrencyError, isValidationError } from "../errors.js";
import { InMemoryCheckpointStore } from "./in-memory-checkpoint-store.js";
import { type StagedCheckpoint, StagedCheckpointStore } from "./staged-checkpoint-store.js";

async function setup() {
  const committed = new InMemoryCheckpointStore();
  await committed.store("p", 5);
  const staged = new Map<string, StagedCheckpoint>();
  return { committed, staged, store: new StagedCheckpointStore(committed, staged, "Test") };
}

describe("StagedCheckpointStore", () => {
  test("reads the committed position until the transaction stages one, then the staged one", async () => {
    const { committed, staged, store } = await setup();
    expect(await store.load("p")).toBe(5);
    await store.store("p", 9, { expected: 5 });
    expect(await store.load("p")).toBe(9);
    expect(staged.get("p")).toEqual({ position: 9, expected: 5 });
    expect(await committed.load("p")).toBe(5);
  });

  test("a second write keeps the condition of the first: what was committed when the transaction began", async () => {
    const { staged, store } = await setup();
    await store.store("p", 9, { expected: 5 });
    await store.store("p", 12, { expected: 9 });
    expect(staged.get("p")).toEqual({ position: 12, expected: 5 });
  });

  test("a write expecting another position than the staged one is a ConcurrencyError; nothing changes", async () => {
    const { staged, store } = await setup();
    await store.store("p", 9, { expected: 5 });
    const error = await store.store("p", 12, { expected: 7 }).catch((e: unknown) => e);
    expect(isConcurrencyError(error)).toBe(true);
    expect(staged.get("p")).toEqual({ position: 9, expected: 5 });
  });

  test("deleting is refused with a ValidationError naming the backend", async () => {
    const { committed, store } = await setup();
    const error = await store.delete("p").catch((e: unknown) => e);
    expect(isValidationError(error)).toBe(true);
    expect((error as Error).message).toContain("inside a Test read-model transaction");
    expect(await committed.load("p")).toBe(5);
  });
});
