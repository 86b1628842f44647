import { expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { holdCommitIn } from "./hold-commit.js";

/** A callback transaction that records the appends run in it and whether it committed. */
function fakeTransactions() {
  const appended: string[] = [];
  const outcomes: string[] = [];
  const withTransaction = async (work: (tx: { appendToStream: (id: string) => Promise<void> }) => Promise<void>) => {
    try {
      await work({ appendToStream: async (id) => void appended.push(id) });
      outcomes.push("committed");
    } catch {
      outcomes.push("rolled back");
    }
  };
  return { appended, outcomes, withTransaction };
}

test("appends run in the held transaction, which commits on commit()", async () => {
  const fake = fakeTransactions();
  const held = await holdCommitIn(fake.withTransaction);
  await held.append("s-1", []);
  expect(fake.outcomes).toEqual([]);
  await held.commit();
  expect({ appended: fake.appended, outcomes: fake.outcomes }).toEqual({ appended: ["s-1"], outcomes: ["committed"] });
});

test("an append after the commit ended is refused with a ValidationError, and nothing runs", async () => {
  for (const end of ["commit", "abandon"] as const) {
    const fake = fakeTransactions();
    const held = await holdCommitIn(fake.withTransaction);
    await held[end]();
    await expect(held.append("late", [])).rejects.toBeInstanceOf(ValidationError);
    expect(fake.appended).toEqual([]);
  }
});

test("a withTransaction that is not a function is refused with a ValidationError", async () => {
  await expect(holdCommitIn(undefined as never)).rejects.toBeInstanceOf(ValidationError);
});
