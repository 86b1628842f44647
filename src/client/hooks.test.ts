import { afterEach, describe, expect, test } from "bun:test";
import { jsonLogger } from "../logging/json-logger.js";
import { setLogger } from "../logging/library-logger.js";
import { subscribeLive } from "./subscribe.js";

afterEach(() => setLogger(undefined));

/** Waits until `done()` holds, at most a second. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 1000; waited += 5) await new Promise((r) => setTimeout(r, 5));
}

/** A `fetch` that answers every request with `respond()` (no network). */
function answering(respond: () => Response): typeof fetch {
  return Object.assign(async () => respond(), { preconnect: () => {} }) as typeof fetch;
}

function logged(): string[] {
  const lines: string[] = [];
  setLogger({ ...jsonLogger(), error: (message) => void lines.push(message) });
  return lines;
}

describe("live client hooks", () => {
  test("an onError that throws is logged; the client goes on reconnecting and close() resolves", async () => {
    const lines = logged();
    let requests = 0;
    const subscription = subscribeLive({
      url: "http://live.test/events",
      fetch: answering(() => {
        requests++;
        return new Response("", { status: 503 });
      }),
      backoff: { initialMs: 1, maxMs: 2 },
      onEvent: () => {},
      onError: () => {
        throw new Error("the hook broke");
      },
    });
    await until(() => requests >= 3);
    await subscription.close();
    expect(requests).toBeGreaterThanOrEqual(3);
    expect(lines).toContain("the live onError hook itself threw");
  });

  test("an onEnd that throws is logged, and the subscription still closes", async () => {
    const lines = logged();
    let requests = 0;
    const subscription = subscribeLive({
      url: "http://live.test/events",
      fetch: answering(() => {
        requests++;
        return new Response('event: end\ndata: {"reason":"draining"}\n\n', {
          headers: { "content-type": "text/event-stream" },
        });
      }),
      backoff: { initialMs: 1, maxMs: 2 },
      onEvent: () => {},
      onError: () => {},
      onEnd: () => {
        throw new Error("the hook broke");
      },
    });
    await until(() => lines.length > 0);
    await subscription.close();
    expect(lines).toContain("the live onEnd hook itself threw");
    expect(requests).toBeGreaterThanOrEqual(1);
  });
});
