/**
 * The OTLP/HTTP export against receivers that answer what a proxy or a broken endpoint can answer: fake
 * servers on loopback (random ports, stopped in one `finally`), over real sockets.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { type FakeServer, withFakeServer, withFakeServers } from "../../test/fake-server.ts";
import { everythingShown } from "../../test/leaks.ts";
import { handReader } from "./otel.fixture.test.js";
import { exportMetrics } from "./otlp-http.js";

test("fake server: a redirect (301, 302, 307, 308) is not followed: the API key goes nowhere else, the export fails as the status", async () => {
  let elsewhere = 0;
  let status = 307;
  const away = async (request: Request) => {
    elsewhere++;
    await request.text();
    return new Response("{}");
  };
  const redirect = async (request: Request, [away]: readonly FakeServer[]) => {
    await request.text();
    return new Response(null, { status, headers: { location: `http://127.0.0.1:${away?.port}/v1/metrics` } });
  };
  await withFakeServers([away, redirect], async ([, redirecting]) => {
    for (status of [301, 302, 307, 308]) {
      const error = await exportMetrics(handReader().reader, {
        url: `http://127.0.0.1:${redirecting?.port}/v1/metrics`,
        headers: { "x-api-key": "otlp-key-s3cret" },
      }).catch((e: unknown) => e);
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({ serviceCode: String(status), status, retryable: false });
      expect(everythingShown(error)).not.toContain("otlp-key-s3cret");
      expect((error as Error).message).toContain("not followed");
    }
    // Followed, the export (and its x-api-key) went to wherever `location` pointed, and its 200 was taken for success.
    expect(elsewhere).toBe(0);
  });
});

test("fake server: an answer with a body far larger than any receiver's is not read to its end (memory stays bounded)", async () => {
  const CHUNK = 1 << 20;
  const CHUNKS = 48;
  let pulled = 0;
  const answer = async (request: Request) => {
    await request.text();
    // 48 MiB, produced only as the client reads: how much of it was pulled says how much was read.
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled++ >= CHUNKS) controller.close();
          else controller.enqueue(new Uint8Array(CHUNK));
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: 200 });
  };
  await withFakeServer(answer, async (server) => {
    await exportMetrics(handReader().reader, { url: `http://127.0.0.1:${server.port}/v1/metrics` });
    // What the sockets' buffers take before the reader stops, not the whole body.
    expect(pulled).toBeLessThan(CHUNKS / 2);
  });
});
