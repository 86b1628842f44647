/**
 * Type-level tests of subscribeLive's options. Checked by `tsc -p tsconfig.test.json`, whose Bun types give the
 * global `fetch` a `preconnect` method that a function of one's own does not have.
 */
import { expect, test } from "bun:test";
import { subscribeLive } from "./subscribe.js";

test("fetch takes a plain function, as the live-streams guide passes Hono's app.request", async () => {
  const urls: string[] = [];
  // No cast: `typeof fetch` in Bun's types also asks for `fetch.preconnect`, which a user's function has not.
  const fetch = async (input: string | URL | Request, _init?: RequestInit) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response(null, { status: 401 });
  };
  const subscription = subscribeLive({ url: "http://localhost/events", fetch, onEvent: () => {}, onError: () => {} });
  await subscription.closed;
  expect(urls).toEqual(["http://localhost/events/stream"]);
});
