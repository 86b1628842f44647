import { ErrorCode } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import {
  type IdempotencyStore,
  MAX_CLAIM_TOKEN_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../idempotency/idempotency-store.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { NO_TIME_READINGS } from "./no-time-readings.js";

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
const other: StoredResponse = { status: 200, body: '{"id":"other"}', contentType: "application/json" };

/** Claims a key that must be free, and returns the claim's token. */
async function claimed(store: IdempotencyStore, key: string, fingerprint: string, label = "the key was free") {
  const claim = await store.claim(key, fingerprint);
  assert(
    claim.state === "claimed" && typeof claim.token === "string" && claim.token.length > 0,
    `${label}: expected a claim with a token, got ${JSON.stringify(claim)}`,
  );
  return claim.token;
}

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
    const token = await claimed(store, HEALTH_CHECK_STREAM, "fp");
    await store.release(HEALTH_CHECK_STREAM, "fp", token);
  });

  add("the first claim of a key wins; a second sees it in progress, whatever its fingerprint", async (store) => {
    const key = ulid();
    await claimed(store, key, "fp-1");
    assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-1" });
    assertEqual(await store.claim(key, "fp-2"), { state: "in-progress", fingerprint: "fp-1" });
  });

  add("a completed key replays its response, exactly", async (store) => {
    const key = ulid();
    await store.complete(key, "fp-1", created, await claimed(store, key, "fp-1"));
    assertEqual(await store.claim(key, "fp-1"), { state: "completed", fingerprint: "fp-1", response: created });
    assertEqual(await store.claim(key, "fp-2"), { state: "completed", fingerprint: "fp-1", response: created });
  });

  add("an empty body (204) is remembered as such", async (store) => {
    const key = ulid();
    const empty: StoredResponse = { status: 204, body: "", contentType: "" };
    await store.complete(key, "fp", empty, await claimed(store, key, "fp"));
    assertEqual(await store.claim(key, "fp"), { state: "completed", fingerprint: "fp", response: empty });
  });

  add("keys are independent of each other", async (store) => {
    const [a, b] = [ulid(), ulid()];
    await store.claim(a, "fp");
    await claimed(store, b, "fp");
  });

  add("keys keep their exact text: case, trailing spaces, Unicode forms and prefixes are other keys", async (store) => {
    // Clients choose keys: a store that took "Key-a" for "key-A" would replay one client's response to another.
    const key = `Key-Exact-${ulid()}`;
    await store.complete(key, "fp", created, await claimed(store, key, "fp"));
    for (const other of [
      key.toLowerCase(),
      key.toUpperCase(),
      `${key} `,
      `${key}1`,
      `${key}\u0065\u0301`,
      key.slice(0, -1),
      `${key.slice(0, 6)}%`,
    ]) {
      await claimed(store, other, "fp", `${JSON.stringify(other)} is a key of its own`);
    }
    assertEqual((await store.claim(key, "fp")).state, "completed", "the original key kept its response");
  });

  add("release frees an in-progress key for the next claim", async (store) => {
    const key = ulid();
    await store.release(key, "fp-1", await claimed(store, key, "fp-1"));
    await claimed(store, key, "fp-2", "released");
    assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-2" });
  });

  add(
    "release with another fingerprint or token, of a completed key, or of an unknown key changes nothing",
    async (store) => {
      const [running, done, unknown] = [ulid(), ulid(), ulid()];
      const token = await claimed(store, running, "fp-1");
      await store.release(running, "fp-2", token);
      await store.release(running, "fp-1", ulid());
      assertEqual(await store.claim(running, "fp-1"), { state: "in-progress", fingerprint: "fp-1" });
      const doneToken = await claimed(store, done, "fp-1");
      await store.complete(done, "fp-1", created, doneToken);
      await store.release(done, "fp-1", doneToken);
      assertEqual(await store.claim(done, "fp-1"), { state: "completed", fingerprint: "fp-1", response: created });
      await store.release(unknown, "fp-1", token);
      await claimed(store, unknown, "fp-1");
    },
  );

  add("each claim gets a token of its own", async (store) => {
    const [a, b] = [ulid(), ulid()];
    const first = await claimed(store, a, "fp");
    await store.release(a, "fp", first);
    const tokens = [first, await claimed(store, a, "fp", "released"), await claimed(store, b, "fp")];
    assertEqual(new Set(tokens).size, 3, `tokens: ${JSON.stringify(tokens)}`);
  });

  add(
    "a clock reading fractions of a millisecond counts whole milliseconds, as every store does",
    async (store, clock) => {
      const key = ulid();
      clock.now = Math.floor(clock.now) + 0.9;
      await claimed(store, key, "fp-1");
      // Claimed at whole ms t (t.9 read): free again at t + IN_PROGRESS_TTL_MS, though t.9 + that is still to come.
      clock.now += IN_PROGRESS_TTL_MS - 0.4;
      await claimed(store, key, "fp-2", "the claim expired, counted in whole milliseconds");
    },
  );

  add(
    "complete after the claim expired and another request claimed the key is an IdempotencyClaimLostError; the other claim stays",
    async (store, clock) => {
      const key = ulid();
      for (const fingerprints of [
        ["fp-1", "fp-2"],
        ["fp-1", "fp-1"],
      ] as const) {
        const [first, second] = fingerprints;
        const key = ulid();
        const stale = await claimed(store, key, first);
        clock.now += IN_PROGRESS_TTL_MS;
        const current = await claimed(store, key, second, "the expired claim was taken over");
        await assertRejects(
          () => store.complete(key, first, other, stale),
          ErrorCode.IdempotencyClaimLost,
          `complete of the expired claim (${first} then ${second})`,
        );
        assertEqual(
          await store.claim(key, "fp-3"),
          { state: "in-progress", fingerprint: second },
          "still the new claim",
        );
        await store.complete(key, second, created, current);
        assertEqual(
          await store.claim(key, first),
          { state: "completed", fingerprint: second, response: created },
          "the new claim's response",
        );
        await assertRejects(
          () => store.complete(key, first, other, stale),
          ErrorCode.IdempotencyClaimLost,
          "complete of the expired claim over the new response",
        );
        assertEqual(
          await store.claim(key, first),
          { state: "completed", fingerprint: second, response: created },
          "the new claim's response stays",
        );
      }
      // Another key's token, or a made-up one, holds nothing either.
      const current = await claimed(store, key, "fp-1");
      await assertRejects(
        () => store.complete(key, "fp-1", other, ulid()),
        ErrorCode.IdempotencyClaimLost,
        "a token of no claim",
      );
      await assertRejects(
        () => store.complete(key, "fp-2", other, current),
        ErrorCode.IdempotencyClaimLost,
        "the token with another fingerprint",
      );
      assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-1" });
    },
  );

  add(
    "release after the claim expired and the same request claimed the key again frees nothing",
    async (store, clock) => {
      const key = ulid();
      const stale = await claimed(store, key, "fp-1");
      clock.now += IN_PROGRESS_TTL_MS;
      await claimed(store, key, "fp-1", "the expired claim was taken over");
      await store.release(key, "fp-1", stale);
      assertEqual(await store.claim(key, "fp-1"), { state: "in-progress", fingerprint: "fp-1" }, "the new claim stays");
    },
  );

  add("a claim that expired while no other request claimed the key still completes", async (store, clock) => {
    const key = ulid();
    const token = await claimed(store, key, "fp-1");
    clock.now += IN_PROGRESS_TTL_MS + 1;
    await store.complete(key, "fp-1", created, token);
    assertEqual(await store.claim(key, "fp-2"), { state: "completed", fingerprint: "fp-1", response: created });
  });

  add("complete again with the claim's token (a retried write) keeps the response", async (store) => {
    const key = ulid();
    const token = await claimed(store, key, "fp-1");
    await store.complete(key, "fp-1", created, token);
    await store.complete(key, "fp-1", created, token);
    assertEqual(await store.claim(key, "fp-1"), { state: "completed", fingerprint: "fp-1", response: created });
  });

  add("an unfinished claim expires after the in-progress TTL (a crashed request)", async (store, clock) => {
    const key = ulid();
    await store.claim(key, "fp-1");
    clock.now += IN_PROGRESS_TTL_MS - 1;
    assertEqual((await store.claim(key, "fp-2")).state, "in-progress", "just before expiry");
    clock.now += 1;
    await claimed(store, key, "fp-2", "at expiry");
  });

  add("a completed response is replayed until the TTL, then the key is free", async (store, clock) => {
    const key = ulid();
    const token = await claimed(store, key, "fp-1");
    clock.now += IN_PROGRESS_TTL_MS - 1;
    await store.complete(key, "fp-1", created, token);
    clock.now += TTL_MS - 1;
    assertEqual((await store.claim(key, "fp-1")).state, "completed", "the TTL runs from completion");
    clock.now += 1;
    await claimed(store, key, "fp-2", "at expiry");
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
    await store.complete(key, "fp", created, await claimed(store, key, "fp"));
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
        await assertRejects(
          () => store.complete(key, fingerprint, created, ulid()),
          ErrorCode.Validation,
          `complete ${label}`,
        );
        await assertRejects(() => store.release(key, fingerprint, ulid()), ErrorCode.Validation, `release ${label}`);
      }
      await claimed(store, oversized.slice(0, MAX_IDEMPOTENCY_KEY_LENGTH), "fp", "no truncated key was stored");
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
        await assertRejects(
          () => store.complete(key, fingerprint, created, ulid()),
          ErrorCode.Validation,
          `complete ${label}`,
        );
        await assertRejects(() => store.release(key, fingerprint, ulid()), ErrorCode.Validation, `release ${label}`);
      }
      await claimed(store, plain, "fp", "no key was stored cut short");
      const key = ulid();
      const token = await claimed(store, key, "fp");
      for (const response of [
        { ...created, body: "a\u0000b" },
        { ...created, body: "a\uDC00b" },
        { ...created, contentType: "text/plain\u0000" },
        { ...created, contentType: "text/\uD800" },
      ]) {
        await assertRejects(
          () => store.complete(key, "fp", response, token),
          ErrorCode.Validation,
          JSON.stringify(response),
        );
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
    const token = await claimed(store, key, "fp");
    const malformed = [
      { ...created, status: 99 },
      // A 1xx is no final response: stored, its replay failed (new Response throws a RangeError on 100-199).
      { ...created, status: 100 },
      { ...created, status: 199 },
      { ...created, status: 600 },
      { ...created, status: 200.5 },
      { ...created, body: undefined },
      { ...created, contentType: 3 },
      null,
    ] as unknown as StoredResponse[];
    for (const response of malformed) {
      await assertRejects(
        () => store.complete(key, "fp", response, token),
        ErrorCode.Validation,
        JSON.stringify(response),
      );
    }
    const claim = await store.claim(key, "fp");
    assert(claim.state === "in-progress", `expected in-progress, got ${claim.state}`);
  });

  add(
    "a missing, empty, oversized or ill-formed token is a ValidationError, and the claim stays in progress",
    async (store) => {
      const key = ulid();
      const token = await claimed(store, key, "fp");
      for (const bad of [
        undefined,
        "",
        42,
        "t".repeat(MAX_CLAIM_TOKEN_LENGTH + 1),
        `${token}\u0000`,
        `${token}\uD800`,
      ] as unknown as string[]) {
        const label = JSON.stringify(bad);
        await assertRejects(
          () => store.complete(key, "fp", created, bad),
          ErrorCode.Validation,
          `complete with token ${label}`,
        );
        await assertRejects(() => store.release(key, "fp", bad), ErrorCode.Validation, `release with token ${label}`);
      }
      assertEqual(await store.claim(key, "fp"), { state: "in-progress", fingerprint: "fp" });
    },
  );

  add(
    "a clock reading that is no time (NaN, Infinity, past 2^53, not a number) is a ValidationError, and nothing is written",
    async (store, clock) => {
      const [fresh, held] = [ulid(), ulid()];
      const token = await claimed(store, held, "fp");
      const good = clock.now;
      for (const reading of NO_TIME_READINGS) {
        clock.now = reading;
        await assertRejects(() => store.claim(fresh, "fp"), ErrorCode.Validation, `claim at ${reading}`);
        await assertRejects(() => store.claim(held, "fp-2"), ErrorCode.Validation, `claim of a held key at ${reading}`);
        await assertRejects(
          () => store.complete(held, "fp", created, token),
          ErrorCode.Validation,
          `complete at ${reading}`,
        );
      }
      clock.now = good;
      await claimed(store, fresh, "fp", "the key is still free");
      assertEqual(await store.claim(held, "fp"), { state: "in-progress", fingerprint: "fp" }, "the claim stays");
    },
  );

  return { name: options.name, cases };
}
