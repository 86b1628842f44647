import {
  assertFunction,
  assertKnownOptions,
  ConcurrencyError,
  type EnvSource,
  EVENT_STORE_OPTIONS,
  type EventEnvelope,
  type EventStoreOptions,
  type ExpectedVersion,
  type Issue,
  integerOptionIssues,
  type PendingEvent,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { appendEvents, type Committed, isLostRace, type StoreContext } from "./append.js";
import {
  createPostgresClient,
  opensTransactions,
  type PostgresClientOptions,
  type PostgresQueryable,
  type PostgresReservedSql,
  type PostgresSql,
  type PostgresTransactionSql,
} from "./client.js";
import { DEFAULT_MAX_EVENT_BYTES } from "./encode.js";
import { guard } from "./errors.js";
import {
  type AnyProjection,
  anyProjectionTakes,
  appendProjected,
  assertInlineProjections,
} from "./inline-projection.js";
import { type MigrateOptions, type MigrateResult, migrate } from "./migrate.js";
import { NAME_OPTIONS, nameIssues, type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
import { statements } from "./statements.js";
import { PostgresStoreBase } from "./store-base.js";
import { PostgresTransaction } from "./transaction.js";
import { beginUnlessGone } from "./transaction-scope.js";

export interface PostgresEventStoreOptions extends EventStoreOptions, PostgresNameOptions {
  /**
   * A postgres.js client the application owns (and closes). A transaction (`sql.begin`'s callback
   * argument) or a reserved connection (`sql.reserve()`) works too: appends then join it, and `migrate`,
   * `withTransaction` and projection runners, which need a client, are refused.
   */
  readonly sql?: PostgresSql | PostgresTransactionSql | PostgresReservedSql;
  /** Or a connection URL: the store creates a client with {@link DEFAULT_CLIENT_OPTIONS} and `close()` ends it. */
  readonly url?: string;
  /** Options for the client the store creates; any postgres.js option. */
  readonly client?: PostgresClientOptions;
  /** Where `DATABASE_URL` is looked up when neither `sql` nor `url` is given (Workers bindings). */
  readonly env?: EnvSource;
  /** Largest event accepted (data and metadata as JSON, UTF-8 bytes). Defaults to 1 MiB. */
  readonly maxEventBytes?: number;
  /**
   * Events the first query of a read fetches. Defaults to 1,000. Each following page asks for 16
   * times as many, up to 16 times this (`PAGE_GROWTH`, `PAGE_GROWTH_LIMIT` in read.ts), so a long
   * read makes few round trips.
   */
  readonly readPageSize?: number;
  /**
   * Inline projections (`projection({ ... })`): updated in the append's own transaction, through the
   * transaction's read models (`postgresSqlOf(readModels)` for tables of your own). A handler that
   * throws rolls the append back with a `ProjectionFailedError`.
   */
  readonly projections?: readonly AnyProjection[];
}

export type TransactionIsolation = "read committed" | "repeatable read" | "serializable";

export interface WithTransactionOptions {
  /** Defaults to PostgreSQL's own, read committed. */
  readonly isolation?: TransactionIsolation;
}

const ISOLATION_LEVELS: readonly string[] = ["read committed", "repeatable read", "serializable"];

const OPTIONS = Object.keys({
  ...EVENT_STORE_OPTIONS,
  ...NAME_OPTIONS,
  sql: true,
  url: true,
  client: true,
  env: true,
  maxEventBytes: true,
  readPageSize: true,
  projections: true,
} satisfies Record<keyof PostgresEventStoreOptions, true>);
const TRANSACTION_OPTIONS = Object.keys({ isolation: true } satisfies Record<keyof WithTransactionOptions, true>);

/**
 * The event store on PostgreSQL (postgres.js). One round trip per append; a global order readers
 * never skip; idempotent appends by event id; transactions spanning streams and read models;
 * inline and asynchronous projections. Run {@link PostgresEventStore.migrate} (or the
 * `eventflows-pg migrate` command) once before use.
 */
export class PostgresEventStore extends PostgresStoreBase {
  /** The postgres.js client (or transaction, or reserved connection): given, or created from `url`. */
  readonly sql: PostgresSql | PostgresTransactionSql | PostgresReservedSql;
  readonly names: TableNames;
  readonly #ownsClient: boolean;
  /**
   * Whether each statement runs in a transaction of its own. Not when the application handed in a
   * transaction or a reserved connection (no \`begin\`): appends then take the in-transaction path.
   */
  readonly #autocommit: boolean;
  readonly #projections: readonly AnyProjection[];

  constructor(options: PostgresEventStoreOptions = {}) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL event store options", issues);
    const names = tableNames(options, OPTIONS);
    const context: StoreContext = {
      names,
      statements: statements(names),
      maxEventBytes: options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
      readPageSize: options.readPageSize ?? 1000,
      feed: { probing: false },
    };
    super(context, options);
    this.names = names;
    this.#projections = options.projections ?? [];
    this.#ownsClient = options.sql === undefined;
    this.sql = options.sql ?? createPostgresClient(options.url, options.client, options.env);
    this.#autocommit = opensTransactions(this.sql);
  }

  /** On your own transaction (or a reserved connection) an append joins it: committed, or not, later. */
  protected override get appendsCommit(): boolean {
    return this.#autocommit;
  }

  protected get queryable(): PostgresQueryable {
    return this.sql;
  }

  /** Creates or upgrades this store's tables (idempotent; safe to run from many instances at once). */
  async migrate(options: Pick<MigrateOptions, "to"> = {}): Promise<MigrateResult> {
    // `to` only: a schema or table prefix (an untyped call) would migrate tables this store does not use.
    assertKnownOptions(options, ["to"], "migrate options");
    return migrate(this.#client("migrate"), {
      schema: this.names.schema,
      tablePrefix: this.names.tablePrefix,
      ...options,
    });
  }

  /**
   * Runs `work` in one database transaction: appends through `tx` (to any streams) and statements
   * through `tx.sql` commit together, or, if `work` throws, none of them does. Inline projections
   * run in it too. After the commit, each append goes through the store's after-commit step: the
   * store's subscriptions wake and the events are published to its bus, append by append.
   *
   * Inside a transaction a lost race on a stream aborts the transaction (PostgreSQL aborts it on
   * the failed statement): the ConcurrencyError propagates, and the whole unit should be retried.
   */
  readonly #plaintext = (events: readonly EventEnvelope[]) => this.decryptList(events);

  async withTransaction<T>(
    work: (tx: PostgresTransaction) => Promise<T> | T,
    options: WithTransactionOptions = {},
  ): Promise<T> {
    assertFunction(work, "work", "transaction");
    // A misspelt `isolaton` ran the work at read committed, not the level it asked for.
    assertKnownOptions(options, TRANSACTION_OPTIONS, "transaction options");
    const isolation = options.isolation ?? "read committed";
    if (!ISOLATION_LEVELS.includes(isolation)) {
      throw new ValidationError("Invalid transaction options", [
        { path: ["isolation"], message: `isolation must be one of ${ISOLATION_LEVELS.join(", ")}` },
      ]);
    }
    let transaction: PostgresTransaction | undefined;
    try {
      const result = (await guard("withTransaction", () =>
        beginUnlessGone(this.#client("withTransaction"), `isolation level ${isolation}`, async (txSql) => {
          transaction = new PostgresTransaction(
            txSql,
            this.context,
            this.#projections,
            this.maxJsonDepth,
            this.eventRegistry,
            this.personalData,
          );
          return work(transaction);
        }),
      )) as T;
      // The transaction's appends are kept as stored: personal fields go to the bus decrypted.
      for (const events of transaction?.end() ?? []) await this.afterCommit(await this.decryptList(events));
      return result;
    } catch (error) {
      throw isLostRace(error) ? await this.#withStreamVersion(error as ConcurrencyError) : error;
    } finally {
      transaction?.end();
    }
  }

  /** A race lost inside a transaction, with the stream's version read once the transaction has rolled back. */
  async #withStreamVersion(lost: ConcurrencyError): Promise<ConcurrencyError> {
    const actual = await this.getStreamVersion(lost.streamId).catch(() => lost.actualVersion);
    return new ConcurrencyError(lost.streamId, lost.expectedVersion, actual, { cause: lost.cause });
  }

  /**
   * Ends the client if the store created it, letting running queries finish for up to
   * `timeoutSeconds`. A client passed in as `sql` belongs to the application and is left open.
   */
  async close(timeoutSeconds = 5): Promise<void> {
    if (this.#ownsClient) await (this.sql as PostgresSql).end({ timeout: timeoutSeconds });
  }

  /** The client, for what needs to open transactions of its own. */
  #client(operation: string): PostgresSql {
    if (!this.#autocommit) {
      throw new ValidationError("This store runs on a transaction or a reserved connection", [
        { path: ["sql"], message: `${operation} needs a postgres.js client (postgres(...)) as sql` },
      ]);
    }
    return this.sql as PostgresSql;
  }

  protected async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<Committed> {
    const types = events.map((e) => e.type);
    if (!anyProjectionTakes(this.#projections, streamId, types)) {
      return appendEvents(this.sql, this.context, streamId, events, expectedVersion, this.#autocommit);
    }
    if (!this.#autocommit) {
      // Already inside the application's transaction: it commits or rolls back the projections too.
      const tx = this.sql as PostgresTransactionSql;
      return appendProjected(tx, this.context, this.#projections, streamId, events, expectedVersion, this.#plaintext);
    }
    // A transaction of its own, run again after each lost race (each one is another append stored,
    // so this ends): "any" then appends after the winner, an exact expectation reports the version.
    for (;;) {
      try {
        return (await guard("appendToStream", () =>
          beginUnlessGone(this.sql as PostgresSql, undefined, (tx) =>
            appendProjected(tx, this.context, this.#projections, streamId, events, expectedVersion, this.#plaintext),
          ),
        )) as Committed;
      } catch (error) {
        if (!isLostRace(error)) throw error;
      }
    }
  }
}

/** Creates a {@link PostgresEventStore}. */
export function createPostgresEventStore(options: PostgresEventStoreOptions = {}): PostgresEventStore {
  return new PostgresEventStore(options);
}

function optionIssues(options: PostgresEventStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options must be an object" }];
  // A misspelt `readPageSise` or `schmea` was dropped: the default served without a word. (`client` is
  // postgres.js's own options, handed over as they are.)
  const issues = [...unknownKeyIssues(options, OPTIONS), ...nameIssues(options)];
  issues.push(
    ...integerOptionIssues(options.maxEventBytes, "maxEventBytes", 256 * 1024 * 1024),
    ...integerOptionIssues(options.readPageSize, "readPageSize", 100_000),
  );
  if (options.sql !== undefined && typeof options.sql !== "function") {
    issues.push({ path: ["sql"], message: "sql must be a postgres.js client (postgres(...))" });
  }
  if (options.sql !== undefined && options.url !== undefined) {
    issues.push({ path: ["url"], message: "pass either sql or url, not both" });
  }
  // Its after-commit step runs when the INSERT returns, and the transaction may still roll back:
  // events that were never stored reached the bus, and a saga there acted on them.
  if (
    options.bus !== undefined &&
    typeof (options.sql as { savepoint?: unknown } | undefined)?.savepoint === "function"
  ) {
    issues.push({
      path: ["bus"],
      message:
        "a store on your own transaction cannot publish after it commits, which it cannot see: publish the appended events once your transaction has committed, or use withTransaction",
    });
  }
  if (options.projections !== undefined) {
    try {
      assertInlineProjections(options.projections);
    } catch (error) {
      issues.push(...((error as ValidationError).issues ?? []));
    }
  }
  return issues;
}
