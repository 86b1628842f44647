import { afterEach, describe, expect, test } from "bun:test";
import { jsonLogger } from "../logging/json-logger.js";
import { setLogger } from "../logging/library-logger.js";
import { type LiveClientOptions, type LiveClientSubscription, subscribeLive } from "./subscribe.js";

afterEach(() => setLogger(undefined));

/** Waits until `done()` holds, at most a second. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 1000; waited += 5) await new Promise((r) => setTimeout(r, 5));
}

/** A `fetch` that answers every request with `respond()` (no network). */
function answering(respond: () => Response): () => Promise<Response> {
  return async () => respond();
}

/** A live subscription whose every request `respond` answers, with the hooks given; counts the requests. */
function subscribed(respond: () => Response, hooks: Pick<LiveClientOptions, "onError" | "onEnd">) {
  const live = { requests: 0, subscription: undefined as unknown as LiveClientSubscription };
  live.subscription = subscribeLive({
    url: "http://live.test/events",
    fetch: answering(() => {
      live.requests++;
      return respond();
    }),
    backoff: { initialMs: 1, maxMs: 2 },
    onEvent: () => {},
    ...hooks,
  });
  return live;
}

function logged(): string[] {
  const lines: string[] = [];
  setLogger({ ...jsonLogger(), error: (message) => void lines.push(message) });
  return lines;
}

describe("live client hooks", () => {
  test("an onError that throws is logged; the client goes on reconnecting and close() resolves", async () => {
    const lines = logged();
    const live = subscribed(() => new Response("", { status: 503 }), {
      onError: () => {
        throw new Error("the hook broke");
      },
    });
    await until(() => live.requests >= 3);
    await live.subscription.close();
    expect(live.requests).toBeGreaterThanOrEqual(3);
    expect(lines).toContain("the live onError hook itself threw");
  });

  test("an onEnd that throws is logged, and the subscription still closes", async () => {
    const lines = logged();
    const sse = () =>
      new Response('event: end\ndata: {"reason":"draining"}\n\n', { headers: { "content-type": "text/event-stream" } });
    const live = subscribed(sse, {
      onError: () => {},
      onEnd: () => {
        throw new Error("the hook broke");
      },
    });
    await until(() => lines.length > 0);
    await live.subscription.close();
    expect(lines).toContain("the live onEnd hook itself threw");
    expect(live.requests).toBeGreaterThanOrEqual(1);
  });
});
