import { type TenantId, tenantId, ValidationError } from "../../src/index.js";
import { cancelStatement, opensTransactions, type PostgresSql, type PostgresTransactionSql, TENANT } from "./client.js";
import { guard, isConnectionGone } from "./errors.js";
import { TENANT_SETTING } from "./migrations.js";
import { type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
import { beginUnlessGone } from "./transaction-scope.js";

// The cast matters: with an untyped $1 each run cost about a round trip more (measured: a
// one-event append through the pipeline below took twice as long as without the setting; with
// the cast, as long), as if postgres.js described the statement before every run.
const SET_TENANT = `SELECT set_config('${TENANT_SETTING}', $1::text, true)`;

/** Every table migrations 9 and 10 gave a tenant_id column and a policy: all but the migrations table. */
function tenantTables(names: TableNames): string[] {
  return [
    names.events,
    names.checkpoints,
    names.snapshots,
    names.dedup,
    names.idempotencyKeys,
    names.readModels,
    names.sagas,
    names.sagaHandled,
    names.sagaOutbox,
    names.sagaTimeouts,
    names.sagaFailures,
    names.subjectKeys,
    names.streamDeletions,
  ];
}

/**
 * Turns the tenant policies of migration 9 on for every table of a migrated schema: from then on a
 * statement sees and writes only the rows of the tenant its transaction names (through a client
 * from {@link tenantScopedSql}); a statement that names none sees no row and cannot write (fail
 * closed). FORCE applies the policies to the tables' owner too, which is usually the role the
 * application connects as (it ran the migrations): without it the owner bypasses them. Superusers
 * and roles with BYPASSRLS still bypass them: connect the application as neither. Idempotent.
 */
export async function enableRowLevelSecurity(sql: PostgresSql, options: PostgresNameOptions = {}): Promise<void> {
  const names = tableNames(options);
  const statements = tenantTables(names)
    .map((table) => `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;`)
    .join("\n");
  await guard("enableRowLevelSecurity", () => sql.unsafe(statements));
}

/** Whether every tenant table of the schema enforces its policies on its owner too. */
export async function rowLevelSecurityEnabled(sql: PostgresSql, options: PostgresNameOptions = {}): Promise<boolean> {
  const tables = tenantTables(tableNames(options));
  return guard("rowLevelSecurityEnabled", async () => {
    const [row] = await sql.unsafe(
      `SELECT count(*)::integer AS enforced FROM pg_class
        WHERE oid = ANY(ARRAY(SELECT to_regclass(t) FROM jsonb_array_elements_text($1::text::jsonb) AS t))
          AND relrowsecurity AND relforcerowsecurity`,
      [JSON.stringify(tables)],
    );
    return row?.enforced === tables.length;
  });
}

/**
 * A client for one tenant of row-level-security tables: it runs every statement the stores send
 * in a transaction that first sets the tenant id, as it is
 * (`set_config('eventflows.tenant', tenant, true)`,
 * transaction-local, so it never outlives the statement on a pooled connection). Give it as `sql`
 * to any PostgreSQL store; build one per tenant over one shared postgres.js client (the pool).
 *
 * A single statement becomes BEGIN, the setting, the statement and COMMIT, sent together on a
 * connection reserved from the pool for them: one round trip, as the statement alone. A
 * transaction (`begin`) sets the tenant once, first (one round trip more). `reserve()` is refused:
 * a reserved connection would run the caller's statements outside such a transaction.
 *
 * A client made with `createPostgresClient(url, { tenant })` (a pool per tenant, the tenant set once
 * per connection) is returned as it is for its own tenant.
 * @throws {InvalidTenantError} a value that is not a tenant id (see `tenantId` of `@eventflows/core`).
 * @throws {ValidationError} a client that is not a postgres.js client, or one bound to another tenant.
 */
export function tenantScopedSql(sql: PostgresSql, tenant: string): PostgresSql {
  // The core's tenant ids, as tenancy() hands them to its stores factory: the setting is the id
  // itself (a bound parameter, never spliced into SQL), so distinct tenants never share a value.
  const id = tenantId(tenant);
  if (!opensTransactions(sql)) {
    throw new ValidationError("Invalid tenant-scoped client", [
      { path: ["sql"], message: "sql must be a postgres.js client (postgres(...)), not a transaction" },
    ]);
  }
  // A client whose connections carry a tenant already (createPostgresClient's `tenant`): its own
  // tenant needs nothing more; another would have its connections serve two tenants.
  const bound = tenantOf(sql);
  if (bound === id) return sql;
  if (bound !== undefined) {
    throw new ValidationError("Invalid tenant-scoped client", [
      { path: ["sql"], message: "sql is bound to another tenant: its connections serve that tenant only" },
    ]);
  }
  type Work = (tx: PostgresTransactionSql) => unknown;
  const begin = (options: string | undefined, work: Work) => {
    const scoped: Work = async (tx) => {
      await tx.unsafe(SET_TENANT, [id], { prepare: true });
      return work(tx);
    };
    return beginUnlessGone(sql, options, scoped);
  };
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === "unsafe") {
        return (text: string, parameters?: unknown[], options?: Record<string, unknown>) =>
          new TenantQuery(target, id, text, parameters, options);
      }
      if (property === "begin") {
        return (options: string | Work, work?: Work) =>
          typeof options === "function" ? begin(undefined, options) : begin(options, work as Work);
      }
      if (property === "reserve") {
        return () => {
          throw new ValidationError("Invalid use of a tenant-scoped client", [
            { path: ["reserve"], message: "a reserved connection would not carry the tenant: use begin" },
          ]);
        };
      }
      if (property === TENANT) return id;
      return Reflect.get(target, property, receiver);
    },
    apply(_target, _this, args: unknown[]) {
      // A tagged-template query: run it in the tenant's transaction like unsafe's.
      return begin(undefined, (tx) => (tx as unknown as (...a: unknown[]) => unknown)(...args));
    },
  }) as PostgresSql;
}

/** The tenant a client from {@link tenantScopedSql} sets; undefined for any other client. */
export function tenantOf(sql: unknown): TenantId | undefined {
  const tenant = (sql as Record<symbol, unknown> | null | undefined)?.[TENANT];
  return typeof tenant === "string" ? (tenant as TenantId) : undefined;
}

type Rows = Awaited<ReturnType<PostgresSql["unsafe"]>>;

/**
 * What `unsafe` returns on a tenant-scoped client: awaited (or `.values()` then awaited) it runs
 * the statement in a transaction of the tenant. Lazy like postgres.js's own queries.
 */
class TenantQuery implements PromiseLike<Rows> {
  #values = false;
  #run: Promise<Rows> | undefined;
  #inner: { cancel(): unknown } | undefined;
  #cancelled = false;
  /** Set while the statement waits for its reserved connection: ends that wait (see #reserve). */
  #withdraw: (() => void) | undefined;

  constructor(
    readonly sql: PostgresSql,
    readonly tenant: string,
    readonly text: string,
    readonly parameters: unknown[] | undefined,
    readonly options: Record<string, unknown> | undefined,
  ) {}

  values(): this {
    this.#values = true;
    return this;
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#inner !== undefined) cancelStatement(this.#inner);
    else this.#withdraw?.();
  }

  // biome-ignore lint/suspicious/noThenProperty: postgres.js queries are thenables, and the stores await this one the same way
  then<A = Rows, B = never>(
    onfulfilled?: ((value: Rows) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#run ??= this.#start();
    return this.#run.then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<Rows | B> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<Rows> {
    return this.then().finally(onfinally);
  }

  /**
   * The connection the statement runs on. Cancelled first, or while it waits for one (every
   * connection reserved or in a transaction), the statement rejects at once, unsent: it waited for a
   * connection to be free, or for connect_timeout. postgres.js 4 takes the wait out of its queue
   * (the reservation's `cancel()`); 3.4 has no way to, so a connection that comes later is released
   * at once.
   */
  #reserve(): Promise<Awaited<ReturnType<PostgresSql["reserve"]>>> {
    if (this.#cancelled) return Promise.reject(withdrawnError());
    const reserving = this.sql.reserve();
    return new Promise<Awaited<typeof reserving>>((resolve, reject) => {
      this.#withdraw = () => {
        this.#withdraw = undefined;
        void Promise.resolve((reserving as { cancel?: () => unknown }).cancel?.()).catch(() => undefined);
        reject(withdrawnError());
      };
      reserving.then(
        (reserved) => {
          if (this.#withdraw === undefined) return reserved.release();
          this.#withdraw = undefined;
          resolve(reserved);
        },
        (error: unknown) => {
          this.#withdraw = undefined;
          reject(error);
        },
      );
    });
  }

  async #start(): Promise<Rows> {
    // One round trip: BEGIN, the setting, the statement and COMMIT leave together on a connection
    // reserved for them (postgres.js's begin would wait for BEGIN's answer first, and its own
    // COMMIT's: two round trips more). A statement that fails aborts the transaction, and the
    // COMMIT behind it then rolls back without an error, leaving the connection clean.
    const reserved = await this.#reserve();
    let gone = false;
    try {
      const begin = reserved.unsafe("BEGIN");
      const set = reserved.unsafe(SET_TENANT, [this.tenant], { prepare: true });
      // biome-ignore lint/suspicious/noExplicitAny: postgres.js's parameter type is its own serializable union
      const query = reserved.unsafe(this.text, this.parameters as any, this.options);
      const result = this.#values ? query.values() : query;
      this.#inner = query;
      const commit = reserved.unsafe("COMMIT");
      if (this.#cancelled) cancelStatement(query);
      const settled = await settledUnlessGone([begin, set, result, commit]).catch((error: unknown) => {
        gone = true;
        throw error;
      });
      for (const outcome of settled) if (outcome.status === "rejected") throw outcome.reason;
      return (settled[2] as PromiseFulfilledResult<Rows>).value;
    } finally {
      // postgres.js took a connection that closed back into its pool itself (to be opened again);
      // releasing it as well would hand the next statement a connection with no socket.
      if (!gone) reserved.release();
    }
  }
}

/**
 * What a tenant-scoped statement cancelled before it had a connection rejects with: postgres.js's own
 * code for a cancelled wait (57014, which the stores report as a retryable ServiceError); nothing was sent.
 */
function withdrawnError(): Error {
  return Object.assign(new Error("canceling the statement waiting for a connection due to user request"), {
    code: "57014",
  });
}

/**
 * The outcomes of a reserved connection's statements, in order, or the error that says the
 * connection is gone, as soon as one of them fails with it. postgres.js 3.4 (3.4.9, 3.4.10) keeps
 * the statements a reserved connection cannot take yet (one being described first, on a connection
 * that has not run it before) in a queue of the reservation's own, which nothing empties when the
 * connection closes: the statements it had sent fail, those behind them never settle. postgres.js
 * 4.2 rejects those too (with the killed statement's 57P01), so there all of them settle anyway:
 * with Promise.allSettled alone, the tenant-scoped append whose backends are killed in
 * reliability.int.test.ts hangs on 3.4.10 and passes on 4.2.0.
 */
function settledUnlessGone(statements: readonly PromiseLike<unknown>[]): Promise<PromiseSettledResult<unknown>[]> {
  return new Promise((resolve, reject) => {
    // Awaited in order: postgres.js sends a statement when it is first awaited.
    for (const statement of statements) {
      statement.then(undefined, (error: unknown) => {
        if (isConnectionGone(error)) reject(error);
      });
    }
    Promise.allSettled(statements).then(resolve);
  });
}
