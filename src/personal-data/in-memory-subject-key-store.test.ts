import { describe, expect, test } from "bun:test";
import {
  ErrorCode,
  InMemoryEventStore,
  InMemorySubjectKeyStore,
  isPersonalDataError,
  personalData,
  type SubjectKeyLookup,
} from "../index.js";
import { registerContract, StoreView, subjectKeyStoreContract } from "../testing/index.js";

const shared = new InMemorySubjectKeyStore();
registerContract(
  subjectKeyStoreContract({ name: "InMemorySubjectKeyStore contract", create: (settings) => shared.sharing(settings) }),
  { describe, test },
);

describe("subject key cache", () => {
  test("holds at most cacheSize keys, dropping the least recently used", async () => {
    const store = new InMemorySubjectKeyStore({ cacheSize: 3 });
    for (const subject of ["a", "b", "c", "d", "e"]) await store.createOrGet(subject);
    expect(store.cachedKeys).toBe(3);
  });

  test("a lookup makes a key the most recently used: a full cache drops the one used longest ago", async () => {
    const reads: string[] = [];
    class Counted extends InMemorySubjectKeyStore {
      protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
        reads.push(subjectId);
        return super.readKey(subjectId);
      }
    }
    const store = new Counted({ cacheSize: 2 });
    await store.createOrGet("a");
    await store.createOrGet("b");
    await store.get("a"); // cached: a is now used more recently than b
    await store.createOrGet("c"); // drops b
    await store.get("a");
    await store.get("c");
    expect(reads).toEqual([]);
    await store.get("b");
    expect(reads).toEqual(["b"]);
  });

  test("cacheSize 0 caches nothing, and the keys still work", async () => {
    const store = new InMemorySubjectKeyStore({ cacheSize: 0 });
    await store.createOrGet("a");
    expect(store.cachedKeys).toBe(0);
    expect((await store.get("a")).status).toBe("active");
  });

  test("a lookup in flight while a delete runs does not put the deleted key back in the cache (a store slowed by hand)", async () => {
    let hold = false;
    let release: () => void = () => undefined;
    class SlowReads extends InMemorySubjectKeyStore {
      protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
        const lookup = await super.readKey(subjectId);
        if (hold) await new Promise<void>((resolve) => (release = resolve));
        return lookup;
      }
    }
    const clock = { now: 0 };
    const store = new SlowReads({ cacheTtlMs: 1000, now: () => clock.now });
    await store.createOrGet("s");
    clock.now += 1000; // the cached key has aged out: the next get reads the backend
    hold = true;
    const inFlight = store.get("s");
    await new Promise((resolve) => setTimeout(resolve, 0));
    await store.delete("s");
    hold = false;
    release();
    expect((await inFlight).status).toBe("active"); // it read before the delete
    expect((await store.get("s")).status).toBe("erased");
    await expect(store.createOrGet("s")).rejects.toMatchObject({ code: ErrorCode.SubjectErased });
  });

  test("concurrent lookups and creations for one subject share one backend call; none started after a delete joins one from before it", async () => {
    const calls = { read: 0, insert: 0 };
    class Counted extends InMemorySubjectKeyStore {
      protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
        calls.read++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return super.readKey(subjectId);
      }
      protected override async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
        calls.insert++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return super.insertKey(subjectId);
      }
    }
    const store = new Counted({ cacheSize: 0 });
    const keys = await Promise.all(Array.from({ length: 10 }, () => store.createOrGet("a")));
    expect(calls.insert).toBe(1);
    expect(new Set(keys).size).toBe(1);
    await Promise.all([store.createOrGet("b"), store.createOrGet("c")]);
    expect(calls.insert).toBe(3); // one each: subjects are not shared

    const lookups = await Promise.all(Array.from({ length: 10 }, () => store.get("a")));
    expect(calls.read).toBe(1);
    expect(lookups.every((lookup) => lookup.status === "active")).toBe(true);

    const before = store.get("a");
    await store.delete("a");
    // Still under way when the delete ended: the next lookup asks the backend itself.
    expect((await store.get("a")).status).toBe("erased");
    expect(calls.read).toBe(3);
    await before;

    // An append of 10 events of a new subject makes its key once.
    const personal = personalData({ keys: store, events: { T: { fields: ["email"], subject: () => "d" } } });
    await new StoreView(new InMemoryEventStore(), { personalData: personal }).appendToStream(
      "S-1",
      Array.from({ length: 10 }, () => ({ type: "T", data: { email: "x@example.com" } })),
    );
    expect(calls.insert).toBe(4);
  });

  test("a delete while a read is under way: the page it has decrypted keeps its plaintext, every later page reads null", async () => {
    const keys = new InMemorySubjectKeyStore();
    const personal = personalData({ keys, events: { T: { fields: ["email"], subject: () => "s" } } });
    const store = new InMemoryEventStore({ personalData: personal });
    // Two of the in-memory store's 512-event pages, and some of a third.
    await store.appendToStream(
      "S-1",
      Array.from({ length: 1100 }, () => ({ type: "T", data: { email: "x@example.com" } })),
    );
    const emails: unknown[] = [];
    for await (const event of store.readStream("S-1")) {
      if (emails.length === 0) await keys.delete("s");
      emails.push((event.data as { email: unknown }).email);
    }
    expect(emails.slice(0, 512).every((email) => email === "x@example.com")).toBe(true);
    expect(emails.slice(512).every((email) => email === null)).toBe(true);
    expect(emails.length).toBe(1100);
  });

  test("options are checked", () => {
    expect(() => new InMemorySubjectKeyStore({ cacheSize: -1 })).toThrow(/cacheSize/);
    expect(() => new InMemorySubjectKeyStore({ cacheTtlMs: 0 })).toThrow(/cacheTtlMs/);
    expect(() => new InMemorySubjectKeyStore({ now: "soon" as never })).toThrow(/now/);
    // null options are the defaults, as undefined ones are (not a TypeError from reading them).
    expect(new InMemorySubjectKeyStore(null as never).cachedKeys).toBe(0);
  });

  test("a backend that throws something untyped fails closed with a PersonalDataError (a failing store made by hand)", async () => {
    class Broken extends InMemorySubjectKeyStore {
      protected override async insertKey(): Promise<SubjectKeyLookup> {
        throw new Error("disk on fire");
      }
    }
    const error = await new Broken().createOrGet("s").catch((e: unknown) => e);
    expect(isPersonalDataError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(ErrorCode.PersonalDataUnreadable);
    expect((error as { reason: string }).reason).toBe("key-store");
  });
});
