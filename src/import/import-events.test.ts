import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { isAbortedError, isValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { isUlid, ulidTimestamp } from "../ids.js";
import { isImportConflictError } from "./errors.js";
import { importEvents } from "./import-events.js";
import { importedEventId } from "./imported-event-id.js";
import type { ImportBatch, ImportedEvent, ImportSource } from "./types.js";

/** A source over an array in "global" order: positions are array indexes from 1, as Emmett's global positions. */
function arraySource(events: readonly ImportedEvent[]): ImportSource & { reads: number } {
  return {
    name: "array",
    reads: 0,
    async *batches(position: number, limit: number): AsyncIterable<ImportBatch> {
      for (let i = position; i < events.length; i += limit) {
        this.reads++;
        const slice = events.slice(i, i + limit);
        yield { events: slice, position: i + slice.length };
      }
    },
    head: async () => events.length,
  };
}

/** `streams` streams of `perStream` events, interleaved round-robin as concurrent writers leave them. */
async function interleaved(streams: number, perStream: number): Promise<ImportedEvent[]> {
  const events: ImportedEvent[] = [];
  for (let version = 1; version <= perStream; version++) {
    for (let s = 0; s < streams; s++) {
      const timestamp = new Date(Date.UTC(2024, 0, 1) + version * 1000 + s).toISOString();
      events.push({
        streamId: `Cart-${s}`,
        version,
        id: await importedEventId("test", `${s}/${version}`, timestamp),
        type: version === 1 ? "CartOpened" : "ItemAdded",
        data: { s, version },
        metadata: { correlationId: `c-${s}` },
        timestamp,
      });
    }
  }
  return events;
}

async function all(store: InMemoryEventStore): Promise<EventEnvelope[]> {
  const read: EventEnvelope[] = [];
  for await (const event of store.readAll()) read.push(event);
  return read;
}

describe("importEvents", () => {
  test("keeps stream ids, versions, ids, types, data, metadata and times; saves the checkpoint per batch", async () => {
    const events = await interleaved(7, 30);
    const target = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const progress: number[] = [];
    const result = await importEvents({
      source: arraySource(events),
      target,
      checkpoints,
      batchSize: 50,
      onProgress: (p) => progress.push(p.position),
    });
    expect(result).toMatchObject({ read: 210, imported: 210, skipped: 0, streams: 7, position: 210 });
    expect(progress).toEqual([50, 100, 150, 200, 210]);
    expect(await checkpoints.load("import:array")).toBe(210);
    const stored = await all(target);
    expect(stored).toHaveLength(210);
    const byId = new Map(stored.map((e) => [e.id, e]));
    for (const event of events) {
      expect(byId.get(event.id)).toMatchObject({
        streamId: event.streamId,
        version: event.version,
        type: event.type,
        data: event.data,
        metadata: event.metadata,
        timestamp: event.timestamp,
      });
    }
    // Within a stream the feed order is the version order.
    for (let s = 0; s < 7; s++) {
      const versions = stored.filter((e) => e.streamId === `Cart-${s}`).map((e) => e.version);
      expect(versions).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
  });

  test("a re-run continues from the checkpoint; --restart re-reads everything and writes nothing twice", async () => {
    const events = await interleaved(3, 10);
    const target = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await importEvents({ source: arraySource(events), target, checkpoints, batchSize: 7 });
    const again = arraySource(events);
    expect(await importEvents({ source: again, target, checkpoints, batchSize: 7 })).toMatchObject({
      read: 0,
      imported: 0,
    });
    expect(again.reads).toBe(0);
    const restarted = await importEvents({ source: arraySource(events), target, checkpoints, restart: true });
    expect(restarted).toMatchObject({ read: 30, imported: 0, skipped: 30 });
    expect(await all(target)).toHaveLength(30);
  });

  test("an interrupted import resumes after its last whole batch; a half-stored batch is recognised", async () => {
    const events = await interleaved(5, 40);
    const target = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const controller = new AbortController();
    const first = importEvents({
      source: arraySource(events),
      target,
      checkpoints,
      batchSize: 25,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.position >= 75) controller.abort(new Error("stop"));
      },
    });
    expect(
      await first.then(
        () => undefined,
        (error) => isAbortedError(error),
      ),
    ).toBe(true);
    expect(await checkpoints.load("import:array")).toBe(75);
    // A crash after some streams of the next batch committed, before its checkpoint: store them now.
    for (const event of events.slice(75, 90).filter((e) => e.streamId === "Cart-1")) {
      const { id, type, data, metadata, timestamp } = event;
      await target.appendToStream(event.streamId, [{ id, type, data, metadata, timestamp }], {
        expectedVersion: event.version - 1,
      });
    }
    const resumed = await importEvents({ source: arraySource(events), target, checkpoints, batchSize: 25 });
    expect(resumed).toMatchObject({ read: 125, imported: 122, skipped: 3, position: 200 });
    const stored = await all(target);
    expect(stored).toHaveLength(200);
    expect(new Set(stored.map((e) => e.id)).size).toBe(200);
  });

  test("refuses a target stream holding other events, a target behind the source, and a source with gaps", async () => {
    const events = await interleaved(2, 3);
    const taken = new InMemoryEventStore();
    await taken.appendToStream("Cart-1", [{ type: "Other", data: null }]);
    const error = await importEvents({
      source: arraySource(events),
      target: taken,
      checkpoints: new InMemoryCheckpointStore(),
    }).catch((e) => e);
    expect(isImportConflictError(error)).toBe(true);
    expect(error.message).toContain('"Cart-1" at version 1: the target stream holds another event');

    const behind = await importEvents({
      source: arraySource(events.filter((e) => e.version > 1)),
      target: new InMemoryEventStore(),
      checkpoints: new InMemoryCheckpointStore(),
    }).catch((e) => e);
    expect(isImportConflictError(behind)).toBe(true);
    expect(behind.message).toContain("the target stream is at version 0");

    const gap = await importEvents({
      source: arraySource(events.filter((e) => e.version !== 2)),
      target: new InMemoryEventStore(),
      checkpoints: new InMemoryCheckpointStore(),
    }).catch((e) => e);
    expect(isImportConflictError(gap)).toBe(true);
    expect(gap.message).toContain("version 3 next to 1");
  });

  test("into a store with an eventRegistry, events are stored at schema version 1 and read upcast", async () => {
    // What a source stored names no schema version: it is its type's first, not the registry's current one.
    const registry = eventRegistry()
      .upcast("CartOpened", 1, (data: { s: number }) => ({ ...data, currency: "EUR" }))
      .schema("CartOpened", 2, v.object({ s: v.number(), version: v.number(), currency: v.string() }));
    const events = await interleaved(2, 2);
    const pinned = { ...(events[3] as ImportedEvent), metadata: { schemaVersion: 1, tenant: "acme" } };
    const target = new InMemoryEventStore({ eventRegistry: registry });
    const result = await importEvents({
      source: arraySource([...events.slice(0, 3), pinned]),
      target,
      checkpoints: new InMemoryCheckpointStore(),
    });
    expect(result).toMatchObject({ imported: 4, skipped: 0 });
    const raw: EventEnvelope[] = [];
    for await (const event of target.readAll({ raw: true })) raw.push(event);
    expect(raw.map((e) => e.metadata)).toEqual([
      { correlationId: "c-0", schemaVersion: 1 },
      { correlationId: "c-0", schemaVersion: 1 },
      { correlationId: "c-1", schemaVersion: 1 },
      { schemaVersion: 1, tenant: "acme" },
    ]);
    const opened = (await all(target)).filter((e) => e.type === "CartOpened");
    expect(opened.map((e) => [e.metadata.schemaVersion, e.data])).toEqual([
      [2, { s: 0, version: 1, currency: "EUR" }],
      [2, { s: 1, version: 1, currency: "EUR" }],
    ]);
  });

  test("a source event whose version is not an integer from 1 is refused; nothing of its batch is written (property)", async () => {
    const [good] = await interleaved(1, 1);
    const badVersion = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double().filter((v) => !Number.isSafeInteger(v)),
      fc.constantFrom("1", "2", null, undefined, 2 ** 53),
    );
    await fc.assert(
      fc.asyncProperty(badVersion, async (version) => {
        const odd = { ...(good as ImportedEvent), streamId: "Odd-1", version: version as number };
        const target = new InMemoryEventStore();
        const checkpoints = new InMemoryCheckpointStore();
        const error = await importEvents({
          source: arraySource([good as ImportedEvent, odd]),
          target,
          checkpoints,
        }).catch((e) => e);
        expect([error.code, error.message]).toEqual([
          "VALIDATION_FAILED",
          expect.stringContaining(`of stream "Odd-1" has version`),
        ]);
        expect(await all(target)).toEqual([]);
        expect(await checkpoints.load("import:array")).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });

  test("bad batch sizes and concurrency are refused before anything is read", async () => {
    const source = arraySource(await interleaved(1, 1));
    for (const bad of [{ batchSize: 0 }, { batchSize: 10_001 }, { concurrency: 0 }, { batchSize: 1.5 }]) {
      const error = await importEvents({
        source,
        target: new InMemoryEventStore(),
        checkpoints: new InMemoryCheckpointStore(),
        ...bad,
      }).catch((e) => e);
      expect(error.code).toBe("VALIDATION_FAILED");
    }
    expect(source.reads).toBe(0);
  });

  test("a source event whose metadata the target refuses names its stream and version", async () => {
    const events = await interleaved(3, 4);
    const at = events.findIndex((event) => event.streamId === "Cart-1" && event.version === 3);
    const bad = events[at] as ImportedEvent;
    // Emmett's and Castore's metadata is free-form: a numeric correlationId is stored there as it came.
    events[at] = { ...bad, metadata: { correlationId: 42 } as never };
    const error = await importEvents({
      source: arraySource(events),
      target: new InMemoryEventStore(),
      checkpoints: new InMemoryCheckpointStore(),
    }).catch((e) => e);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(
      'Cannot import stream "Cart-1": the target refuses its events at these versions: 3.metadata.correlationId: correlationId must be a string',
    );
    expect(error.issues).toEqual([
      { path: [3, "metadata", "correlationId"], message: "correlationId must be a string" },
    ]);
  });

  test("options that are missing, misspelt or of the wrong kind are a ValidationError naming them, before anything is read", async () => {
    const source = arraySource(await interleaved(1, 1));
    const target = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const cases: [unknown, string][] = [
      [undefined, ""],
      ["import", ""],
      [{ target, checkpoints }, "source"],
      [{ source: { name: "x" }, target, checkpoints }, "source"],
      [{ source, checkpoints }, "target"],
      [{ source, target: {}, checkpoints }, "target"],
      [{ source, target }, "checkpoints"],
      [{ source, target, checkpoints, restrat: true }, "restrat"],
      [{ source, target, checkpoints, restart: "yes" }, "restart"],
      [{ source, target, checkpoints, checkpointId: 7 }, "checkpointId"],
      [{ source, target, checkpoints, signal: "stop" }, "signal"],
      [{ source, target, checkpoints, onProgress: 1 }, "onProgress"],
      // Options whose keys a Proxy trap refuses to list: refused before a field is read.
      [
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error("a trap of the caller's");
            },
            get: () => {
              throw new Error("a trap of the caller's");
            },
          },
        ),
        "",
      ],
    ];
    for (const [options, path] of cases) {
      const error = await importEvents(options as Parameters<typeof importEvents>[0]).catch((e) => e);
      expect(isValidationError(error)).toBe(true);
      expect(error.issues.map((issue: { path: unknown[] }) => issue.path.join("."))).toContain(path);
    }
    expect(source.reads).toBe(0);
    expect(await target.getLastGlobalPosition()).toBe(0);
  });
});

describe("importedEventId", () => {
  test("a ULID with the event's time, the same for the same source event, another for another (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.integer({ min: 0, max: 253_402_300_799_999 }),
        async (source, key, otherKey, ms) => {
          const timestamp = new Date(ms).toISOString();
          const id = await importedEventId(source, key, timestamp);
          expect(isUlid(id)).toBe(true);
          expect(id).toBe(id.toUpperCase());
          expect(ulidTimestamp(id).getTime()).toBe(ms);
          expect(await importedEventId(source, key, timestamp)).toBe(id);
          if (otherKey !== key) expect(await importedEventId(source, otherKey, timestamp)).not.toBe(id);
        },
      ),
    );
  });
});
