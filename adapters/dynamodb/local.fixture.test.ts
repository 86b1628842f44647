/**
 * Shared by the DynamoDB integration tests: DynamoDB Local (started or reused through the service
 * harness), stores on throwaway tables, and fetch wrappers that hold or break requests. (No tests
 * in this file.)
 */
import { afterAll, beforeAll } from "bun:test";
import { ulid } from "../../src/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import type { FetchFunction } from "../aws/index.js";
import { createDynamoDbClient, DynamoDbEventStore, type DynamoDbEventStoreOptions } from "./index.js";

export interface LocalDynamoDb {
  readonly endpoint: DynamoDbEndpoint;
  /** A store on a new table (created now), or on `tableName` if given. */
  store(options?: Partial<DynamoDbEventStoreOptions>): Promise<DynamoDbEventStore>;
}

/** Registers beforeAll/afterAll hooks in the calling file: tables made through it are dropped at the end. */
export function useLocalDynamoDb(): LocalDynamoDb {
  let endpoint: DynamoDbEndpoint | undefined;
  const tables = new Set<string>();
  beforeAll(async () => {
    endpoint = await ensureDynamoDb();
  }, 120_000);
  afterAll(async () => {
    if (endpoint === undefined) return;
    const client = createDynamoDbClient(endpoint);
    for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
  });
  const need = () => {
    if (endpoint === undefined) throw new Error("DynamoDB Local is not up (beforeAll failed)");
    return endpoint;
  };
  return {
    get endpoint() {
      return need();
    },
    async store(options = {}) {
      const tableName = options.tableName ?? `test_${ulid()}`;
      const store = new DynamoDbEventStore({ ...need(), ...options, tableName });
      if (!tables.has(tableName)) {
        tables.add(tableName);
        await store.ensureTable();
      }
      return store;
    },
  };
}

/** The DynamoDB operation of a request and its body text. */
export async function inspect(request: Request): Promise<{ operation: string; body: string }> {
  const target = request.headers.get("x-amz-target") ?? "";
  return { operation: target.slice(target.indexOf(".") + 1), body: await request.clone().text() };
}

/**
 * A fetch that holds back the requests `matches` selects until `release()` (then sends them), and
 * passes everything else through. `held` resolves once the first one is being held.
 */
export function gate(matches: (operation: string, body: string) => boolean) {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let heldOne: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    heldOne = resolve;
  });
  let holding = true;
  const operations: string[] = [];
  const fetch: FetchFunction = async (request) => {
    const { operation, body } = await inspect(request);
    operations.push(operation);
    if (holding && matches(operation, body)) {
      heldOne();
      await opened;
    }
    return globalThis.fetch(request);
  };
  return {
    fetch,
    held,
    /** Every operation sent through this fetch, in order. */
    operations,
    release() {
      holding = false;
      open();
    },
  };
}

/** A deterministic random source (mulberry32), so a fault pattern can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
