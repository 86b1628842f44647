import { assertKnownOptions, ProjectionLock, ValidationError } from "../../src/index.js";
import { opensTransactions, type PostgresSql, type PostgresTransactionSql } from "./client.js";
import { guard, toEventFlowsError } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, tableNames } from "./names.js";
import { beginUnlessGone } from "./transaction-scope.js";

export interface PostgresProjectionLockOptions extends PostgresNameOptions {
  /** A client with at least two connections: each held lease keeps one open. */
  readonly sql: PostgresSql;
}

interface HeldLock {
  readonly tx: PostgresTransactionSql;
  readonly release: () => void;
  /** Settles when the lock's transaction has ended. */
  readonly held: Promise<void>;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, sql: true } satisfies Record<keyof PostgresProjectionLockOptions, true>);

/**
 * Projection leases as PostgreSQL advisory locks: a held lease is a transaction-level advisory lock
 * in a transaction kept open on a connection of its own, which the server releases when the process
 * dies or the connection drops, so no lease outlives its owner and `ttlMs` is not needed. (A
 * transaction-level lock, unlike a session one, also works behind transaction-pooling proxies; the
 * transaction writes nothing, so it holds back neither readers nor vacuum.) Renewing checks that the
 * connection is still there.
 */
export class PostgresProjectionLock extends ProjectionLock {
  readonly #sql: PostgresSql;
  readonly #namespace: string;
  readonly #held = new Map<string, HeldLock>();

  constructor(options: PostgresProjectionLockOptions) {
    super();
    // A misspelt `schmea` took the default schema's lock namespace: two stores' runners shared their locks.
    assertKnownOptions(options, OPTIONS, "projection lock options");
    if (!opensTransactions(options?.sql)) {
      throw new ValidationError("Invalid projection lock options", [
        { path: ["sql"], message: "sql must be a postgres.js client" },
      ]);
    }
    const max = (options.sql as { options?: { max?: unknown } }).options?.max;
    if (typeof max === "number" && max < 2) {
      throw new ValidationError("Invalid projection lock options", [
        { path: ["sql"], message: "a projection lock needs a client with at least 2 connections (max >= 2)" },
      ]);
    }
    this.#sql = options.sql;
    this.#namespace = tableNames(options, OPTIONS).lockNamespace;
  }

  protected async tryAcquire(name: string, owner: string): Promise<boolean> {
    const key = JSON.stringify([name, owner]);
    const held = this.#held.get(key);
    if (held !== undefined) {
      try {
        await guard("projection lock", () => held.tx.unsafe("SELECT 1"));
        return true;
      } catch {
        // The lock's connection is gone, and the lock with it: compete again.
        await this.#drop(key);
      }
    }
    return this.#take(key, `${this.#namespace}:projection:${name}`);
  }

  protected async releaseLease(name: string, owner: string): Promise<void> {
    await this.#drop(JSON.stringify([name, owner]));
  }

  #take(key: string, lockKey: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      let release!: () => void;
      const released = new Promise<void>((done) => {
        release = done;
      });
      const held = beginUnlessGone(this.#sql, undefined, async (tx: PostgresTransactionSql) => {
        // Keyed by the transaction's tenant too (none: ''), so that on row-level-security tables each
        // tenant's run of a projection holds a lease of its own (see tenantScopedSql).
        const [row] = await tx.unsafe(
          "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || coalesce(' tenant ' || nullif(current_setting('eventflows.tenant', true), ''), ''), 0)) AS locked",
          [lockKey],
        );
        settled = true;
        if (row?.locked !== true) return resolve(false);
        this.#held.set(key, {
          tx,
          release,
          held: held.then(
            () => undefined,
            () => undefined,
          ),
        });
        resolve(true);
        await released;
      });
      held.then(
        () => undefined,
        (error) => {
          // The lock's connection broke: the server released the lock with it.
          this.#held.delete(key);
          if (!settled) reject(toEventFlowsError(error, "projection lock"));
        },
      );
    });
  }

  async #drop(key: string): Promise<void> {
    const lock = this.#held.get(key);
    if (lock === undefined) return;
    this.#held.delete(key);
    lock.release();
    await lock.held;
  }
}
