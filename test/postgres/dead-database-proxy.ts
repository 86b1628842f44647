/**
 * A proxy in front of a database that is down, then back: a TCP listener that accepts each connection
 * and closes it at once (what a pooler or a load balancer does while the database behind it is
 * unreachable), then forwards to the real server. Run by `reliability.int.test.ts` on Bun in-process,
 * and on Node as `node --import ./bench/lib/node-ts.mjs test/postgres/dead-database-proxy.ts <url> <schema>`,
 * which prints the outcome as one JSON line.
 */
import { connect, createServer, type Socket } from "node:net";
import { isPostgresJs4 } from "../../adapters/postgres/client.ts";
import { PostgresEventStore } from "../../adapters/postgres/index.ts";
import { isServiceError, ulid } from "../../src/index.ts";

export interface DeadDatabaseOutcome {
  readonly runtime: string;
  /**
   * What each call made while the database was down ended with. How long it took is not kept: the calls
   * used to never settle, so their settling at all (within the test's timeout) is what is checked.
   */
  readonly whileDown: readonly { readonly outcome: string; readonly retryable?: boolean }[];
  /** Whether the client is postgres.js 4's. */
  readonly fourth: boolean;
  /**
   * What the first append after the database came back ended with: "resolved", or on postgres.js 4
   * possibly the last connection failure, which 4.x answers at once until its reconnect pause is over.
   */
  readonly afterUp: string;
  readonly afterUpRetryable?: boolean;
  /** What an append once that pause (at most a quarter of connect_timeout, see reconnectBackoff) is over ended with. */
  readonly afterPause: string;
  /** The events of the stream the calls made while down appended to, read once the database was back. */
  readonly storedWhileDown: number;
}

/**
 * A proxy to a PostgreSQL URL's server, forwarding once `up` is set; until then every connection is
 * closed as accepted. `url` is the same URL through the proxy.
 */
export async function deadDatabaseProxy(url: string) {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const proxy = { up: false, url: "", close: (): Promise<void> => Promise.resolve() };
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (!proxy.up) {
      socket.end();
      return;
    }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(upstream);
    upstream.on("error", () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const behind = new URL(url);
  behind.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.url = behind.toString();
  proxy.close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** A store behind the proxy (one connection, `connect_timeout` 1 s): two appends and a read while down, one append once up. */
export async function deadDatabaseScenario(url: string, schema: string): Promise<DeadDatabaseOutcome> {
  const proxy = await deadDatabaseProxy(url);
  const store = new PostgresEventStore({ url: proxy.url, schema, client: { max: 1, connect_timeout: 1 } });
  const stream = `DeadProxy-${ulid()}`;
  const settle = (run: () => Promise<unknown>): Promise<{ outcome: string; retryable?: boolean }> =>
    run().then(
      () => ({ outcome: "resolved" }),
      (error: unknown) =>
        isServiceError(error)
          ? { outcome: `ServiceError ${error.serviceCode}`, retryable: error.retryable }
          : { outcome: `other: ${String(error)}` },
    );
  try {
    const whileDown = [
      await settle(() => store.appendToStream(stream, [{ type: "WhileDown", data: { n: 1 } }])),
      await settle(async () => {
        for await (const _ of store.readStream(stream)) break;
      }),
      await settle(() => store.appendToStream(stream, [{ type: "WhileDown", data: { n: 2 } }])),
    ];
    proxy.up = true;
    const afterUp = await settle(() => store.appendToStream(`${stream}-up`, [{ type: "Up", data: {} }]));
    // The pause before postgres.js connects again is at most 250 ms here (connect_timeout 1 s).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const afterPause = await settle(() => store.appendToStream(`${stream}-pause`, [{ type: "Up", data: {} }]));
    let storedWhileDown = -1;
    if (afterPause.outcome === "resolved") {
      storedWhileDown = 0;
      for await (const _ of store.readStream(stream)) storedWhileDown++;
    }
    return {
      runtime: typeof Bun === "undefined" ? "node" : "bun",
      fourth: isPostgresJs4(store.sql),
      whileDown,
      afterUp: afterUp.outcome,
      ...(afterUp.retryable === undefined ? {} : { afterUpRetryable: afterUp.retryable }),
      afterPause: afterPause.outcome,
      storedWhileDown,
    };
  } finally {
    await store.close(0);
    await proxy.close();
  }
}

if (typeof Bun === "undefined" && process.argv[1]?.endsWith("dead-database-proxy.ts")) {
  const [url, schema] = process.argv.slice(2);
  if (url === undefined || schema === undefined) throw new Error("usage: dead-database-proxy.ts <url> <schema>");
  console.log(JSON.stringify(await deadDatabaseScenario(url, schema)));
  process.exit(0);
}
