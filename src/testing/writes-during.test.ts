import { expect, test } from "bun:test";
import { writesDuring } from "./writes-during.js";

class Store {
  rows: string[] = [];
  write(row: string) {
    this.rows.push(row);
  }
  read() {
    return this.rows.length;
  }
}

test("writesDuring names the methods called, and leaves the instance as it was, even when the action throws", async () => {
  const store = new Store();
  const own = () => 7;
  const withOwn = Object.assign(new Store(), { read: own });
  expect(await writesDuring(store, ["write", "absent"], async () => store.write("a"))).toEqual(["write"]);
  expect(store.rows).toEqual(["a"]);
  expect(Object.hasOwn(store, "write")).toBe(false);
  expect(await writesDuring(store, ["write"], async () => store.read())).toEqual([]);
  const failing = writesDuring(withOwn, ["read"], async () => {
    withOwn.read();
    throw new Error("boom");
  });
  await expect(failing).rejects.toThrow("boom");
  expect(withOwn.read).toBe(own);
});
