import { ErrorCode } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import {
  type IdempotencyStore,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../idempotency/idempotency-store.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";

/** What a store under test is made with: its clock and TTLs must be these. */
export interface IdempotencyStoreContractSettings {
  readonly now: () => number;
  readonly ttlMs: number;
  readonly inProgressTtlMs: number;
}

export interface IdempotencyStoreContractOptions {
  readonly name: string;
  readonly create: (settings: IdempotencyStoreContractSettings) => IdempotencyStore | Promise<IdempotencyStore>;
}

const TTL_MS = 3_600_000;
const IN_PROGRESS_TTL_MS = 60_000;
const CONCURRENT_CLAIMS = 8;
const created: StoredResponse = { status: 201, body: '{"id":"é-1"}', contentType: "application/json" };

/**
 * The behaviour every IdempotencyStore must have, shared or not. Keys are fresh ULIDs per case, so
 * a backend may keep one table for all cases; the clock is the suite's, so expiry needs no waiting.
 */
export function idempotencyStoreContract(options: IdempotencyStoreContractOptions): ContractSuite {
  checkContractOptions("idempotencyStoreContract", options, { functions: ["create"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (store: IdempotencyStore, clock: { now: number }) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const clock = { now: Date.now() };
        const store = await options.create({
          now: () => clock.now,
          ttlMs: TTL_MS,
          inProgressTtlMs: IN_PROGRESS_TTL_MS,
        });
        await run(store, clock);
      },
    });

  add("ping (optional on the port) answers for health checks and claims nothing", async (store) => {
    if (store.ping === undefined) return;
    assertEqual(await store.ping(), undefined, "ping resolves");
    assertEqual(await store.claim(HEALTH_CHECK_STREAM, "fp"), { state: "claimed" }, "the key was free");
    await store.release(HEALTH_CHECK_STREAM, "fp");
  });

  add("the first claim of a key wins; a second sees it in progress, whatever its fingerprint", async (store) => {
    const key = ulid();
    assertEqual(await store.claim(key, "fp-1"), { state: "claimed" });
    assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-1" });
    assertEqual(await store.claim(key, "fp-2"), { state: "in-progress", fingerprint: "fp-1" });
  });

  add("a completed key replays its response, exactly", async (store) => {
    const key = ulid();
    await store.claim(key, "fp-1");
    await store.complete(key, "fp-1", created);
    assertEqual(await store.claim(key, "fp-1"), { state: "completed", fingerprint: "fp-1", response: created });
    assertEqual(await store.claim(key, "fp-2"), { state: "completed", fingerprint: "fp-1", response: created });
  });

  add("an empty body (204) is remembered as such", async (store) => {
    const key = ulid();
    const empty: StoredResponse = { status: 204, body: "", contentType: "" };
    await store.claim(key, "fp");
    await store.complete(key, "fp", empty);
    assertEqual(await store.claim(key, "fp"), { state: "completed", fingerprint: "fp", response: empty });
  });

  add("keys are independent of each other", async (store) => {
    const [a, b] = [ulid(), ulid()];
    await store.claim(a, "fp");
    assertEqual(await store.claim(b, "fp"), { state: "claimed" });
  });

  add("release frees an in-progress key for the next claim", async (store) => {
    const key = ulid();
    await store.claim(key, "fp-1");
    await store.release(key, "fp-1");
    assertEqual(await store.claim(key, "fp-2"), { state: "claimed" });
    assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-2" });
  });

  add("release with another fingerprint, of a completed key, or of an unknown key changes nothing", async (store) => {
    const [running, done, unknown] = [ulid(), ulid(), ulid()];
    await store.claim(running, "fp-1");
    await store.release(running, "fp-2");
    assertEqual(await store.claim(running, "fp-1"), { state: "in-progress", fingerprint: "fp-1" });
    await store.claim(done, "fp-1");
    await store.complete(done, "fp-1", created);
    await store.release(done, "fp-1");
    assertEqual(await store.claim(done, "fp-1"), { state: "completed", fingerprint: "fp-1", response: created });
    await store.release(unknown, "fp-1");
    assertEqual(await store.claim(unknown, "fp-1"), { state: "claimed" });
  });

  add("an unfinished claim expires after the in-progress TTL (a crashed request)", async (store, clock) => {
    const key = ulid();
    await store.claim(key, "fp-1");
    clock.now += IN_PROGRESS_TTL_MS - 1;
    assertEqual((await store.claim(key, "fp-2")).state, "in-progress", "just before expiry");
    clock.now += 1;
    assertEqual(await store.claim(key, "fp-2"), { state: "claimed" });
  });

  add("a completed response is replayed until the TTL, then the key is free", async (store, clock) => {
    const key = ulid();
    await store.claim(key, "fp-1");
    clock.now += IN_PROGRESS_TTL_MS - 1;
    await store.complete(key, "fp-1", created);
    clock.now += TTL_MS - 1;
    assertEqual((await store.claim(key, "fp-1")).state, "completed", "the TTL runs from completion");
    clock.now += 1;
    assertEqual(await store.claim(key, "fp-2"), { state: "claimed" });
  });

  add(`of ${CONCURRENT_CLAIMS} concurrent claims of one key, exactly one wins`, async (store) => {
    const key = ulid();
    const claims = await Promise.all(Array.from({ length: CONCURRENT_CLAIMS }, (_, i) => store.claim(key, `fp-${i}`)));
    const winners = claims.flatMap((claim, i) => (claim.state === "claimed" ? [i] : []));
    assertEqual(winners.length, 1, `winners: ${JSON.stringify(winners)}`);
    const winner = `fp-${winners[0]}`;
    for (const claim of claims) {
      if (claim.state === "claimed") continue;
      assertEqual(claim, { state: "in-progress", fingerprint: winner }, "the losers see the winner's claim");
    }
  });

  add("concurrent claims of an expired key: exactly one wins", async (store, clock) => {
    const key = ulid();
    await store.claim(key, "old");
    clock.now += IN_PROGRESS_TTL_MS;
    const claims = await Promise.all(Array.from({ length: CONCURRENT_CLAIMS }, (_, i) => store.claim(key, `fp-${i}`)));
    assertEqual(claims.filter((claim) => claim.state === "claimed").length, 1);
  });

  add("a key of the maximum length is accepted", async (store) => {
    const key = ulid().padEnd(MAX_IDEMPOTENCY_KEY_LENGTH, "k");
    assertEqual(await store.claim(key, "fp"), { state: "claimed" });
    await store.complete(key, "fp", created);
    assertEqual((await store.claim(key, "fp")).state, "completed");
  });

  add(
    "empty, oversized, ill-formed (lone surrogate) or non-string keys and fingerprints are a ValidationError",
    async (store) => {
      const oversized = ulid().padEnd(MAX_IDEMPOTENCY_KEY_LENGTH + 1, "k");
      const bad: [string, string][] = [
        ["", "fp"],
        [oversized, "fp"],
        [`${ulid()}\uDC00`, "fp"],
        [42 as unknown as string, "fp"],
        [ulid(), ""],
        [ulid(), undefined as unknown as string],
      ];
      for (const [key, fingerprint] of bad) {
        const label = `${String(key).slice(0, 30)}/${String(fingerprint)}`;
        await assertRejects(() => store.claim(key, fingerprint), ErrorCode.Validation, `claim ${label}`);
        await assertRejects(() => store.complete(key, fingerprint, created), ErrorCode.Validation, `complete ${label}`);
        await assertRejects(() => store.release(key, fingerprint), ErrorCode.Validation, `release ${label}`);
      }
      assertEqual(
        await store.claim(oversized.slice(0, MAX_IDEMPOTENCY_KEY_LENGTH), "fp"),
        { state: "claimed" },
        "no truncated key was stored",
      );
    },
  );

  add(
    "U+0000 or a lone surrogate in a key, fingerprint or response is a ValidationError, and nothing is written",
    async (store) => {
      const plain = ulid();
      const bad: [string, string][] = [
        [`${plain}\u0000`, "fp"],
        [ulid(), "fp\u0000"],
        [ulid(), "fp\uD800"],
      ];
      for (const [key, fingerprint] of bad) {
        const label = JSON.stringify([key, fingerprint]);
        await assertRejects(() => store.claim(key, fingerprint), ErrorCode.Validation, `claim ${label}`);
        await assertRejects(() => store.complete(key, fingerprint, created), ErrorCode.Validation, `complete ${label}`);
        await assertRejects(() => store.release(key, fingerprint), ErrorCode.Validation, `release ${label}`);
      }
      assertEqual(await store.claim(plain, "fp"), { state: "claimed" }, "no key was stored cut short");
      const key = ulid();
      await store.claim(key, "fp");
      for (const response of [
        { ...created, body: "a\u0000b" },
        { ...created, body: "a\uDC00b" },
        { ...created, contentType: "text/plain\u0000" },
        { ...created, contentType: "text/\uD800" },
      ]) {
        await assertRejects(() => store.complete(key, "fp", response), ErrorCode.Validation, JSON.stringify(response));
      }
      assertEqual(
        await store.claim(key, "fp"),
        { state: "in-progress", fingerprint: "fp" },
        "the claim stays in progress",
      );
    },
  );

  add("a malformed response is a ValidationError, and the claim stays in progress", async (store) => {
    const key = ulid();
    await store.claim(key, "fp");
    const malformed = [
      { ...created, status: 99 },
      { ...created, status: 200.5 },
      { ...created, body: undefined },
      { ...created, contentType: 3 },
      null,
    ] as unknown as StoredResponse[];
    for (const response of malformed) {
      await assertRejects(() => store.complete(key, "fp", response), ErrorCode.Validation, JSON.stringify(response));
    }
    const claim = await store.claim(key, "fp");
    assert(claim.state === "in-progress", `expected in-progress, got ${claim.state}`);
  });

  return { name: options.name, cases };
}
