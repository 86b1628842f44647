import type { ReadModelDrop, ReadModelSwap } from "../../src/index.js";
import type { PostgresTransactionSql } from "./client.js";
import { guard } from "./errors.js";
import type { TableNames } from "./names.js";

/**
 * Swaps a read-model generation in, inside the caller's transaction: readers see the documents
 * before or after it, never between (MVCC). The checkpoints go first: that locks the live
 * checkpoint row, so a live runner's batch in flight either commits before the swap or fails its
 * compare-and-set after it and rolls its documents back.
 */
export async function swapGeneration(sql: PostgresTransactionSql, names: TableNames, swap: ReadModelSwap) {
  const cp = names.checkpoints;
  const rm = names.readModels;
  const moves = JSON.stringify(swap.checkpoints.map(({ from, to }) => ({ f: from, t: to })));
  const collections = JSON.stringify(swap.collections.map(({ from, to }) => ({ f: from, t: to })));
  const documents = JSON.stringify(
    swap.documents.map(({ from, to }) => ({ fc: from.collection, fi: from.id, tc: to.collection, ti: to.id })),
  );
  const pairs = "jsonb_to_recordset($1::text::jsonb) AS r(f text, t text)";
  const keys = "jsonb_to_recordset($1::text::jsonb) AS r(fc text, fi text, tc text, ti text)";
  const steps: [string, string][] = [
    [`DELETE FROM ${cp} AS c USING ${pairs} WHERE c.id = r.t`, moves],
    [`UPDATE ${cp} AS c SET id = r.t, updated_at = now() FROM ${pairs} WHERE c.id = r.f`, moves],
    [`DELETE FROM ${rm} AS d USING ${pairs} WHERE d.collection = r.t`, collections],
    [`UPDATE ${rm} AS d SET collection = r.t, updated_at = now() FROM ${pairs} WHERE d.collection = r.f`, collections],
    [`DELETE FROM ${rm} AS d USING ${keys} WHERE d.collection = r.tc AND d.id = r.ti`, documents],
    [
      `UPDATE ${rm} AS d SET collection = r.tc, id = r.ti, updated_at = now() FROM ${keys}
  WHERE d.collection = r.fc AND d.id = r.fi`,
      documents,
    ],
  ];
  for (const [statement, json] of steps) {
    if (json === "[]") continue;
    await guard("swapReadModels", () => sql.unsafe(statement, [json], { prepare: true }));
  }
}

/** Removes a generation's collections, documents and checkpoints, inside the caller's transaction. */
export async function dropGeneration(sql: PostgresTransactionSql, names: TableNames, drop: ReadModelDrop) {
  const steps: [string, string][] = [
    [
      `DELETE FROM ${names.checkpoints} WHERE id IN (SELECT jsonb_array_elements_text($1::text::jsonb))`,
      JSON.stringify(drop.checkpoints),
    ],
    [
      `DELETE FROM ${names.readModels} WHERE collection IN (SELECT jsonb_array_elements_text($1::text::jsonb))`,
      JSON.stringify(drop.collections),
    ],
    [
      `DELETE FROM ${names.readModels} AS d USING jsonb_to_recordset($1::text::jsonb) AS r(c text, i text)
  WHERE d.collection = r.c AND d.id = r.i`,
      JSON.stringify(drop.documents.map(({ collection, id }) => ({ c: collection, i: id }))),
    ],
  ];
  for (const [statement, json] of steps) {
    if (json === "[]") continue;
    await guard("dropReadModels", () => sql.unsafe(statement, [json], { prepare: true }));
  }
}
