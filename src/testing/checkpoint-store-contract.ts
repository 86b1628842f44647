import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import { ErrorCode } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { lookAlikeIds } from "./look-alike-ids.js";
import { writesDuring } from "./writes-during.js";

export interface CheckpointStoreContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /** Makes a store. Cases use ids of their own, so a store may be shared or fresh. */
  readonly create: () => CheckpointStore | Promise<CheckpointStore>;
  /** Releases a store made by `create`. */
  readonly dispose?: (store: CheckpointStore) => void | Promise<void>;
}

/** The behaviour every CheckpointStore must have. */
export function checkpointStoreContract(options: CheckpointStoreContractOptions): ContractSuite {
  checkContractOptions("checkpointStoreContract", options, { functions: ["create"], optionalFunctions: ["dispose"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (store: CheckpointStore) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const store = await options.create();
        try {
          await run(store);
        } finally {
          await options.dispose?.(store);
        }
      },
    });
  const id = (label = "cp") => `Contract_${label}-${ulid()}`;

  add("an id never stored loads as undefined", async (store) => {
    assertEqual(await store.load(id()), undefined);
  });

  add("ping answers for health checks and stores nothing", async (store) => {
    const writes = await writesDuring(store, ["store", "delete", "writeCheckpoint", "deleteCheckpoint"], async () => {
      assertEqual(await store.ping(), undefined, "ping resolves");
    });
    assertEqual(writes, [], "write methods ping called (a ping must only read)");
    assertEqual(await store.load(HEALTH_CHECK_STREAM), undefined, "no checkpoint stored");
  });

  add("stores and loads positions; a later store replaces, backwards too", async (store) => {
    const name = id();
    await store.store(name, 42);
    assertEqual(await store.load(name), 42, "first store");
    await store.store(name, 9_000_000_000_000);
    assertEqual(await store.load(name), 9_000_000_000_000, "large positions survive");
    await store.store(name, 7);
    assertEqual(await store.load(name), 7, "rewound");
    await store.store(name, 0);
    assertEqual(await store.load(name), 0, "zero is a position, not none");
    // An integer column or a DynamoDB number keeps no sign on zero: every store saves -0 as 0.
    await store.store(name, -0);
    assert(Object.is(await store.load(name), 0), "-0 is saved as 0");
    const error = (await assertRejects(
      () => store.store(name, 1, { expected: 3 }),
      ErrorCode.Concurrency,
      "stale expected",
    )) as Error & { actualVersion?: unknown };
    assert(Object.is(error.actualVersion, 0), "the saved 0 in a conflict is 0");
    await store.store(name, 2, { expected: -0 });
    const conflict = (await assertRejects(
      () => store.store(name, 3, { expected: -0 }),
      ErrorCode.Concurrency,
      "expected -0",
    )) as Error & { expectedVersion?: unknown };
    assert(Object.is(conflict.expectedVersion, 0), "an expected -0 is reported as 0");
  });

  add("ids are independent and stored verbatim: quotes, semicolons, unicode", async (store) => {
    const names = [`Q'uote"-${ulid()}`, `Semi;colon; DROP TABLE x;--${ulid()}`, `Ünï-cødé-流-${ulid()}`];
    for (const [i, name] of names.entries()) await store.store(name, i + 1);
    for (const [i, name] of names.entries()) assertEqual(await store.load(name), i + 1, name);
  });

  add(
    "ids match exactly: case, trailing spaces, Unicode forms, prefixes and LIKE wildcards are other checkpoints",
    async (store) => {
      const base = id("Exact");
      const others = lookAlikeIds(base);
      const wildcard = `${base.slice(0, 5)}%`;
      const all = [base, ...others, wildcard];
      for (const [i, name] of all.entries()) await store.store(name, i + 1);
      for (const [i, name] of all.entries())
        assertEqual(await store.load(name), i + 1, `${JSON.stringify(name)}'s own`);
      await store.delete(base);
      await store.delete(wildcard);
      assertEqual(await store.load(base), undefined, "deleted");
      for (const [i, name] of others.entries()) {
        assertEqual(await store.load(name), i + 2, `${JSON.stringify(name)} kept after the deletes`);
      }
    },
  );

  add("compare-and-set: stores when the saved position is the expected one", async (store) => {
    const name = id();
    await store.store(name, 5, { expected: 0 });
    assertEqual(await store.load(name), 5, "expected 0 creates");
    await store.store(name, 9, { expected: 5 });
    assertEqual(await store.load(name), 9, "expected 5 moves on");
  });

  add("compare-and-set: a different saved position is a ConcurrencyError and nothing changes", async (store) => {
    const name = id();
    await store.store(name, 10);
    const error = (await assertRejects(
      () => store.store(name, 20, { expected: 3 }),
      ErrorCode.Concurrency,
      "stale expected",
    )) as Error & { expectedVersion?: unknown; actualVersion?: unknown };
    assertEqual({ expected: error.expectedVersion, actual: error.actualVersion }, { expected: 3, actual: 10 });
    assertEqual(await store.load(name), 10, "unchanged");
    const fresh = id();
    await assertRejects(() => store.store(fresh, 1, { expected: 4 }), ErrorCode.Concurrency, "none saved is 0");
    assertEqual(await store.load(fresh), undefined, "still none");
  });

  add("concurrent compare-and-set from one position: exactly one wins", async (store) => {
    const name = id();
    await store.store(name, 1);
    const settled = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.store(name, 100 + i, { expected: 1 })),
    );
    const won = settled.flatMap((s, i) => (s.status === "fulfilled" ? [100 + i] : []));
    assertEqual(won.length, 1, "winners");
    for (const s of settled) {
      if (s.status === "rejected") assertEqual((s.reason as { code?: string }).code, ErrorCode.Concurrency);
    }
    assertEqual(await store.load(name), won[0], "the winner's position");
  });

  add("delete forgets a checkpoint; deleting an unknown id does nothing", async (store) => {
    const name = id();
    await store.store(name, 3);
    await store.delete(name);
    assertEqual(await store.load(name), undefined, "deleted");
    await store.delete(id());
  });

  add("invalid ids, positions and expected positions are refused; nothing is written", async (store) => {
    const badIds: unknown[] = ["", "  ", "tab\there", "x".repeat(300), 1, null, undefined];
    for (const bad of badIds) {
      await assertRejects(() => store.store(bad as string, 1), ErrorCode.Validation, `id ${String(bad).slice(0, 10)}`);
      await assertRejects(() => store.load(bad as string), ErrorCode.Validation, "load");
      await assertRejects(() => store.delete(bad as string), ErrorCode.Validation, "delete");
    }
    const name = id();
    const badPositions: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "3", null, 2 ** 53, 10n];
    for (const bad of badPositions) {
      await assertRejects(() => store.store(name, bad as number), ErrorCode.Validation, `position ${String(bad)}`);
      await assertRejects(
        () => store.store(name, 1, { expected: bad as number }),
        ErrorCode.Validation,
        `expected ${String(bad)}`,
      );
    }
    assertEqual(await store.load(name), undefined, "nothing written");
    // Options of null are no options: stored, not a TypeError.
    await store.store(name, 2, null as never);
    assertEqual(await store.load(name), 2, "options null");
  });

  add("options that are not an object, or carry a key store does not take, are refused by name", async (store) => {
    const name = id();
    await store.store(name, 5);
    // Each would skip the compare-and-set without a word: `expected` was meant, and 5 is not 3.
    const badOptions: unknown[] = [3, "3", true, 3n, [3], () => 3, { expectedVersion: 3 }, { expectd: 3 }];
    for (const bad of badOptions) {
      const error = (await assertRejects(
        () => store.store(name, 9, bad as never),
        ErrorCode.Validation,
        `options ${typeof bad === "bigint" ? `${bad}n` : (JSON.stringify(bad) ?? String(bad))}`,
      )) as Error & { issues?: readonly { path: readonly (string | number)[] }[] };
      assertEqual(error.issues?.[0]?.path[0], "options", "the issue names options");
    }
    assertEqual(await store.load(name), 5, "nothing written");
    await store.store(name, 6, undefined);
    assertEqual(await store.load(name), 6, "options undefined");
  });

  return { name: options.name, cases };
}
