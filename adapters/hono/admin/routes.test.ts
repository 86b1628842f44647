import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Hono } from "hono";
import {
  InMemoryEventStore,
  InMemoryReadModelStore,
  InMemorySagaStore,
  jsonLogger,
  ProjectionRunner,
  projection,
  setLogger,
} from "../../../src/index.js";
import { ADMIN_TOKEN, adminWorld, HOSTILE, HOSTILE_STREAM, TRACEPARENT } from "../../../test/admin/world.ts";
import { type AuthRequest, adminRoutes, ForbiddenError } from "../index.js";
import { MAX_REPLAY_EVENTS } from "./api.js";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const action = { ...auth, "x-eventflows-admin": "1", "content-type": "application/json" };

async function world() {
  return adminWorld({
    eventStore: new InMemoryEventStore(),
    readModels: new InMemoryReadModelStore(),
    sagaStore: new InMemorySagaStore(),
  });
}

/** What an SSE response sends until `marker` has come (or the stream ends); the stream is then cancelled. */
async function sseUntil(response: Response, marker: string): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return text;
}

async function getJson(app: Hono, path: string) {
  const response = await app.request(path, { headers: auth });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, response };
}

function post(app: Hono, path: string, body: unknown, headers: Record<string, string> = action) {
  return app.request(path, { method: "POST", headers, body: JSON.stringify(body) });
}

describe("adminRoutes: options", () => {
  test("refuses to build without an auth hook or a store, or with a trace URL that is not http(s) with {traceId}", () => {
    const store = new InMemoryEventStore();
    for (const options of [
      { store },
      { store, auth: "yes" },
      { auth: () => true },
      { store, auth: () => true, traceUrl: "javascript:alert(1)//{traceId}" },
      { store, auth: () => true, traceUrl: "https://traces.example/" },
      { store, auth: () => true, pollIntervalMs: 5 },
    ]) {
      expect(() => adminRoutes(options as never)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
    }
  });

  // Each was taken, and the route that used it answered 500 (found by an outside audit).
  test("an option given as a value that is not what the routes use is refused when built, naming it", () => {
    const store = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    const runner = new ProjectionRunner({
      projection: projection({ name: "p", handle: () => undefined }),
      eventStore: store,
      readModels,
    });
    const paths = (extra: Record<string, unknown>) => {
      try {
        adminRoutes({ store, auth: () => true, ...extra } as never);
      } catch (error) {
        return (error as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path);
      }
      return [];
    };
    expect(paths({ store: {} })).toEqual([["store"]]);
    expect(paths({ sagas: {} })).toEqual([["sagas"]]);
    expect(paths({ live: {} })).toEqual([["live"]]);
    expect(paths({ projections: { runner, readModels } })).toEqual([["projections"]]);
    expect(paths({ projections: [null] })).toEqual([
      ["projections", 0, "runner"],
      ["projections", 0, "readModels"],
    ]);
    expect(paths({ projections: [{ runner }] })).toEqual([["projections", 0, "readModels"]]);
    expect(paths({ projections: [{ runner, readModels }], store: () => store, sagas: () => undefined })).toEqual([]);
  });
});

describe("adminRoutes: the auth hook decides every request, the page and its assets included", () => {
  test("no credentials: 401 with a challenge; a hook that says no (or forgets to answer): 403", async () => {
    const { app } = await world();
    for (const path of ["/admin/", "/admin/admin.js", "/admin/admin.css", "/admin/api/feed", "/admin/api/nothing"]) {
      const response = await app.request(path);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      expect(await response.json()).toMatchObject({ code: "UNAUTHORIZED" });
    }
    const store = new InMemoryEventStore();
    for (const hook of [
      () => false,
      () => undefined as never,
      () => "yes" as never,
      () => {
        throw new ForbiddenError();
      },
      // Returned instead of thrown, or not a principal at all: refused as the command routes refuse them.
      () => new ForbiddenError() as never,
      () => ["operator"] as never,
      () => new Response(null, { status: 401 }) as never,
    ]) {
      const refused = new Hono().route("/admin", adminRoutes({ store, auth: hook }));
      const response = await refused.request("/admin/api/feed");
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: "FORBIDDEN" });
    }
  });

  test("the hook is asked with kind admin and the action: read, replay or resume", async () => {
    const asked: string[] = [];
    const store = new InMemoryEventStore();
    const app = new Hono().route(
      "/ops",
      adminRoutes({
        store,
        auth: ({ kind, type }: AuthRequest) => {
          asked.push(`${kind}:${type}`);
          return true;
        },
      }),
    );
    await app.request("/ops/");
    await app.request("/ops/api/feed");
    await post(app, "/ops/api/projections/replay", {});
    await post(app, "/ops/api/sagas/resume", {});
    expect(asked).toEqual(["admin:read", "admin:read", "admin:replay", "admin:resume"]);
  });
});

describe("adminRoutes: onError", () => {
  test("a hook that throws is logged; the operator still gets the 500 problem", async () => {
    const store = new InMemoryEventStore();
    store.getStreamVersion = () => Promise.reject(new Error("the store broke"));
    const logged: string[] = [];
    setLogger({ ...jsonLogger(), error: (message) => void logged.push(message) });
    try {
      const app = new Hono().route(
        "/admin",
        adminRoutes({
          store,
          auth: () => true,
          onError: () => {
            throw new Error("the hook broke");
          },
        }),
      );
      const response = await app.request("/admin/api/stream?id=Cart-1", { headers: auth });
      expect(response.status).toBe(500);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
    } finally {
      setLogger(undefined);
    }
    expect(logged).toContain("the onError hook itself threw");
  });
});

describe("adminRoutes: the page", () => {
  test("static HTML with a CSP allowing same-origin scripts and styles only, and no inline script or style", async () => {
    const { app } = await world();
    const response = await app.request("/admin/", { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
    expect((await app.request("/admin/admin.js", { headers: auth })).headers.get("content-type")).toContain(
      "javascript",
    );
  });

  test("the mount without its slash redirects to it (the page's URLs are relative)", async () => {
    const { app } = await world();
    const response = await app.request("/admin", { headers: auth });
    expect(response.status).toBe(308);
    expect(response.headers.get("location")).toBe("/admin/");
  });
});

describe("adminRoutes: actions are POST with the CSRF header", () => {
  test("without the header, or from another site: 403; GET on an action or POST on a read: 405; not JSON: 415", async () => {
    const { app, runner } = await world();
    const body = { projection: "cart-items", dryRun: false };
    const bare = await post(app, "/admin/api/projections/replay", body, {
      ...auth,
      "content-type": "application/json",
    });
    expect(bare.status).toBe(403);
    expect(await bare.json()).toMatchObject({ code: "FORBIDDEN" });
    const crossSite = await post(app, "/admin/api/projections/replay", body, {
      ...action,
      "sec-fetch-site": "cross-site",
    });
    expect(crossSite.status).toBe(403);
    const viaGet = await app.request("/admin/api/projections/replay", { headers: action });
    expect(viaGet.status).toBe(405);
    expect(viaGet.headers.get("allow")).toBe("POST");
    const onRead = await post(app, "/admin/api/feed", {});
    expect(onRead.status).toBe(405);
    expect(onRead.headers.get("allow")).toBe("GET, HEAD");
    const form = await app.request("/admin/api/sagas/resume", {
      method: "POST",
      headers: { ...action, "content-type": "application/x-www-form-urlencoded" },
      body: "saga=Order&key=o1",
    });
    expect(form.status).toBe(415);
    // None of the refused requests replayed anything.
    expect((await runner.lag()).behind).toBe(0);
  });
});

describe("adminRoutes: reading", () => {
  test("the feed pages by position; the newest page by default; a stream by version; an event whole with its trace link", async () => {
    const { app, eventStore } = await world();
    const head = await eventStore.getLastGlobalPosition();
    const newest = await getJson(app, "/admin/api/feed?limit=3");
    expect(newest.body.after).toBe(head - 3);
    expect((newest.body.events as { globalPosition: number }[]).map((e) => e.globalPosition)).toEqual([
      head - 2,
      head - 1,
      head,
    ]);
    expect(newest.body.next).toBeUndefined();
    const first = await getJson(app, "/admin/api/feed?after=0&limit=2");
    expect((first.body.events as unknown[]).length).toBe(2);
    expect(first.body.next).toBe(2);
    const cart = await getJson(app, "/admin/api/stream?id=Cart-1&limit=1");
    expect(cart.body).toMatchObject({ streamId: "Cart-1", version: 2, next: 2 });
    const event = await getJson(app, "/admin/api/event?stream=Cart-1&version=1");
    expect(event.body.event).toMatchObject({
      type: "ItemAdded",
      data: { sku: "TEA" },
      metadata: { traceparent: TRACEPARENT },
    });
    expect(event.body.trace).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      url: "https://traces.example/trace/4bf92f3577b34da6a3ce929d0e0e4736",
    });
    const streams = await getJson(app, "/admin/api/streams?prefix=Cart-");
    expect((streams.body.streams as { streamId: string }[]).map((s) => s.streamId)).toEqual([
      HOSTILE_STREAM,
      "Cart-2",
      "Cart-1",
    ]);
  });

  test("a deleted stream, soft or hard, is a typed 404 like one that never was; its events too", async () => {
    const eventStore = new InMemoryEventStore();
    const { app } = await adminWorld({
      eventStore,
      readModels: new InMemoryReadModelStore(),
      sagaStore: new InMemorySagaStore(),
    });
    await eventStore.appendToStream("Gone-soft", [{ type: "A", data: {} }]);
    await eventStore.appendToStream("Gone-hard", [{ type: "A", data: {} }]);
    await eventStore.deleteStream("Gone-soft");
    await eventStore.deleteStream("Gone-hard", { mode: "hard" });
    for (const id of ["Gone-soft", "Gone-hard"]) {
      expect((await getJson(app, `/admin/api/stream?id=${id}`)).body).toMatchObject({
        status: 404,
        code: "STREAM_NOT_FOUND",
      });
      expect((await getJson(app, `/admin/api/event?stream=${id}&version=1`)).status).toBe(404);
    }
    await eventStore.restoreStream("Gone-soft");
    expect((await getJson(app, "/admin/api/stream?id=Gone-soft")).status).toBe(200);
  });

  test("missing things are typed 404s; bad parameters typed 400s", async () => {
    const { app } = await world();
    expect((await getJson(app, "/admin/api/stream?id=Cart-404")).body).toMatchObject({
      status: 404,
      code: "STREAM_NOT_FOUND",
    });
    expect((await getJson(app, "/admin/api/event?stream=Cart-1&version=9")).body).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
    });
    expect((await getJson(app, "/admin/api/nothing")).body).toMatchObject({ status: 404, code: "NOT_FOUND" });
    for (const path of [
      "/admin/api/stream",
      "/admin/api/event?stream=Cart-1",
      "/admin/api/feed?limit=0",
      "/admin/api/feed?limit=201",
      "/admin/api/stream?id=Cart-1&from=0",
      // Given twice a parameter names nothing: refused, not read as the first.
      "/admin/api/stream?id=Cart-1&id=Cart-404",
      "/admin/api/stream?id=Cart-1&from=1&from=2",
      "/admin/api/feed?after=0&after=1",
      "/admin/api/event?stream=Cart-1&version=1&version=1",
      "/admin/api/streams?prefix=Cart&prefix=Order",
    ]) {
      const { status, body } = await getJson(app, path);
      expect({ path, status, code: body.code }).toEqual({ path, status: 400, code: "VALIDATION_FAILED" });
    }
  });

  test("escapes of bytes that are not UTF-8 in a parameter it reads are a 400 naming it, not another stream's page", async () => {
    // URLSearchParams reads `%FF` as U+FFFD: `?id=%FF` showed the stream named "\uFFFD" (and `%ED%A0%80`,
    // an encoded lone surrogate, the one named "\uFFFD\uFFFD\uFFFD"), as the query and live routes no longer do.
    const { app, eventStore } = await world();
    await eventStore.appendToStream("\uFFFD", [{ type: "Noted", data: {} }]);
    expect((await getJson(app, `/admin/api/stream?id=${encodeURIComponent("\uFFFD")}`)).status).toBe(200);
    for (const [path, name] of [
      ["/admin/api/stream?id=%FF", "id"],
      ["/admin/api/event?stream=%FF&version=1", "stream"],
      ["/admin/api/streams?prefix=%ED%A0%80", "prefix"],
    ] as const) {
      const { status, body } = await getJson(app, path);
      expect({ path, status, code: body.code }).toEqual({ path, status: 400, code: "VALIDATION_FAILED" });
      expect(body.issues).toEqual([expect.objectContaining({ path: [name] })]);
    }
    // A parameter the API does not read is ignored, as on the other routes.
    expect((await getJson(app, "/admin/api/stream?id=Cart-1&utm=%FF")).status).not.toBe(400);
  });
  test("a stream id the store refuses is a 400 naming the parameter (513 to 1,000 units passed the UI's bound, then the store's refusal named no field)", async () => {
    const { app } = await world();
    const refused = fc.oneof(
      fc.integer({ min: 513, max: 1200 }).map((units) => "C".repeat(units)),
      fc.integer({ min: 257, max: 500 }).map((pairs) => "\u{1F600}".repeat(pairs)),
      fc.constantFrom("   ", "Cart-\u0001"),
    );
    await fc.assert(
      fc.asyncProperty(refused, async (id) => {
        const encoded = encodeURIComponent(id);
        for (const [response, name] of [
          [await app.request(`/admin/api/stream?id=${encoded}`, { headers: auth }), "id"],
          [await app.request(`/admin/api/event?stream=${encoded}&version=1`, { headers: auth }), "stream"],
          [
            await post(app, "/admin/api/projections/replay", { projection: "cart-items", stream: id, dryRun: true }),
            "stream",
          ],
        ] as const) {
          const body = (await response.json()) as { code: string; issues: { path: unknown[] }[] };
          expect({ status: response.status, code: body.code, paths: body.issues.map((issue) => issue.path) }).toEqual({
            status: 400,
            code: "VALIDATION_FAILED",
            paths: [[name]],
          });
        }
      }),
      { numRuns: 30 },
    );
    // At the store's bound an id is one the store could hold: looked for, and missing.
    expect((await getJson(app, `/admin/api/stream?id=${"C".repeat(512)}`)).status).toBe(404);
  });

  test("hostile event data comes back as data: exact in the JSON, with no raw < in the text", async () => {
    const { app } = await world();
    const response = await app.request(`/admin/api/event?stream=${encodeURIComponent(HOSTILE_STREAM)}&version=1`, {
      headers: auth,
    });
    const text = await response.text();
    expect(text).not.toContain("<");
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const { event } = JSON.parse(text) as {
      event: { streamId: string; data: { sku: string }; metadata: { userId: string } };
    };
    expect(event.streamId).toBe(HOSTILE_STREAM);
    expect(event.data.sku).toBe(HOSTILE);
    expect(event.metadata.userId).toBe(HOSTILE);
    const sagas = await app.request("/admin/api/sagas", { headers: auth });
    expect(await sagas.text()).not.toContain("<");
  });

  test("a problem naming what was asked for has no raw < in its text either", async () => {
    const { app } = await world();
    const asked = "<img src=x onerror=alert(1)>";
    const responses = [
      await app.request(`/admin/api/stream?id=${encodeURIComponent(asked)}`, { headers: auth }),
      await app.request(`/admin/api/event?stream=${encodeURIComponent(asked)}&version=1`, { headers: auth }),
      await post(app, "/admin/api/projections/replay", { projection: asked, dryRun: true }),
      await post(app, "/admin/api/sagas/resume", { saga: asked, key: asked }),
    ];
    for (const response of responses) {
      const text = await response.text();
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(text).not.toContain("<");
      const body = JSON.parse(text) as { status: number; detail: string };
      expect([400, 404]).toContain(body.status);
      expect(body.detail).toContain(asked);
    }
  });

  test("any event data and stream id comes back exactly, with no raw < in the text; bad ids are typed 4xx (property)", async () => {
    const { app, eventStore } = await world();
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.constantFrom(HOSTILE, "</script><script>alert(1)</script>", "\u2028"),
    );
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.dictionary(fc.string({ maxLength: 8 }), text, { maxKeys: 3 }),
        async (streamSuffix, data) => {
          const streamId = `Any-${streamSuffix}`;
          let version: number;
          try {
            version = (
              await eventStore.appendToStream(streamId, [{ type: "Any", data, metadata: { note: streamSuffix } }])
            ).nextExpectedVersion;
          } catch (error) {
            expect((error as { code?: unknown }).code).toBe("VALIDATION_FAILED");
            // Data or metadata the stores refuse (U+0000): nothing was written, the id may be a good one.
            const issues = (error as { issues: { path: unknown[] }[] }).issues;
            if (issues.some((issue) => issue.path.length > 0)) return;
            // Ids the store refuses (control characters, lone surrogates) are refused by the API too.
            const response = await app.request(`/admin/api/stream?id=${encodeURIComponent(streamId)}`, {
              headers: auth,
            });
            expect([400, 404]).toContain(response.status);
            return;
          }
          const response = await app.request(
            `/admin/api/event?stream=${encodeURIComponent(streamId)}&version=${version}`,
            { headers: auth },
          );
          const body = await response.text();
          expect(response.status).toBe(200);
          expect(body).not.toContain("<");
          const { event } = JSON.parse(body) as {
            event: { streamId: string; data: unknown; metadata: { note: string } };
          };
          expect(event).toMatchObject({ streamId, data, metadata: { note: streamSuffix } });
        },
      ),
      { numRuns: 150 },
    );
  });

  test("any after, to and limit: a page within bounds, or a 400; never a 500 (property)", async () => {
    const { app, eventStore } = await world();
    const head = await eventStore.getLastGlobalPosition();
    const position = fc.oneof(
      fc.nat({ max: 30 }).map(String),
      fc.string({ maxLength: 20 }),
      fc.constantFrom("", "-1", "1e3", "1.5", "99999999999999999"),
    );
    await fc.assert(
      fc.asyncProperty(
        position,
        position,
        fc.oneof(fc.integer({ min: -5, max: 250 }).map(String), fc.string({ maxLength: 8 })),
        async (after, to, limit) => {
          const query = `after=${encodeURIComponent(after)}&to=${encodeURIComponent(to)}&limit=${encodeURIComponent(limit)}`;
          const { status, body } = await getJson(app, `/admin/api/feed?${query}`);
          if (status === 400) return void expect(body.code).toBe("VALIDATION_FAILED");
          expect(status).toBe(200);
          const events = body.events as { globalPosition: number }[];
          const size = limit === "" ? 50 : Number(limit);
          const from = after === "" ? Math.max(0, head - size) : Number(after);
          const end = to === "" ? head : Math.min(Number(to), head);
          expect(events.map((e) => e.globalPosition)).toEqual(
            Array.from({ length: Math.max(0, Math.min(size, end - from)) }, (_, i) => from + 1 + i),
          );
          const reached = events.length === size ? from + size : Math.max(end, from);
          expect(body.next).toBe(reached < head ? reached : undefined);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("adminRoutes: replay into a projection", () => {
  test("a dry run shows each document now and after and writes nothing; confirming up to its position writes those events only", async () => {
    const { app, readModels, eventStore } = await world();
    await readModels.delete("carts", "Cart-1");
    const dry = await post(app, "/admin/api/projections/replay", {
      projection: "cart-items",
      stream: "Cart-1",
      dryRun: true,
    });
    expect(dry.status).toBe(200);
    const preview = (await dry.json()) as Record<string, unknown>;
    expect(preview).toMatchObject({ dryRun: true, read: 2, handled: 2, position: 2, writes: 2, truncated: false });
    expect(preview.changes).toEqual([
      { collection: "carts", id: "Cart-1", after: { skus: ["TEA", "COFFEE"] }, deleted: false },
    ]);
    expect(await readModels.get("carts", "Cart-1")).toBeUndefined();
    // Appended after the dry run: the confirmed replay stops where the preview did.
    await eventStore.appendToStream("Cart-1", [{ type: "ItemAdded", data: { sku: "LATE" } }]);
    const done = await post(app, "/admin/api/projections/replay", {
      projection: "cart-items",
      stream: "Cart-1",
      dryRun: false,
      to: 2,
    });
    expect(await done.json()).toMatchObject({ dryRun: false, read: 2, position: 2, writes: 2, changes: [] });
    expect(await readModels.get("carts", "Cart-1")).toEqual({ skus: ["TEA", "COFFEE"] });
  });

  test("a range of the feed; bad requests are typed: unknown projection 404, stateful 400, no dryRun 400, too long 400", async () => {
    const { app, readModels, eventStore } = await world();
    // Too long is counted in events: a stream's versions up to its own, not up to a `to` past them.
    for (const from of [0, 5_000]) {
      const events = Array.from({ length: from === 0 ? 5_000 : 5_001 }, (_, n) => ({ type: "Noted", data: { n } }));
      await eventStore.appendToStream("Big-1", events);
    }
    await readModels.delete("carts", "Cart-2");
    const range = await post(app, "/admin/api/projections/replay", {
      projection: "cart-items",
      after: 2,
      to: 3,
      dryRun: true,
    });
    expect(await range.json()).toMatchObject({
      read: 1,
      handled: 1,
      changes: [{ id: "Cart-2", after: { skus: ["MILK"] } }],
    });
    const stateful = new ProjectionRunner({
      projection: projection({ name: "counter", initialState: 0, handle: (_e, { state }) => state + 1 }),
      eventStore: new InMemoryEventStore(),
      readModels,
    });
    const app2 = new Hono().route(
      "/admin",
      adminRoutes({
        store: new InMemoryEventStore(),
        projections: [{ runner: stateful, readModels }],
        auth: () => true,
      }),
    );
    const cases: [Hono, unknown, number, string][] = [
      [app, { projection: "nope", dryRun: true }, 404, "NOT_FOUND"],
      [app2, { projection: "counter", dryRun: true }, 400, "VALIDATION_FAILED"],
      [app, { projection: "cart-items" }, 400, "VALIDATION_FAILED"],
      [app, { projection: "cart-items", dryRun: "yes" }, 400, "VALIDATION_FAILED"],
      [app, { projection: "cart-items", dryRun: true, after: -1 }, 400, "VALIDATION_FAILED"],
      [app, { projection: "cart-items", stream: "Big-1", dryRun: true }, 400, "VALIDATION_FAILED"],
      [app, [1, 2], 400, "VALIDATION_FAILED"],
      [app, null, 400, "VALIDATION_FAILED"],
    ];
    for (const [target, body, status, code] of cases) {
      const response = await post(target, "/admin/api/projections/replay", body);
      expect({ body, status: response.status, code: ((await response.json()) as { code: string }).code }).toEqual({
        body,
        status,
        code,
      });
    }
  });

  // Found by an outside audit: `handled` counted every event read (the filter ran inside the handler), and a
  // `to` past a one-event stream's version was refused as more than 10,000 events.
  test("handled counts the events the projection takes; a `to` past a stream's version replays its events", async () => {
    const { app } = await world();
    const whole = (await (
      await post(app, "/admin/api/projections/replay", { projection: "cart-items", dryRun: true })
    ).json()) as { read: number; handled: number };
    // Cart-1 (2), Cart-2 (1) and the hostile cart (1) are ItemAdded events; the five Order events are not.
    expect(whole).toMatchObject({ read: 9, handled: 4 });
    const past = await post(app, "/admin/api/projections/replay", {
      projection: "cart-items",
      stream: "Cart-1",
      dryRun: true,
      to: MAX_REPLAY_EVENTS * 2,
    });
    expect([past.status, await past.json()]).toEqual([200, expect.objectContaining({ read: 2, handled: 2 })]);
  });

  test("a key the action does not take is a 400 naming it, and nothing is written: a misspelt stream replayed the whole feed", async () => {
    const { app, readModels, sent, failing } = await world();
    await readModels.delete("carts", "Cart-1");
    await readModels.delete("carts", "Cart-2");
    const misspelt = await post(app, "/admin/api/projections/replay", {
      projection: "cart-items",
      streamId: "Cart-1",
      dryRun: false,
    });
    expect(misspelt.status).toBe(400);
    expect(await misspelt.json()).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["streamId"] }] });
    expect(await readModels.get("carts", "Cart-2")).toBeUndefined();
    expect(await readModels.get("carts", "Cart-1")).toBeUndefined();
    failing.set("ReserveStock", 0);
    const resume = await post(app, "/admin/api/sagas/resume", { saga: "Order", key: "o1", force: true });
    expect(resume.status).toBe(400);
    expect(await resume.json()).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["force"] }] });
    expect(sent).toEqual([]);
  });

  test("projections are listed with checkpoint, head and lag", async () => {
    const { app, eventStore } = await world();
    await eventStore.appendToStream("Cart-9", [{ type: "ItemAdded", data: { sku: "X" } }]);
    const { body } = await getJson(app, "/admin/api/projections");
    const head = await eventStore.getLastGlobalPosition();
    expect(body.projections).toEqual([
      expect.objectContaining({
        name: "cart-items",
        position: head - 1,
        head,
        behind: 1,
        running: false,
        stateful: false,
      }),
    ]);
  });
});

describe("adminRoutes: sagas", () => {
  test("a parked instance is listed with its error, and resumed", async () => {
    const { app, failing, sent } = await world();
    const { body } = await getJson(app, "/admin/api/sagas");
    expect(body.attention).toEqual([
      expect.objectContaining({
        saga: "Order",
        key: "o1",
        status: "needs-attention",
        attention: expect.objectContaining({ commandType: "ReserveStock", attempts: 2 }),
      }),
    ]);
    failing.set("ReserveStock", 0);
    const resumed = await post(app, "/admin/api/sagas/resume", { saga: "Order", key: "o1" });
    expect(await resumed.json()).toMatchObject({ saga: "Order", key: "o1", status: "running", outbox: 0 });
    expect(sent.map((s) => s.type)).toEqual(["ReserveStock"]);
    const again = await post(app, "/admin/api/sagas/resume", { saga: "Order", key: "o1" });
    expect(again.status).toBe(400);
    expect((await post(app, "/admin/api/sagas/resume", { saga: "Order" })).status).toBe(400);
  });
});

describe("adminRoutes: api/live, the feed as Server-Sent Events from the live hub", () => {
  test("the config says live; the stream resumes after `from` (or Last-Event-ID) and follows new events", async () => {
    const w = await world();
    try {
      expect((await getJson(w.app, "/admin/api/config")).body).toMatchObject({ live: true });
      const head = await w.eventStore.getLastGlobalPosition();
      const response = await w.app.request(`/admin/api/live?from=${head - 1}`, { headers: auth });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      expect(response.headers.get("content-security-policy")).toContain("connect-src 'self'");
      // Event data: no-store as every admin answer (the SSE headers' no-cache let a cache keep it).
      expect(response.headers.get("cache-control")).toBe("no-store, no-transform");
      const head200 = await w.app.request("/admin/api/live", { method: "HEAD", headers: auth });
      expect(head200.headers.get("cache-control")).toBe("no-store, no-transform");
      await w.eventStore.appendToStream("Cart-9", [{ type: "ItemAdded", data: { sku: "NEW" } }]);
      const text = await sseUntil(response, `id: ${head + 1}\n`);
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      // The open message's id first: where the stream starts, for the page's EventSource to resume from.
      expect(ids).toEqual([head - 1, head, head + 1]);
      expect(text).toContain('"sku":"NEW"');

      const resumed = await w.app.request("/admin/api/live?from=0", {
        headers: { ...auth, "last-event-id": String(head) },
      });
      const resumedReader = (resumed.body as ReadableStream<Uint8Array>).getReader();
      const first = await resumedReader.read();
      expect(new TextDecoder().decode(first.value)).toContain(`{"position":${head}}`);
      await resumedReader.cancel();
    } finally {
      await w.live.close();
    }
  });

  // As the JSON answers: the page reads it as JSON, a sniffing reader finds no markup (found by an outside audit).
  test("the events it sends escape < as \\u003c, as the JSON answers do", async () => {
    const w = await world();
    try {
      const head = await w.eventStore.getLastGlobalPosition();
      const response = await w.app.request(`/admin/api/live?from=${head}`, { headers: auth });
      await w.eventStore.appendToStream("Cart-9", [{ type: "ItemAdded", data: { sku: HOSTILE } }]);
      const text = await sseUntil(response, `id: ${head + 1}\n`);
      const data = text.split("\n").find((line) => line.startsWith('data: {"id"'));
      expect(data).toContain("\\u003cimg");
      expect(data).not.toContain("<");
      expect((JSON.parse((data as string).slice("data: ".length)) as { data: { sku: string } }).data.sku).toBe(HOSTILE);
    } finally {
      await w.live.close();
    }
  });

  test("behind the auth hook (401), a bad position is 400, and without a hub it is 404 and the page polls", async () => {
    const w = await world();
    try {
      expect((await w.app.request("/admin/api/live")).status).toBe(401);
      // Past the largest safe integer, as in a Last-Event-ID: a 400 naming from, not the hub's own `after`.
      for (const [query, headers] of [
        ["?from=x", {}],
        ["?from=9007199254740992", {}],
        ["", { "last-event-id": "9999999999999999" }],
        ["?from=1&from=0", {}],
      ] as const) {
        const refused = await w.app.request(`/admin/api/live${query}`, { headers: { ...auth, ...headers } });
        const problem = (await refused.json()) as { issues: { path: string[] }[] };
        expect({ query, headers, status: refused.status, path: problem.issues[0]?.path }).toEqual({
          query,
          headers,
          status: 400,
          path: ["from"],
        });
      }
      const plain = new Hono();
      plain.route("/admin", adminRoutes({ store: w.eventStore, auth: () => true }));
      expect((await getJson(plain, "/admin/api/config")).body).toMatchObject({ live: false, pollIntervalMs: 1000 });
      expect((await getJson(plain, "/admin/api/live")).status).toBe(404);
    } finally {
      await w.live.close();
    }
  });
});
