import {
  assertKnownOptions,
  type ImportBatch,
  type ImportSource,
  importedEventId,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import type { PostgresSql } from "./client.js";
import { guard as guarded, SERVICE } from "./errors.js";

export interface EmmettPostgresSourceOptions {
  /** The schema of Emmett's tables (`emt_messages`); defaults to none, i.e. the connection's search path. */
  readonly schema?: string;
  /** Emmett's partition to read; defaults to `emt:default`, where Emmett 0.42 writes. */
  readonly partition?: string;
}

const OPTIONS = Object.keys({ schema: true, partition: true } satisfies Record<
  keyof EmmettPostgresSourceOptions,
  true
>);
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const EMMETT_SOURCE = "emmett-postgres";

type MessageRow = [
  streamId: string,
  streamPosition: string,
  globalPosition: string,
  type: string,
  messageId: string,
  data: string,
  metadata: string,
  created: string,
  transactionId: string,
];

// Output names differ from the columns': ORDER BY prefers an output name, and would sort the text.
const COLUMNS = `stream_id, stream_position::text AS version_text, global_position::text AS position_text,
  message_type, message_id, message_data::text AS data_text, message_metadata::text AS metadata_text,
  to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_text,
  transaction_id::text AS transaction_text`;

/**
 * Reads the events of an Emmett 0.42 store on PostgreSQL (`@event-driven-io/emmett-postgresql`) from
 * its `emt_messages` table, for `importEvents`. Emmett's stream position becomes the EventFlows
 * version (both count from 1), its stream id the stream id; its message type, data, metadata and
 * `created` time are kept; the event id is a ULID derived from Emmett's message id
 * (`importedEventId`), the same on every run. Archived messages and commands are not read.
 *
 * Batches follow Emmett's transactions, in the order of their ids (and each one's messages by global
 * position), each transaction whole: one append is one transaction. Only transactions below the
 * reader's snapshot xmin are read (finished ones, as Emmett's own readers require), so one that was
 * still running when a batch was read comes in a later batch. Not by global position: Emmett takes a
 * transaction's positions from a sequence before it commits, so a running append may hold positions
 * below those of one committed after it, which a read by position would have passed for good. The
 * position (the checkpoint) is the id of the last transaction read; `name` is `emmett-postgres-tx`,
 * so an import checkpointed by global position before 2026-12-05 reads its source once more, and
 * finds what it stored (counted as skipped).
 */
export function emmettPostgresSource(sql: PostgresSql, options: EmmettPostgresSourceOptions = {}): ImportSource {
  // A misspelt `partiton` imported the default partition's events, not the one asked for.
  assertKnownOptions(options, OPTIONS, "Emmett source options");
  if (options.schema !== undefined && !SCHEMA_PATTERN.test(options.schema)) {
    throw new ValidationError("Invalid schema name", [
      { path: ["schema"], message: "a schema name is lower-case letters, digits and underscores" },
    ]);
  }
  const table = options.schema === undefined ? "emt_messages" : `"${options.schema}".emt_messages`;
  const partition = options.partition ?? "emt:default";
  const events = `partition = $1 AND is_archived = FALSE AND message_kind = 'E'`;
  // In transaction order, finished transactions only: every transaction below the snapshot's xmin has
  // ended, and one still running then has an id at or above it, so no later read can find one behind
  // the position. Not by global position: a running append may hold a position below one committed.
  const read = `SELECT ${COLUMNS} FROM ${table}
WHERE ${events} AND transaction_id > $2::text::xid8
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position LIMIT $3`;
  const rest = `SELECT ${COLUMNS} FROM ${table}
WHERE ${events} AND transaction_id = $2::text::xid8 AND global_position > $3::text::bigint
ORDER BY global_position`;
  const head = `SELECT coalesce(max(transaction_id::text::bigint), 0)::text FROM ${table} WHERE partition = $1`;
  const where = options.schema === undefined ? "on the search path" : `in schema "${options.schema}"`;
  // The adapter's "tables do not exist: run the migrations" is about an EventFlows store, not this source.
  const guard = <T>(operation: string, run: () => Promise<T>): Promise<T> =>
    guarded(operation, run).catch((error: unknown) => {
      if (error instanceof ServiceError && (error.serviceCode === "42P01" || error.serviceCode === "3F000")) {
        throw new ServiceError(
          SERVICE,
          operation,
          error.serviceCode,
          false,
          `the source database holds no Emmett event table (emt_messages) ${where}: check the database and the schema option`,
          { cause: error.cause },
        );
      }
      throw error;
    });
  return {
    // Not EMMETT_SOURCE: checkpoints saved by global position (before 2026-12-05) are not transaction ids.
    name: `${EMMETT_SOURCE}-tx`,
    async *batches(position: number, limit: number): AsyncIterable<ImportBatch> {
      let after = position;
      for (;;) {
        const rows = (await guard("import", () =>
          sql.unsafe(read, [partition, String(after), limit], { prepare: true }).values(),
        )) as unknown as MessageRow[];
        if (rows.length === 0) return;
        const last = rows[rows.length - 1] as MessageRow;
        // The limit may cut the last transaction: its other messages complete the batch.
        const tail =
          rows.length < limit
            ? []
            : ((await guard("import", () =>
                sql.unsafe(rest, [partition, last[8], last[2]], { prepare: true }).values(),
              )) as unknown as MessageRow[]);
        after = Number(last[8]);
        yield { events: await Promise.all([...rows, ...tail].map(toImported)), position: after };
        if (rows.length < limit) return;
      }
    },
    async head(): Promise<number> {
      const [row] = (await guard("import", () => sql.unsafe(head, [partition]).values())) as unknown as [string][];
      return Number(row?.[0] ?? 0);
    },
  };
}

async function toImported([streamId, version, , type, messageId, data, metadata, created]: MessageRow) {
  return {
    streamId,
    version: Number(version),
    id: await importedEventId(EMMETT_SOURCE, messageId, created),
    type,
    data: JSON.parse(data) as unknown,
    metadata: JSON.parse(metadata) as Record<string, unknown>,
    timestamp: created,
  };
}
