import {
  assertObject,
  functionIssues,
  type Issue,
  type PersonalData,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS } from "../aws/index.js";
import type { AwsJsonClient, AwsJsonClientOptions } from "./client.js";
import { clientOption } from "./client.js";
import { DynamoDbEventStore, type DynamoDbEventStoreOptions, EVENT_STORE_KEYS } from "./event-store.js";
import { LAYOUT_OPTIONS, type TableLayoutOptions, tableLayout } from "./layout.js";
import { DynamoDbCheckpointStore } from "./read-model-store.js";
import { DynamoDbSnapshotStore, type DynamoDbSnapshotStoreOptions, SNAPSHOT_STORE_KEYS } from "./snapshot-store.js";

/**
 * What every tenant's stores share (the table and the client), besides each store's own options, and
 * what is given per tenant (`personalData`, whose subject keys are the tenant's).
 */
type Shared =
  | "tenant"
  | "tableName"
  | "partitionKey"
  | "sortKey"
  | "client"
  | "personalData"
  | keyof AwsJsonClientOptions;

export interface SharedTableTenantStoresOptions extends AwsJsonClientOptions, Omit<TableLayoutOptions, "tenant"> {
  /** The one client of every tenant's stores (and its retry budget); made from the other options when left out. */
  readonly client?: AwsJsonClient;
  /**
   * Crypto-shredding, per tenant: called once for each tenant's stores, its answer is given to that tenant's
   * event and snapshot stores. Give it the tenant's own key store (`new DynamoDbSubjectKeyStore({ client,
   * tableName, tenant, masterKey })`), so that its subject keys sit under its prefix and one tenant's erasure
   * of a subject id leaves another tenant's subject of the same id alone.
   */
  readonly personalData?: (tenant: string) => PersonalData;
  /** Options of each tenant's event store (the feed, the gap timeout, stream deletion, publishing...). */
  readonly eventStore?: Omit<DynamoDbEventStoreOptions, Shared>;
  /** Options of each tenant's snapshot store (compression, retry...). */
  readonly snapshotStore?: Omit<DynamoDbSnapshotStoreOptions, Shared>;
}

/** One tenant's stores in the shared table: every partition key they read or write starts with `<tenant>#`. */
export interface SharedTableTenantStores {
  readonly eventStore: DynamoDbEventStore;
  readonly snapshotStore: DynamoDbSnapshotStore;
  readonly checkpointStore: DynamoDbCheckpointStore;
}

const { tenant: _tenant, ...TABLE_LAYOUT } = LAYOUT_OPTIONS;
const OPTIONS = Object.keys({
  ...AWS_JSON_CLIENT_OPTIONS,
  ...TABLE_LAYOUT,
  client: true,
  personalData: true,
  eventStore: true,
  snapshotStore: true,
} satisfies Record<keyof SharedTableTenantStoresOptions, true>);
const SHARED = new Set<string>([...Object.keys(LAYOUT_OPTIONS), ...Object.keys(AWS_JSON_CLIENT_OPTIONS), "client"]);
const TABLE_KEYS = [...Object.keys(LAYOUT_OPTIONS), "client"];

/** A store's own keys: those of its options that the tenants do not share. */
function ownKeys(keys: readonly string[]): string[] {
  return keys.filter((key) => !SHARED.has(key));
}

/**
 * A `personalData` given to one store's options would be every tenant's: their subject keys in one key
 * store (outside every tenant's prefix, for a key store without `tenant`), so erasing a subject id in one
 * tenant would erase it in all. It is refused there with a message saying where it goes instead.
 */
function perTenantIssues(options: SharedTableTenantStoresOptions): Issue[] {
  const issues = functionIssues(options.personalData, ["personalData"]);
  for (const store of ["eventStore", "snapshotStore"] as const) {
    const own = options[store] as Record<string, unknown> | undefined;
    if (typeof own === "object" && own !== null && Object.hasOwn(own, "personalData")) {
      issues.push({
        path: [store, "personalData"],
        message:
          "give personalData as a function of the tenant (the top-level personalData option), so each tenant has its own subject keys",
      });
    }
  }
  return issues;
}

/**
 * The key-prefix strategy of `tenancy({ stores })`: every tenant in one table, each under its own
 * partition key prefix (`<tenant>#`), with a global feed, snapshots and checkpoints of its own.
 * Returns the `stores` factory; `tenancy()` calls it on a tenant's first use and caches what it made
 * (up to `maxTenants`). Stores are cheap to make (no request): the table must exist already (created by
 * the deployment, or once with `ensureEventStoreTable`), since a role limited to one tenant's keys
 * cannot describe or create it.
 * @throws {ValidationError} a bad table or key name, region, endpoint or credentials (at once), or a
 * tenant that is no tenant id (when the factory is called).
 */
export function sharedTableTenantStores(
  options: SharedTableTenantStoresOptions,
): (tenant: string) => SharedTableTenantStores {
  assertObject(options, [], "shared table tenant stores options");
  // Checked now, each store's own options too, rather than on the first tenant's (or never, for a
  // misspelt key its store would have dropped for its default).
  const unknown = [
    ...perTenantIssues(options),
    ...unknownKeyIssues(options, OPTIONS),
    ...unknownKeyIssues(options.eventStore, ownKeys(EVENT_STORE_KEYS), ["eventStore"]),
    ...unknownKeyIssues(options.snapshotStore, ownKeys(SNAPSHOT_STORE_KEYS), ["snapshotStore"]),
  ];
  if (unknown.length > 0) throw new ValidationError("Invalid shared table tenant stores options", unknown);
  const client = clientOption(options);
  const table = {
    tableName: options.tableName,
    ...(options.partitionKey === undefined ? {} : { partitionKey: options.partitionKey }),
    ...(options.sortKey === undefined ? {} : { sortKey: options.sortKey }),
    client,
  };
  // Fails now on a bad table or key name rather than on the first tenant.
  tableLayout(table, TABLE_KEYS);
  return (tenant) => {
    const personal = options.personalData === undefined ? {} : { personalData: options.personalData(tenant) };
    return {
      eventStore: new DynamoDbEventStore({ ...options.eventStore, ...personal, ...table, tenant }),
      snapshotStore: new DynamoDbSnapshotStore({ ...options.snapshotStore, ...personal, ...table, tenant }),
      checkpointStore: new DynamoDbCheckpointStore({ ...table, tenant }),
    };
  };
}
