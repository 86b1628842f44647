/**
 * HEAD through a real server and `fetch`: every GET route the package serves (queries, health, the
 * OpenAPI document, the live stream, the operations UI) answers HEAD as GET does (RFC 9110 9.3.2):
 * the same status and header fields, the length of the content GET sends, and no content.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { Hono } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";
import * as v from "valibot";
import { InMemoryEventStore, LiveHub, QueryBus } from "../../src/index.js";
import { adminRoutes, eventFlowsRoutes, liveRoutes } from "./index.js";

const store = new InMemoryEventStore();
const hub = new LiveHub({ store, pollIntervalMs: 50 });
const queries = new QueryBus<{ Echo: { payload: { id: string }; result: { id: string } } }>();
const asked: string[] = [];
queries.register("Echo", ({ id }) => {
  asked.push(id);
  return { id };
});
const app = new Hono();
app.route("/api", eventFlowsRoutes({ queries: { bus: queries, schemas: { Echo: v.object({ id: v.string() }) } } }));
app.route("/api", liveRoutes({ hub, upgradeWebSocket }));
app.route("/admin", adminRoutes({ store, auth: () => true, live: hub }));

let server: ReturnType<typeof Bun.serve>;
let origin: string;
beforeAll(async () => {
  await store.appendToStream("Cart-1", [{ type: "CartOpened", data: { cartId: "1" } }]);
  server = Bun.serve({ port: 0, fetch: app.fetch, websocket });
  origin = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await hub.close();
  server.stop(true);
});

const FIELDS = ["content-type", "allow", "cache-control", "content-security-policy"];

describe("HEAD over a real server", () => {
  test("answers as GET on query, health, document and admin routes: same status and fields, GET's length, no content", async () => {
    for (const path of [
      "/api/queries/Echo?id=a",
      "/api/queries/Echo",
      "/api/queries/Unknown?id=a",
      "/api/health/live",
      "/api/health/ready",
      "/api/openapi.json",
      "/admin/",
      "/admin/admin.js",
      "/admin/api/feed",
      "/admin/api/stream?id=Cart-1",
      "/admin/api/event?id=nothing",
    ]) {
      const asGet = await fetch(`${origin}${path}`);
      const content = new Uint8Array(await asGet.arrayBuffer());
      const asHead = await fetch(`${origin}${path}`, { method: "HEAD" });
      expect([path, asHead.status]).toEqual([path, asGet.status]);
      for (const name of FIELDS) {
        expect([path, name, asHead.headers.get(name)]).toEqual([path, name, asGet.headers.get(name)]);
      }
      expect([path, asHead.headers.get("content-length")]).toEqual([path, String(content.byteLength)]);
      expect([path, await asHead.text()]).toEqual([path, ""]);
    }
    // The query ran for HEAD as it does for GET.
    expect(asked).toEqual(["a", "a"]);
  });

  test("the live streams answer HEAD with GET's status and fields, and open no hub connection", async () => {
    for (const path of ["/api/events/stream", "/admin/api/live"]) {
      const asHead = await fetch(`${origin}${path}`, { method: "HEAD" });
      expect([path, asHead.status]).toEqual([path, 200]);
      expect(asHead.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(await asHead.text()).toBe("");
      expect(hub.size).toBe(0);
      // A refused subscription is refused alike, with the length of GET's problem.
      const asGet = await fetch(`${origin}${path}?from=x`);
      const problem = new Uint8Array(await asGet.arrayBuffer());
      const bad = await fetch(`${origin}${path}?from=x`, { method: "HEAD" });
      expect([path, bad.status, bad.headers.get("content-type")]).toEqual([
        path,
        400,
        asGet.headers.get("content-type"),
      ]);
      expect([path, bad.headers.get("content-length")]).toEqual([path, String(problem.byteLength)]);
    }
    await Bun.sleep(100);
    expect(hub.size).toBe(0);
  });

  test("a full hub, then a closed one: the live streams answer HEAD 503 as GET does, with Retry-After and GET's length", async () => {
    const small = new LiveHub({ store, maxClients: 1, pollIntervalMs: 50 });
    const smallApp = new Hono();
    smallApp.route("/api", liveRoutes({ hub: small }));
    smallApp.route("/admin", adminRoutes({ store, auth: () => true, live: small }));
    const smallServer = Bun.serve({ port: 0, fetch: smallApp.fetch });
    const at = `http://127.0.0.1:${smallServer.port}`;
    const taken = new AbortController();
    try {
      // The one client the hub serves, its stream left open.
      const first = await fetch(`${at}/api/events/stream`, { signal: taken.signal });
      expect([first.status, small.size]).toEqual([200, 1]);
      for (const state of ["full", "closed"]) {
        if (state === "closed") await small.close();
        for (const path of ["/api/events/stream", "/admin/api/live"]) {
          const asGet = await fetch(`${at}${path}`);
          const problem = new Uint8Array(await asGet.arrayBuffer());
          const asHead = await fetch(`${at}${path}`, { method: "HEAD" });
          expect([state, path, asGet.status, asHead.status]).toEqual([state, path, 503, 503]);
          for (const name of [...FIELDS, "retry-after"]) {
            expect([state, path, name, asHead.headers.get(name)]).toEqual([state, path, name, asGet.headers.get(name)]);
          }
          expect([path, asHead.headers.get("content-length")]).toEqual([path, String(problem.byteLength)]);
          expect(await asHead.text()).toBe("");
        }
      }
    } finally {
      taken.abort();
      await small.close();
      smallServer.stop(true);
    }
  });

  test("HEAD on the WebSocket route is what a GET without the upgrade gets (a HEAD cannot be upgraded)", async () => {
    const asGet = await fetch(`${origin}/api/events/ws`);
    const problem = await asGet.text();
    expect(asGet.status).toBe(400);
    // Raw, with the upgrade headers a client could send (fetch leaves them out).
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port as number, "127.0.0.1", () => {
        socket.write(
          "HEAD /api/events/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
        if (text.includes("\r\n\r\n")) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
    });
    const [status, ...fields] = head.split("\r\n");
    expect(status).toBe("HTTP/1.1 400 Bad Request");
    expect(fields.map((line) => line.toLowerCase())).toContain("content-type: application/problem+json");
    expect(fields.map((line) => line.toLowerCase())).toContain(
      `content-length: ${new TextEncoder().encode(problem).byteLength}`,
    );
    expect(hub.size).toBe(0);
  });

  test("a route that serves GET lists HEAD in Allow; one that does not (commands, admin actions) refuses it", async () => {
    const onQuery = await fetch(`${origin}/api/queries/Echo`, { method: "DELETE" });
    expect([onQuery.status, onQuery.headers.get("allow")]).toEqual([405, "GET, HEAD, POST"]);
    const onRead = await fetch(`${origin}/admin/api/feed`, { method: "PUT" });
    expect([onRead.status, onRead.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    const onAction = await fetch(`${origin}/admin/api/projections/replay`, { method: "HEAD" });
    expect([onAction.status, onAction.headers.get("allow")]).toEqual([405, "POST"]);
    // The live streams too: any other method is 405 problem+json naming GET and HEAD, not the app's 404 page.
    for (const path of ["/api/events/stream", "/api/events/ws"]) {
      for (const method of ["OPTIONS", "POST", "PUT", "DELETE", "PATCH"]) {
        const onLive = await fetch(`${origin}${path}`, { method });
        expect([path, method, onLive.status, onLive.headers.get("allow")]).toEqual([path, method, 405, "GET, HEAD"]);
        expect(onLive.headers.get("content-type")).toBe("application/problem+json");
        expect((await onLive.json()).code).toBe("METHOD_NOT_ALLOWED");
      }
    }
    expect(hub.size).toBe(0);
  });
});
