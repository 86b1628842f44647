import {
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
 * Batches follow Emmett's global position, and each batch is completed with the rest of the
 * transactions it touches: Emmett numbers one append's messages from a sequence in no particular
 * stream order, and concurrent appends interleave, so a cut by position alone could split a
 * stream's append. Only transactions below the reader's snapshot xmin are read (finished ones, as
 * Emmett's own readers require). The position (the checkpoint) is the global position the batch
 * reached; a resumed run may read again the tail of a transaction, which the import recognises.
 */
export function emmettPostgresSource(sql: PostgresSql, options: EmmettPostgresSourceOptions = {}): ImportSource {
  if (options.schema !== undefined && !SCHEMA_PATTERN.test(options.schema)) {
    throw new ValidationError("Invalid schema name", [
      { path: ["schema"], message: "a schema name is lower-case letters, digits and underscores" },
    ]);
  }
  const table = options.schema === undefined ? "emt_messages" : `"${options.schema}".emt_messages`;
  const partition = options.partition ?? "emt:default";
  const events = `partition = $1 AND is_archived = FALSE AND message_kind = 'E'`;
  // Transactions a batch took whole are left out of the next reads: their tails lie past its position.
  const read = `SELECT ${COLUMNS} FROM ${table}
WHERE ${events} AND global_position > $2::text::bigint
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND transaction_id::text <> ALL(ARRAY(SELECT jsonb_array_elements_text($4::text::jsonb)))
ORDER BY global_position LIMIT $3`;
  const rest = `SELECT ${COLUMNS} FROM ${table}
WHERE ${events} AND global_position > $2::text::bigint
  AND transaction_id::text = ANY(ARRAY(SELECT jsonb_array_elements_text($3::text::jsonb)))`;
  const head = `SELECT coalesce(max(global_position), 0)::text FROM ${table} WHERE partition = $1`;
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
    name: EMMETT_SOURCE,
    async *batches(position: number, limit: number): AsyncIterable<ImportBatch> {
      let after = position;
      // Transactions taken whole, with the highest position each holds.
      let taken = new Map<string, number>();
      for (;;) {
        const rows = (await guard("import", () =>
          sql
            .unsafe(read, [partition, String(after), limit, JSON.stringify([...taken.keys()])], { prepare: true })
            .values(),
        )) as unknown as MessageRow[];
        if (rows.length === 0) return;
        const last = Number(rows[rows.length - 1]?.[2]);
        const transactions = [...new Set(rows.map((row) => row[8]))];
        const tails = (await guard("import", () =>
          sql.unsafe(rest, [partition, String(last), JSON.stringify(transactions)], { prepare: true }).values(),
        )) as unknown as MessageRow[];
        const all = [...rows, ...tails];
        const next = new Map([...taken].filter(([, max]) => max > last));
        for (const row of all) {
          const at = Number(row[2]);
          if (at > last) next.set(row[8], Math.max(next.get(row[8]) ?? 0, at));
        }
        taken = next;
        after = last;
        yield { events: await Promise.all(all.map(toImported)), position: last };
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
