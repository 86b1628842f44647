/**
 * Fake HTTP servers, for what no emulator can be made to answer on demand (a redirect, an answer of the wrong
 * shape, a body without end): Bun.serve on loopback, random ports, spoken to over real sockets, and stopped in
 * one `finally` however the test ends.
 */

export type FakeServer = ReturnType<typeof Bun.serve>;

/** Answers one request; it gets every server of the set, to point at another's port (a redirect's `location`). */
export type FakeHandler = (request: Request, servers: readonly FakeServer[]) => Response | Promise<Response>;

/** Runs `body` with one fake server per handler, in order, and stops them all however it ends. */
export async function withFakeServers(
  handlers: readonly FakeHandler[],
  body: (servers: FakeServer[]) => Promise<void>,
): Promise<void> {
  const servers: FakeServer[] = [];
  try {
    for (const handler of handlers) {
      servers.push(Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => handler(request, servers) }));
    }
    await body(servers);
  } finally {
    for (const server of servers) server.stop(true);
  }
}

/** {@link withFakeServers} with one server. */
export function withFakeServer(
  handler: (request: Request) => Response | Promise<Response>,
  body: (server: FakeServer) => Promise<void>,
): Promise<void> {
  return withFakeServers([handler], ([server]) => body(server as FakeServer));
}
