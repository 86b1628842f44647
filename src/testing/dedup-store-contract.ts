import { type DedupStore, MAX_DEDUP_ID_LENGTH } from "../dedup/dedup-store.js";
import { ErrorCode } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import { ulid } from "../ids.js";
import { assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { NO_TIME_READINGS } from "./no-time-readings.js";

/** What a store under test is made with: its clock and its TTL must be these. */
export interface DedupStoreContractSettings {
  readonly now: () => number;
  readonly ttlMs: number;
}

export interface DedupStoreContractOptions {
  readonly name: string;
  readonly create: (settings: DedupStoreContractSettings) => DedupStore | Promise<DedupStore>;
}

const TTL_MS = 60_000;

/**
 * The behaviour every DedupStore must have, shared or not. Ids are fresh ULIDs per case, so a
 * backend may keep one table for all cases; the clock is the suite's, so expiry needs no waiting.
 */
export function dedupStoreContract(options: DedupStoreContractOptions): ContractSuite {
  checkContractOptions("dedupStoreContract", options, { functions: ["create"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (store: DedupStore, clock: { now: number }) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const clock = { now: Date.now() };
        const store = await options.create({ now: () => clock.now, ttlMs: TTL_MS });
        await run(store, clock);
      },
    });

  add("an id not added is not there; once added it is", async (store) => {
    const id = ulid();
    assertEqual(await store.has(id), false, "a fresh id");
    await store.add(id);
    assertEqual(await store.has(id), true, "an added id");
  });

  add("ping (optional on the port) answers for health checks and adds nothing", async (store) => {
    if (store.ping === undefined) return;
    assertEqual(await store.ping(), undefined, "ping resolves");
    assertEqual(await store.has(HEALTH_CHECK_STREAM), false, "nothing added");
  });

  add("ids are independent of each other", async (store) => {
    const [a, b] = [ulid(), ulid()];
    await store.add(a);
    assertEqual([await store.has(a), await store.has(b)], [true, false]);
  });

  add("adding an id twice, even at once, is harmless", async (store) => {
    const id = ulid();
    await Promise.all(Array.from({ length: 5 }, () => store.add(id)));
    await store.add(id);
    assertEqual(await store.has(id), true);
  });

  add("an id is forgotten once its TTL has passed, and can be added again", async (store, clock) => {
    const id = ulid();
    await store.add(id);
    clock.now += TTL_MS - 1;
    assertEqual(await store.has(id), true, "just before expiry");
    clock.now += 1;
    assertEqual(await store.has(id), false, "at expiry");
    await store.add(id);
    assertEqual(await store.has(id), true, "added again");
  });

  add(
    "a clock reading fractions of a millisecond counts whole milliseconds, as every store does",
    async (store, clock) => {
      const id = ulid();
      clock.now = Math.floor(clock.now) + 0.9;
      await store.add(id);
      // Added at whole ms t (t.9 read): expired at t + TTL_MS, though t.9 + TTL_MS is still to come.
      clock.now += TTL_MS - 0.4;
      assertEqual(await store.has(id), false, "at expiry, counted in whole milliseconds");
    },
  );

  add("adding an id again restarts its TTL", async (store, clock) => {
    const id = ulid();
    await store.add(id);
    clock.now += TTL_MS - 10;
    await store.add(id);
    clock.now += TTL_MS - 10;
    assertEqual(await store.has(id), true);
  });

  add("ids keep their exact text: case and Unicode matter", async (store) => {
    const id = `Évènement-${ulid()}`;
    await store.add(id);
    assertEqual([await store.has(id), await store.has(id.toLowerCase())], [true, false]);
  });

  add("an id of the maximum length is accepted", async (store) => {
    const id = ulid().padEnd(MAX_DEDUP_ID_LENGTH, "x");
    await store.add(id);
    assertEqual(await store.has(id), true);
  });

  add(
    "empty, oversized, ill-formed (lone surrogate), U+0000 and non-string ids are a ValidationError, and nothing is stored",
    async (store) => {
      const oversized = ulid().padEnd(MAX_DEDUP_ID_LENGTH + 1, "x");
      // Some backends store a lone surrogate as "?": two such ids would become one.
      const illFormed = `${ulid()}\uD800`;
      // PostgreSQL text cannot hold U+0000: no store takes it.
      const nul = `${ulid()}\u0000`;
      for (const bad of ["", oversized, illFormed, nul, 42 as unknown as string, undefined as unknown as string]) {
        await assertRejects(() => store.add(bad), ErrorCode.Validation, `add(${String(bad).slice(0, 30)})`);
        await assertRejects(() => store.has(bad), ErrorCode.Validation, `has(${String(bad).slice(0, 30)})`);
      }
      assertEqual(await store.has(oversized.slice(0, MAX_DEDUP_ID_LENGTH)), false, "no truncated id was stored");
      assertEqual(await store.has(`${illFormed.slice(0, -1)}?`), false, "no replaced character was stored");
    },
  );

  add(
    "a clock reading that is no time (NaN, Infinity, past 2^53, not a number) is a ValidationError, and nothing is stored",
    async (store, clock) => {
      const [fresh, added] = [ulid(), ulid()];
      await store.add(added);
      const good = clock.now;
      for (const reading of NO_TIME_READINGS) {
        clock.now = reading;
        await assertRejects(() => store.add(fresh), ErrorCode.Validation, `add at ${reading}`);
        await assertRejects(() => store.has(added), ErrorCode.Validation, `has at ${reading}`);
      }
      clock.now = good;
      assertEqual([await store.has(fresh), await store.has(added)], [false, true]);
    },
  );

  return { name: options.name, cases };
}
