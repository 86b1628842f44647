import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { healthCheck, isServiceError } from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { deadDatabaseProxy } from "../../test/postgres/dead-database-proxy.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import {
  createPostgresClient,
  PostgresCheckpointStore,
  PostgresDedupStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresSnapshotStore,
  type PostgresSql,
  PostgresSubjectKeyStore,
  tenantScopedSql,
} from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("ping");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 2 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

describe("PostgreSQL ping and healthCheck", () => {
  test("every store answers ping on a real server", async () => {
    const report = await healthCheck({
      checks: {
        events: new PostgresEventStore({ sql, schema }),
        snapshots: new PostgresSnapshotStore({ sql, schema }),
        checkpoints: new PostgresCheckpointStore({ sql, schema }),
        dedup: new PostgresDedupStore({ sql, schema }),
        idempotency: new PostgresIdempotencyStore({ sql, schema }),
      },
    });
    expect(report.healthy).toBe(true);
    expect(Object.values(report.checks).map((check) => check.status)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });

  test("on a schema not migrated every store's ping fails, saying to run the migrations: readiness is no longer ok", async () => {
    // A `select 1` answered while every command failed on the missing tables (DynamoDB's ping fails on a missing table).
    const bare = uniqueSchema("ping_bare");
    await sql.unsafe(`CREATE SCHEMA ${bare}`);
    const masterKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    try {
      const stores = {
        events: new PostgresEventStore({ sql, schema: bare }),
        snapshots: new PostgresSnapshotStore({ sql, schema: bare }),
        checkpoints: new PostgresCheckpointStore({ sql, schema: bare }),
        dedup: new PostgresDedupStore({ sql, schema: bare }),
        idempotency: new PostgresIdempotencyStore({ sql, schema: bare }),
        subjectKeys: new PostgresSubjectKeyStore({ sql, schema: bare, masterKey }),
      };
      for (const [name, store] of Object.entries(stores)) {
        const error = await store.ping().catch((e: unknown) => e);
        expect({ name, service: isServiceError(error) }).toEqual({ name, service: true });
        expect((error as Error).message).toContain("run the migrations");
        // The message is ours; the server's (naming the relation) stays in the sanitized cause, for the logs.
        expect((error as Error).message).not.toContain(bare);
      }
      const report = await healthCheck({ checks: stores });
      expect(report.healthy).toBe(false);
      // Migrated, the same stores answer.
      await new PostgresEventStore({ sql, schema: bare }).migrate();
      expect((await healthCheck({ checks: stores })).healthy).toBe(true);
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${bare} CASCADE`);
    }
  });

  test("a signal that is no AbortSignal is a ValidationError, not a TypeError from inside the ping", async () => {
    const stores = [
      new PostgresEventStore({ sql, schema }),
      new PostgresSnapshotStore({ sql, schema }),
      new PostgresCheckpointStore({ sql, schema }),
      new PostgresDedupStore({ sql, schema }),
      new PostgresIdempotencyStore({ sql, schema }),
    ];
    for (const store of stores) {
      // A Proxy whose traps throw (getPrototypeOf under instanceof) let the trap's error out.
      const hostile = new Proxy(
        {},
        {
          getPrototypeOf: () => {
            throw new Error("trap");
          },
        },
      );
      for (const signal of [5, "abort", {}, hostile]) {
        const error = await store.ping(signal as never).catch((e: unknown) => e);
        expect((error as { code?: unknown }).code).toBe("VALIDATION_FAILED");
      }
      await store.ping(null as never);
    }
  });

  test("a server nobody listens on fails the check with SERVICE_ERROR, without the URL in the report", async () => {
    // Port 1 on loopback: connections are refused at once.
    const down = createPostgresClient("postgres://watcher:s3cret-pass@127.0.0.1:1/nowhere", { max: 1 });
    const errors: unknown[] = [];
    try {
      const report = await healthCheck({
        checks: { events: new PostgresEventStore({ sql: down }) },
        timeoutMs: 5000,
        onError: (_name, error) => errors.push(error),
      });
      expect(report.healthy).toBe(false);
      expect(report.checks.events).toMatchObject({ status: "failed", code: "SERVICE_ERROR" });
      expect(JSON.stringify(report)).not.toContain("s3cret");
      expect(errors).toHaveLength(1);
    } finally {
      await down.end({ timeout: 0 });
    }
  });

  // healthCheck aborts a ping at its timeoutMs. An abort while the ping still waited for a connection
  // (a database down behind a proxy that closes what it accepts) cancelled the connection's first
  // statement, which left that connection, once open, never ready: on the application's own client
  // (no connect_timeout bound of ours), every later ping and call waited for ever.
  test("a ping aborted while the database is down leaves the application's own client working once it is back", async () => {
    const proxy = await deadDatabaseProxy(await ensurePostgres());
    const own = postgres(proxy.url, { max: 1, onnotice: () => undefined });
    const store = new PostgresEventStore({ sql: own, schema });
    try {
      const down = await healthCheck({ checks: { events: store }, timeoutMs: 300 });
      expect(down.checks.events).toMatchObject({ status: "timed-out" });
      proxy.up = true;
      const up = await healthCheck({ checks: { events: store }, timeoutMs: 5000 });
      expect(up.checks.events).toMatchObject({ status: "ok" });
    } finally {
      await own.end({ timeout: 0 });
      await proxy.close();
    }
  }, 20_000);

  // postgres.js rejects a statement it cancels before sending it (one waiting for a connection) with
  // its own 57014, without a server's fields: 3.4's bare (it left the library raw, its stack into
  // postgres.js), 4.x's with the statement attached (it came out as a CLIENT_ERROR, not retryable).
  test("a ping aborted while it waits for a connection is a retryable ServiceError 57014 showing no SQL or address", async () => {
    const client = createPostgresClient(await ensurePostgres(), { max: 1 });
    const held = await client.reserve();
    const controller = new AbortController();
    try {
      const pinging = new PostgresCheckpointStore({ sql: client, schema }).ping(controller.signal);
      // After the microtask in which postgres.js hands the statement to its pool: it waits there.
      await new Promise((resolve) => setTimeout(resolve, 0));
      controller.abort();
      const error = await pinging.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({ service: "postgres", serviceCode: "57014", retryable: true });
      const shown = everythingShown(error);
      for (const secret of ["select 1", new URL(await ensurePostgres()).port, "node_modules"]) {
        expect(shown).not.toContain(secret);
      }
    } finally {
      held.release();
      await client.end();
    }
  });

  // postgres.js 4 hands a statement to its pool a microtask after it is awaited; cancelled before that,
  // it is only marked, and the mark was cleared (cancelStatement's emptying, which 3.4 needs): the
  // ping ran and resolved after its abort, or, the pool full, waited for queue_timeout.
  test("a ping aborted at once is cancelled (57014), whether a connection is free or not", async () => {
    for (const full of [false, true]) {
      const client = createPostgresClient(await ensurePostgres(), { max: 1 });
      await client`select 1`;
      const held = full ? await client.reserve() : undefined;
      try {
        const controller = new AbortController();
        const pinging = new PostgresCheckpointStore({ sql: client, schema }).ping(controller.signal);
        controller.abort();
        const outcome = await pinging.then(
          () => "resolved",
          (e: unknown) => e,
        );
        expect(outcome).toMatchObject({ service: "postgres", serviceCode: "57014", retryable: true });
        held?.release();
        // The connection serves the next call.
        expect(await new PostgresCheckpointStore({ sql: client, schema }).ping()).toBeUndefined();
      } finally {
        await client.end();
      }
    }
  });

  // A tenant-scoped statement first reserves a connection; aborted while that waited (every connection
  // reserved), the ping went on waiting: until a connection was free, then cancelled, or until
  // connect_timeout (CONNECT_TIMEOUT, QUEUE_TIMEOUT on postgres.js 4).
  test("a ping on a tenant-scoped client aborted while every connection is reserved ends its wait as a retryable ServiceError 57014, and the client goes on working", async () => {
    const client = createPostgresClient(await ensurePostgres(), { max: 1, connect_timeout: 5 });
    const scoped = tenantScopedSql(client, "acme");
    const held = await client.reserve();
    let released = false;
    try {
      const controller = new AbortController();
      const pinging = new PostgresEventStore({ sql: scoped, schema }).ping(controller.signal);
      // Long enough for the reservation to be waiting in postgres.js's queue.
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      // Settles while the other reservation still holds the only connection.
      const outcome = await pinging.then(
        () => "resolved",
        (e: unknown) => e,
      );
      expect(isServiceError(outcome)).toBe(true);
      expect(outcome).toMatchObject({ service: "postgres", serviceCode: "57014", retryable: true });
      expect(everythingShown(outcome)).not.toContain("select 1");
      held.release();
      released = true;
      // The connection serves the next tenant-scoped call, and the client's own.
      expect(await new PostgresEventStore({ sql: scoped, schema }).ping()).toBeUndefined();
      expect(await new PostgresEventStore({ sql: client, schema }).ping()).toBeUndefined();
    } finally {
      if (!released) held.release();
      await client.end();
    }
  }, 20_000);

  // A tenant-scoped client runs a statement on a reserved connection; cancelling it there before it was
  // sent left that connection never ready: the aborted ping never settled and the connection was lost.
  test("a ping aborted on a tenant-scoped client settles with its query cancelled, and the client goes on working", async () => {
    const scoped = tenantScopedSql(sql, "acme");
    const store = new PostgresEventStore({ sql: scoped, schema });
    const unsafe = scoped.unsafe.bind(scoped);
    let cancelled = 0;
    const watched = new Proxy(scoped, {
      get(target, property, receiver) {
        if (property !== "unsafe") return Reflect.get(target, property, receiver);
        return (...args: Parameters<typeof unsafe>) => {
          const query = unsafe(...args);
          const cancel = query.cancel.bind(query);
          return Object.assign(query, {
            cancel: () => {
              cancelled++;
              return cancel();
            },
          });
        };
      },
    });
    const controller = new AbortController();
    const pinging = new PostgresEventStore({ sql: watched, schema }).ping(controller.signal).catch(() => undefined);
    controller.abort();
    await pinging;
    expect(cancelled).toBe(1);
    expect(await store.ping()).toBeUndefined();
  });
});
