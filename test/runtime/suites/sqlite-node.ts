/**
 * @eventflows/core/sqlite on node:sqlite (`DatabaseSync`, Node 22.5+): a file database in a
 * temporary folder per suite, WAL. Runs in the Node 22 pass of test/runtime/node/run.ts only, since
 * Node 20 has no node:sqlite.
 */
import { type NodeSqliteDatabase, nodeSqliteDriver } from "../../../adapters/sqlite/index.js";
import type { OpenedSuite, SuiteModule } from "../runtime-suite.js";
import {
  kindLabel,
  migrated,
  SQLITE_CONTRACTS,
  SQLITE_KINDS,
  type SqliteContract,
  sqliteContract,
} from "./sqlite-contracts.js";
import { tenancySqliteSuite } from "./tenancy.js";

interface NodeModules {
  readonly DatabaseSync: new (path: string) => NodeSqliteDatabase & { close(): void };
  readonly fs: { mkdtempSync(prefix: string): string; rmSync(path: string, options: object): void };
  readonly tmp: string;
}

// Imported when a suite opens, never at load: this file is imported wherever the suite list is.
async function nodeModules(): Promise<NodeModules> {
  const specifiers = ["node:sqlite", "node:fs", "node:os"];
  const [sqlite, fs, os] = (await Promise.all(specifiers.map((s) => import(s)))) as [
    { DatabaseSync: NodeModules["DatabaseSync"] },
    NodeModules["fs"],
    { tmpdir(): string },
  ];
  return { DatabaseSync: sqlite.DatabaseSync, fs, tmp: os.tmpdir() };
}

async function open(kind: SqliteContract): Promise<OpenedSuite> {
  const { DatabaseSync, fs, tmp } = await nodeModules();
  const dir = fs.mkdtempSync(`${tmp}/eventflows-node-sqlite-`);
  const db = new DatabaseSync(`${dir}/${kind}.db`);
  const driver = await migrated(nodeSqliteDriver(db));
  return {
    suite: sqliteContract(kind, "node:sqlite, file, WAL", driver),
    close: async () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database file per tenant in one temporary folder, each closed and removed after its case. */
async function openPerTenant(): Promise<OpenedSuite> {
  const { DatabaseSync, fs, tmp } = await nodeModules();
  const dir = fs.mkdtempSync(`${tmp}/eventflows-node-tenants-`);
  const open = new Map<string, { close(): void }>();
  return {
    suite: tenancySqliteSuite(
      "node:sqlite, a file per tenant",
      (tenant) => {
        const db = new DatabaseSync(`${dir}/${tenant}.db`);
        open.set(tenant, db);
        return nodeSqliteDriver(db);
      },
      (tenants) => {
        for (const tenant of tenants) {
          open.get(tenant)?.close();
          open.delete(tenant);
        }
      },
    ),
    close: async () => {
      for (const db of open.values()) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sqliteNodeSuites: SuiteModule = {
  services: [],
  workerdFlags: [],
  runtimes: ["node22", "deno"],
  suites: [
    ...SQLITE_KINDS.map((kind) => ({
      name: `sqlite (node:sqlite) ${kindLabel(kind)}`,
      contract: SQLITE_CONTRACTS[kind],
      open: () => open(kind),
    })),
    { name: "sqlite (node:sqlite) tenant isolation", contract: "tenantIsolationContract", open: openPerTenant },
  ],
};
