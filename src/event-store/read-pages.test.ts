import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { EventEnvelope } from "../events/envelope.js";
import {
  checkedPages,
  type EventPages,
  eventsOf,
  mapPages,
  PageFailure,
  pagesFrom,
  pagesOf,
  type ReadObserver,
} from "./read-pages.js";

const envelope = (n: number): EventEnvelope => ({
  id: `id-${n}`,
  type: "Counted",
  streamId: "Counter-1",
  version: n,
  globalPosition: n,
  timestamp: "2026-01-01T00:00:00.000Z",
  data: { n },
  metadata: {},
});

/** Pages from arrays, recording whether the reader released them (return) before their end. */
function source(sizes: readonly number[]): { pages: EventPages; released: () => boolean; asked: () => number } {
  let released = false;
  let asked = 0;
  let next = 1;
  async function* generate(): EventPages {
    try {
      for (const size of sizes) {
        asked++;
        yield Array.from({ length: size }, () => envelope(next++));
      }
    } finally {
      released = true;
    }
  }
  return { pages: generate(), released: () => released, asked: () => asked };
}

async function drain(reader: AsyncIterable<EventEnvelope>): Promise<number[]> {
  const seen: number[] = [];
  for await (const event of reader) seen.push(event.version);
  return seen;
}

function recorder() {
  const calls: string[] = [];
  const observer: ReadObserver = {
    timed: true,
    start: () => calls.push("start"),
    end: (outcome, count) => calls.push(`${outcome}:${count}`),
  };
  return { observer, calls };
}

describe("reads as pages, flattened once", () => {
  test("any split into pages (empty ones too) reads as the events in order, and the observer hears start and end once (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 8 }), async (sizes) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        const { observer, calls } = recorder();
        expect(await drain(eventsOf(source(sizes).pages, observer))).toEqual(
          Array.from({ length: total }, (_, i) => i + 1),
        );
        expect(calls).toEqual(["start", `read:${total}`]);
      }),
    );
  });

  test("checkedPages refusing the k-th event: k-1 events read, the store's pages released, the error reported (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        async (sizes, pick) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const refused = 1 + (pick % total);
          const store = source(sizes);
          const { observer, calls } = recorder();
          const checked = checkedPages(store.pages, (event) => {
            if (event.version === refused) throw new Error("refused");
          });
          const seen: number[] = [];
          const reading = (async () => {
            for await (const event of eventsOf(checked, observer)) seen.push(event.version);
          })();
          await expect(reading).rejects.toThrow("refused");
          expect(seen).toEqual(Array.from({ length: refused - 1 }, (_, i) => i + 1));
          expect(store.released()).toBe(true);
          expect(calls).toEqual(["start", `error:${refused - 1}`]);
        },
      ),
    );
  });

  test("a reader that stops early releases the store's pages and reads no further page", async () => {
    const store = source([3, 3, 3]);
    const { observer, calls } = recorder();
    for await (const event of eventsOf(store.pages, observer)) if (event.version === 2) break;
    expect(store.released()).toBe(true);
    expect(store.asked()).toBe(1);
    expect(calls).toEqual(["start", "stopped:2"]);
  });

  test("a store that fails: the events before, then its error; the observer hears it", async () => {
    async function* failing(): EventPages {
      yield [envelope(1), envelope(2)];
      throw new Error("connection lost");
    }
    const { observer, calls } = recorder();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const event of eventsOf(failing(), observer)) seen.push(event.version);
    })();
    await expect(reading).rejects.toThrow("connection lost");
    expect(seen).toEqual([1, 2]);
    expect(calls).toEqual(["start", "error:2"]);
  });

  test("a read never started tells the observer nothing", async () => {
    const store = source([2]);
    const { observer, calls } = recorder();
    await eventsOf(store.pages, observer).return(undefined);
    expect(calls).toEqual([]);
  });

  test("pagesOf: an event reader as pages of one, released with it", async () => {
    const store = source([2, 1]);
    const pages = pagesOf(eventsOf(store.pages));
    const seen: number[][] = [];
    for await (const page of pages) seen.push(page.map((e) => e.version));
    expect(seen).toEqual([[1], [2], [3]]);
    const early = source([3]);
    for await (const _ of pagesOf(eventsOf(early.pages))) break;
    expect(early.released()).toBe(true);
  });

  test("pagesFrom: a page per call until undefined; a take that throws rejects once, then the pages are done", async () => {
    let calls = 0;
    const pages = pagesFrom(() => (++calls <= 2 ? [envelope(calls)] : undefined));
    const seen: number[] = [];
    for await (const page of pages) seen.push(...page.map((e) => e.version));
    expect(seen).toEqual([1, 2]);
    expect(await pages.next()).toEqual({ value: undefined, done: true });
    expect(calls).toBe(3);

    const failing = pagesFrom(() => {
      throw new Error("store gone");
    });
    await expect(failing.next()).rejects.toThrow("store gone");
    expect(await failing.next()).toEqual({ value: undefined, done: true });
    let taken = 0;
    const stopped = pagesFrom(() => [envelope(++taken)]);
    for await (const _ of stopped) break;
    expect(await stopped.next()).toEqual({ value: undefined, done: true });
    expect(taken).toBe(1);
  });

  test("mapPages: a map that fails midway hands out the events before, then releases the store and reports", async () => {
    const store = source([2, 3, 2]);
    const mapped = mapPages(store.pages, (page) => {
      const at = page.findIndex((e) => e.version === 4);
      return at < 0 ? page : new PageFailure(page.slice(0, at), new Error("bad event 4"));
    });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const event of eventsOf(mapped)) seen.push(event.version);
    })();
    await expect(reading).rejects.toThrow("bad event 4");
    expect(seen).toEqual([1, 2, 3]);
    expect(store.released()).toBe(true);
  });
});
