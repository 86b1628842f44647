/**
 * The OTLP/HTTP export against receivers that answer what a proxy or a broken endpoint can answer: fake
 * servers on loopback (random ports, stopped in one `finally`), over real sockets.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { handReader } from "./otel.fixture.test.js";
import { exportMetrics } from "./otlp-http.js";

test("fake server: a redirect (301, 302, 307, 308) is not followed: the API key goes nowhere else, the export fails as the status", async () => {
  let elsewhere = 0;
  let status = 307;
  const away = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      elsewhere++;
      await request.text();
      return new Response("{}");
    },
  });
  const redirecting = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      await request.text();
      return new Response(null, { status, headers: { location: `http://127.0.0.1:${away.port}/v1/metrics` } });
    },
  });
  try {
    for (status of [301, 302, 307, 308]) {
      const error = await exportMetrics(handReader().reader, {
        url: `http://127.0.0.1:${redirecting.port}/v1/metrics`,
        headers: { "x-api-key": "otlp-key-s3cret" },
      }).catch((e: unknown) => e);
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({ serviceCode: String(status), status, retryable: false });
      expect(everythingShown(error)).not.toContain("otlp-key-s3cret");
      expect((error as Error).message).toContain("not followed");
    }
    // Followed, the export (and its x-api-key) went to wherever `location` pointed, and its 200 was taken for success.
    expect(elsewhere).toBe(0);
  } finally {
    away.stop(true);
    redirecting.stop(true);
  }
});
