import { describe, expect, test } from "bun:test";
import { decodeTime, isValid } from "ulidx";
import { createUlidGenerator } from "./ulid-generator.js";

describe("createUlidGenerator", () => {
  test("encodes the time as ulidx decodes it, and makes valid ULIDs", () => {
    const nextUlid = createUlidGenerator();
    for (const time of [0, 1, 31, 32, 1_700_000_000_000, 2 ** 48 - 1]) {
      const id = nextUlid(time);
      expect(isValid(id)).toBe(true);
      expect(decodeTime(id)).toBe(time);
    }
  });

  test("is strictly increasing within one millisecond and when the clock steps back", () => {
    const nextUlid = createUlidGenerator();
    const base = 2 ** 47 + 1234;
    const ids = [nextUlid(base + 1), nextUlid(base + 1), nextUlid(base + 1), nextUlid(base), nextUlid(base - 5000)];
    for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
    expect(new Set(ids.map((id) => decodeTime(id)))).toEqual(new Set([base + 1]));
  });

  test("the random part carries across digits when incremented", () => {
    const nextUlid = createUlidGenerator();
    const time = 2 ** 47 + 99_999;
    let previous = nextUlid(time);
    for (let i = 0; i < 5000; i++) {
      const id = nextUlid(time);
      expect(id > previous).toBe(true);
      expect(id.length).toBe(26);
      previous = id;
    }
  });

  test("generators keep their own state: one's clock does not move another's ids", () => {
    const future = createUlidGenerator();
    const present = createUlidGenerator();
    future(2 ** 47);
    expect(decodeTime(present(1_700_000_000_000))).toBe(1_700_000_000_000);
  });

  test("random parts of new milliseconds differ and use the whole alphabet", () => {
    const nextUlid = createUlidGenerator();
    const seen = new Set<string>();
    const characters = new Set<string>();
    const start = 2 ** 47 + 500_000;
    for (let i = 0; i < 2000; i++) {
      const random = nextUlid(start + i).slice(10);
      seen.add(random);
      for (const c of random) characters.add(c);
    }
    expect(seen.size).toBe(2000);
    expect(characters.size).toBe(32);
  });
});
