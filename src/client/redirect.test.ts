/**
 * subscribeLive against a server that redirects (a proxy's, a moved route): fake servers on loopback, random
 * ports, stopped in one `finally`, over the runtime's own fetch, which is what follows redirects.
 */
import { expect, test } from "bun:test";
import { type FakeServer, withFakeServers } from "../../test/fake-server.ts";
import { LiveClientErrorCode, type LiveStreamError, subscribeLive } from "./index.js";

test("fake server: a redirect is not followed: the other host gets no request and no headers, the answer is reported as its status, and retried", async () => {
  let elsewhere = 0;
  let asked = 0;
  const away = () => {
    elsewhere++;
    const event = { id: "e1", type: "E", streamId: "S-1", version: 1, globalPosition: 1, data: {} };
    return new Response(`event: open\ndata: {}\n\ndata: ${JSON.stringify(event)}\n\n`, {
      headers: { "content-type": "text/event-stream" },
    });
  };
  const redirect = (_: Request, [away]: readonly FakeServer[]) => {
    asked++;
    return new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.1:${away?.port}/api/events/stream` },
    });
  };
  const handled: unknown[] = [];
  const errors: LiveStreamError[] = [];
  await withFakeServers([away, redirect], async ([, redirecting]) => {
    const subscription = subscribeLive({
      url: `http://127.0.0.1:${redirecting?.port}/api/events`,
      headers: { "x-api-key": "live-key-s3cret" },
      backoff: { initialMs: 1, maxMs: 1 },
      onEvent: (event) => void handled.push(event),
      onError: (error) => void errors.push(error),
    });
    // Waits on what happened, never on a clock: two reports mean the redirect was answered and tried again.
    while (errors.length < 2 && elsewhere === 0) await Bun.sleep(5);
    await subscription.close();
    expect(elsewhere).toBe(0);
    expect(handled).toEqual([]);
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({ code: LiveClientErrorCode.Disconnected, status: 307 });
    expect(errors[0]?.message).toContain("not followed");
  });
});
