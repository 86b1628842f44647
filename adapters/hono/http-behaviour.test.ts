/**
 * The shared HTTP behaviour suite run through the Hono routes, mounted under `/api` of an app: once
 * through `app.fetch`, and once over a real server (`Bun.serve`) with each request sent as HTTP/1.1
 * bytes on a socket of its own; then what only a socket can send (chunked bodies over the limit,
 * a Content-Length that lies, a client that goes away mid-body).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { Hono } from "hono";
import * as v from "valibot";
import { CommandBus } from "../../src/index.js";
import { httpBehaviourSuite } from "../http/behaviour-suite.fixture.test.ts";
import { allEvents, cartDomain } from "../http/cart-domain.fixture.test.ts";
import { type EventFlowsRoutesOptions, eventFlowsRoutes } from "./index.js";

httpBehaviourSuite("Hono routes", (options) => {
  const app = new Hono().route("/api", eventFlowsRoutes(options as EventFlowsRoutesOptions));
  return (request) => {
    const url = new URL(request.url);
    return Promise.resolve(app.fetch(new Request(`${url.origin}/api${url.pathname}${url.search}`, request)));
  };
});

const apps: Hono[] = [];
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (request) => (apps[Number(new URL(request.url).pathname.split("/")[1]?.slice(1))] as Hono).fetch(request),
});
afterAll(() => server.stop(true));

/**
 * Sends `request` as HTTP/1.1 bytes on a socket of its own (`Connection: close`) and reads the answer
 * as sent: no client library between (Bun's fetch drops the body of an answer to TRACE).
 */
async function overTheWire(request: Request, path: string): Promise<Response> {
  const body = request.body === null ? new Uint8Array(0) : new Uint8Array(await request.arrayBuffer());
  let head = `${request.method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n`;
  for (const [name, value] of request.headers) head += `${name}: ${value}\r\n`;
  if (request.body !== null) head += `content-length: ${body.length}\r\n`;
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(server.port ?? 0, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks)));
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n`, "latin1"), body]));
  });
  const end = answer.indexOf("\r\n\r\n");
  const [statusLine = "", ...fields] = answer.subarray(0, end).toString("latin1").split("\r\n");
  const headers = new Headers();
  for (const field of fields) {
    const colon = field.indexOf(":");
    headers.append(field.slice(0, colon), field.slice(colon + 1).trim());
  }
  const status = Number(statusLine.split(" ")[1]);
  let content = answer.subarray(end + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    const parts: Buffer[] = [];
    for (let at = 0; ; ) {
      const line = content.indexOf("\r\n", at);
      const size = Number.parseInt(content.subarray(at, line).toString("latin1"), 16);
      if (!(size > 0)) break;
      parts.push(content.subarray(line + 2, line + 2 + size));
      at = line + 2 + size + 2;
    }
    content = Buffer.concat(parts);
  }
  const empty = status === 204 || status === 304 || request.method === "HEAD";
  return new Response(empty ? null : new Uint8Array(content), { status, headers });
}

httpBehaviourSuite("Hono routes over a real server", (options) => {
  const n = apps.length;
  apps.push(new Hono().route(`/s${n}/api`, eventFlowsRoutes(options as EventFlowsRoutesOptions)));
  return (request) => {
    const url = new URL(request.url);
    return overTheWire(request, `/s${n}/api${url.pathname}${url.search}`);
  };
});

describe("Hono routes over a real server: what only a socket sends", () => {
  const LIMIT = 1024;
  const domain = cartDomain();
  const errors: unknown[] = [];
  const n = apps.length;
  apps.push(
    new Hono().route(
      `/s${n}/api`,
      eventFlowsRoutes({ ...domain.routes, bodyLimit: LIMIT, onError: (error) => errors.push(error) }),
    ),
  );
  const START = `POST /s${n}/api/commands/OpenCart HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n`;

  /** Writes `bytes`, half-closes when `end`, and gives what came back before the server closed or `waitMs` passed. */
  const exchange = (bytes: string, end: boolean, waitMs = 1000) =>
    new Promise<string>((resolve) => {
      const socket = connect(server.port ?? 0, "127.0.0.1");
      let text = "";
      const done = () => {
        clearTimeout(timer);
        resolve(text);
      };
      const timer = setTimeout(() => {
        socket.destroy();
        done();
      }, waitMs);
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
      });
      socket.on("error", done);
      socket.on("close", done);
      socket.write(bytes);
      if (end) socket.end();
    });
  const problemOf = (answer: string) => {
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    expect(head.toLowerCase()).toContain("content-type: application/problem+json");
    return { status: Number(head.split(" ")[1]), problem: JSON.parse(body) };
  };
  /** Waits until the server holds no request open (a handler still reading a body would). */
  const settled = async () => {
    for (let i = 0; i < 100 && server.pendingRequests > 0; i++) await Bun.sleep(10);
    expect(server.pendingRequests).toBe(0);
  };

  test("a body over the limit sent chunked, with no Content-Length, is 413 once it passes the limit; nothing runs", async () => {
    const before = await allEvents(domain.store);
    const chunk = `${(LIMIT / 2).toString(16)}\r\n${" ".repeat(LIMIT / 2)}\r\n`;
    const answer = await exchange(
      `${START}transfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunk.repeat(4)}0\r\n\r\n`,
      false,
    );
    const { status, problem } = problemOf(answer);
    expect({ status, code: problem.code, limit: problem.limit }).toEqual({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      limit: LIMIT,
    });
    expect(await allEvents(domain.store)).toEqual(before);
    await settled();
  });

  test("a declared Content-Length over the limit is refused before a byte of the body is sent", async () => {
    const answer = await exchange(`${START}content-length: ${LIMIT + 1}\r\nconnection: close\r\n\r\n`, false);
    expect(problemOf(answer)).toMatchObject({ status: 413, problem: { code: "PAYLOAD_TOO_LARGE", limit: LIMIT } });
    await settled();
  });

  test("a Content-Length shorter than the body: only the declared bytes are the body, a 400 that runs nothing", async () => {
    const before = await allEvents(domain.store);
    const body = '{"cartId":"short-1"}';
    const answer = await exchange(`${START}content-length: 5\r\nconnection: close\r\n\r\n${body}`, false);
    expect(problemOf(answer)).toMatchObject({ status: 400, problem: { code: "VALIDATION_FAILED" } });
    expect(await allEvents(domain.store)).toEqual(before);
    await settled();
  });

  test("what Bun.serve refuses itself never reaches the routes: a bare 400, 413 or 431, or the connection closed unanswered; nothing runs", async () => {
    const before = await allEvents(domain.store);
    const body = '{"cartId":"bare-1"}';
    const cases: [string, string, string][] = [
      [
        "a coding other than chunked",
        `${START}transfer-encoding: identity\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        "400",
      ],
      ["a folded header line", `${START}x-note: a\r\n b\r\ncontent-length: ${body.length}\r\n\r\n${body}`, "400"],
      ["two Content-Lengths", `${START}content-length: ${body.length}\r\ncontent-length: 3\r\n\r\n${body}`, "400"],
      ["a Content-Length past 128 MiB", `${START}content-length: ${128 * 1024 * 1024 + 1}\r\n\r\n`, "413"],
      ["250 header fields", `${START}${"x-h: v\r\n".repeat(250)}content-length: ${body.length}\r\n\r\n${body}`, "431"],
      ["a 17 KB header", `${START}x-h: ${"v".repeat(17_000)}\r\ncontent-length: ${body.length}\r\n\r\n${body}`, "431"],
      ["a lowercase method", `${START.replace("POST", "post")}content-length: ${body.length}\r\n\r\n${body}`, ""],
    ];
    for (const [what, request, status] of cases) {
      const answer = await exchange(request, false);
      const [head = ""] = answer.split("\r\n\r\n");
      expect([what, head.split(" ")[1] ?? ""]).toEqual([what, status]);
      expect([what, head.toLowerCase().includes("content-type")]).toEqual([what, false]);
    }
    expect(await allEvents(domain.store)).toEqual(before);
    expect(errors).toEqual([]);
    await settled();
  });

  test("a client that goes away while its command runs: the command finishes once, and a retry with its Idempotency-Key gets the same answer replayed", async () => {
    const commands = new CommandBus<{ Slow: { payload: { n: number }; result: { runs: number } } }>();
    let runs = 0;
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    commands.register("Slow", async () => {
      runs++;
      started();
      await Bun.sleep(100);
      return { runs };
    });
    const slowErrors: unknown[] = [];
    const m = apps.length;
    apps.push(
      new Hono().route(
        `/s${m}/api`,
        eventFlowsRoutes({
          commands: { bus: commands, schemas: { Slow: v.object({ n: v.number() }) } },
          idempotency: { scope: () => "one-caller" },
          onError: (error) => slowErrors.push(error),
        }),
      ),
    );
    const body = '{"n":1}';
    const request = `POST /s${m}/api/commands/Slow HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nidempotency-key: gone-1\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const socket = connect(server.port ?? 0, "127.0.0.1");
    socket.on("error", () => {});
    socket.write(request);
    await running;
    socket.resetAndDestroy();
    const send = () =>
      fetch(`http://127.0.0.1:${server.port}/s${m}/api/commands/Slow`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "gone-1" },
        body,
      });
    // While the first run is still under way a retry is told so (409); a loaded machine may stretch
    // its 100 ms, so the retry is repeated until that run is over, for at most 10 s.
    const deadline = Date.now() + 10_000;
    let retry = await send();
    while (retry.status === 409 && Date.now() < deadline) {
      await retry.body?.cancel();
      await Bun.sleep(50);
      retry = await send();
    }
    expect([retry.status, retry.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(await retry.json()).toEqual({ runs: 1 });
    expect(runs).toBe(1);
    expect(slowErrors).toEqual([]);
    await settled();
  });

  test("a client that goes away mid-body (a Content-Length longer than what it sent, a chunked body cut off) runs nothing, reports nothing, and holds no request open", async () => {
    const before = await allEvents(domain.store);
    const body = '{"cartId":"gone-1"}';
    await exchange(`${START}content-length: 100\r\n\r\n${body}`, true, 300);
    await exchange(`${START}transfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n`, true, 300);
    await settled();
    expect(await allEvents(domain.store)).toEqual(before);
    expect(errors).toEqual([]);
  });
});
