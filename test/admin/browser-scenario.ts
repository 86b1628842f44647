/**
 * The operations UI driven in a real headless Chromium (Debian's /usr/bin/chromium over the DevTools
 * protocol with playwright-core; no browser download): load, browse streams, open an event, replay
 * into a projection (dry run, then confirm), resume a parked saga, watch a live event arrive, and an
 * axe-core check of every view. One browser per test file. A browser that cannot start fails the
 * suite with what is missing; it never skips.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ADMIN_TOKEN, type AdminWorldStores, adminWorld, HOSTILE, HOSTILE_STREAM, TRACEPARENT } from "./world.ts";

export const CHROMIUM = process.env.EVENTFLOWS_CHROMIUM ?? "/usr/bin/chromium";
const axeSource = await Bun.file(createRequire(import.meta.url).resolve("axe-core/axe.min.js")).text();

export interface AdminUiScenarioOptions {
  readonly name: string;
  readonly stores: () => Promise<AdminWorldStores>;
  /** Where to save the screenshots the docs show; none when absent. */
  readonly screenshots?: string;
  readonly cleanup?: () => Promise<void>;
}

/** Launches Chromium, or fails saying what is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set EVENTFLOWS_CHROMIUM`,
    );
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM} did not start: ${(error as Error).message}`);
  }
}

export function adminUiScenario(options: AdminUiScenarioOptions): void {
  describe(`operations UI in headless Chromium: ${options.name}`, () => {
    let browser: Browser;
    let server: ReturnType<typeof Bun.serve>;
    let page: Page;
    let world: Awaited<ReturnType<typeof adminWorld>>;
    const problems: string[] = [];
    const requests: { url: string; type: string }[] = [];
    // A browser step takes a second or two on a loaded machine; a hang still fails well before the run's own limit.
    const timeout = 30_000;

    beforeAll(async () => {
      world = await adminWorld(await options.stores());
      server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (request) =>
          // The browser asks the site's root for an icon: not the admin routes' business.
          new URL(request.url).pathname === "/favicon.ico"
            ? new Response(null, { status: 204 })
            : world.app.fetch(request),
      });
      browser = await launchChromium();
      const context = await browser.newContext({
        viewport: { width: 1100, height: 720 },
        extraHTTPHeaders: { authorization: `Bearer ${ADMIN_TOKEN}` },
        colorScheme: "light",
      });
      page = await context.newPage();
      // Anything hostile data could make run would show up as a dialog, a console error or a flag.
      page.on("dialog", (dialog) => {
        problems.push(`dialog: ${dialog.message()}`);
        void dialog.dismiss();
      });
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("response", (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} from ${response.url()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("request", (request) => requests.push({ url: request.url(), type: request.resourceType() }));
      if (options.screenshots !== undefined) mkdirSync(options.screenshots, { recursive: true });
    }, timeout);

    afterAll(async () => {
      await browser?.close();
      await world?.live.close();
      server?.stop(true);
      await options.cleanup?.();
    });

    async function shot(name: string) {
      if (options.screenshots !== undefined)
        await page.screenshot({ path: join(options.screenshots, `${name}.png`), fullPage: true });
    }

    async function axe(view: string) {
      // Evaluated over the DevTools protocol: the page's CSP (no inline scripts) does not apply to it.
      const result = (await page.evaluate(`${axeSource};
        axe.run(document).then((r) => ({
          passes: r.passes.length,
          violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) })),
        }))`)) as { passes: number; violations: { id: string; impact: string; nodes: string[] }[] };
      expect(result.passes).toBeGreaterThan(10);
      const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect({ view, serious }).toEqual({ view, serious: [] });
    }

    const base = () => `http://127.0.0.1:${server.port}/admin`;

    test(
      "loads the newest feed; hostile event data shows as text and runs nothing",
      async () => {
        await page.goto(base());
        expect(page.url()).toBe(`${base()}/`);
        await page.getByRole("heading", { name: "Global feed" }).waitFor();
        await page.getByRole("cell", { name: HOSTILE_STREAM }).waitFor();
        expect(await page.getByRole("link", { name: HOSTILE_STREAM }).count()).toBe(1);
        expect(await page.evaluate("window.__pwned")).toBeUndefined();
        expect(await page.locator("img, svg, main script").count()).toBe(0);
        await shot("feed");
        await axe("feed");
        // The stylesheet follows the system's dark mode: its contrast is checked too.
        await page.emulateMedia({ colorScheme: "dark" });
        await axe("feed, dark");
        await page.emulateMedia({ colorScheme: "light" });
      },
      timeout,
    );

    test(
      "browses streams, opens one, opens an event: envelope, data, metadata and the trace link",
      async () => {
        await page.getByRole("link", { name: "Streams" }).click();
        await page.getByRole("heading", { name: "Streams" }).waitFor();
        await page.getByRole("link", { name: "Cart-1", exact: true }).click();
        await page.getByRole("heading", { name: "Stream Cart-1" }).waitFor();
        await axe("stream");
        await page.getByRole("link", { name: "ItemAdded" }).first().click();
        await page.getByRole("heading", { name: "ItemAdded #1 of Cart-1" }).waitFor();
        const trace = page.getByRole("link", { name: TRACEPARENT.slice(3, 35) });
        expect(await trace.getAttribute("href")).toBe(`https://traces.example/trace/${TRACEPARENT.slice(3, 35)}`);
        expect(await page.locator("pre.json").first().textContent()).toContain('"sku": "TEA"');
        await shot("event");
        await axe("event");
        await page.getByRole("link", { name: "Streams" }).click();
        await page.getByLabel("Open a stream by id").fill(HOSTILE_STREAM);
        await page.getByRole("button", { name: "Open" }).click();
        await page.getByRole("heading", { name: `Stream ${HOSTILE_STREAM}` }).waitFor();
        await page.getByRole("link", { name: "ItemAdded" }).first().click();
        await page.getByRole("heading", { name: `ItemAdded #1 of ${HOSTILE_STREAM}` }).waitFor();
        expect(await page.locator("pre.json").first().textContent()).toContain(HOSTILE.replaceAll('"', '\\"'));
        expect(await page.evaluate("window.__pwned")).toBeUndefined();
      },
      timeout,
    );

    test(
      "replays a stream into the projection: dry run shows the change, confirm writes it",
      async () => {
        await world.readModels.delete("carts", "Cart-1");
        await page.getByRole("link", { name: "Projections" }).click();
        await page.getByRole("heading", { name: "Projections" }).waitFor();
        await page.getByRole("cell", { name: "cart-items" }).waitFor();
        await page.getByLabel("Stream (empty: the global feed)").fill("Cart-1");
        await page.getByRole("button", { name: "Dry run" }).click();
        await page.getByText("Dry run: 2 events read, 2 handled; 2 writes to 1 document(s); up to 2.").waitFor();
        expect(await page.getByRole("table", { name: "What the replay would change" }).textContent()).toContain(
          "COFFEE",
        );
        expect(await world.readModels.get("carts", "Cart-1")).toBeUndefined();
        await shot("replay");
        await axe("replay");
        await page.getByRole("button", { name: "Confirm replay of 2 events" }).click();
        await page.getByText("Replayed: 2 events handled, 2 writes made.").waitFor();
        expect(await world.readModels.get("carts", "Cart-1")).toEqual({ skus: ["TEA", "COFFEE"] });
      },
      timeout,
    );

    test(
      "lists a parked saga and resumes it",
      async () => {
        await page.getByRole("link", { name: "Sagas" }).click();
        await page.getByRole("heading", { name: "Sagas needing attention" }).waitFor();
        await page.getByRole("cell", { name: "ReserveStock is down", exact: false }).first().waitFor();
        await shot("sagas");
        await axe("sagas");
        world.failing.set("ReserveStock", 0);
        await page.getByRole("button", { name: "Resume Order o1" }).click();
        await page.getByText("Resumed Order o1: now running.").waitFor();
        expect(world.sent.map((s) => s.type)).toEqual(["ReserveStock"]);
      },
      timeout,
    );

    test(
      "watches the feed over SSE: an event appended now appears at the top without a reload or a poll",
      async () => {
        const shown = requests.length;
        await page.getByRole("link", { name: "Global feed" }).click();
        await page.getByRole("heading", { name: "Global feed" }).waitFor();
        // A hidden tab holds no stream open: the event waits until the tab is visible again.
        await page.evaluate(`Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
        document.dispatchEvent(new Event("visibilitychange"))`);
        await world.eventStore.appendToStream("Cart-live", [{ type: "ItemAdded", data: { sku: "FRESH" } }]);
        await Bun.sleep(1000);
        expect(await page.locator("tbody tr", { hasText: "Cart-live" }).count()).toBe(0);
        await page.evaluate(`delete document.visibilityState; document.dispatchEvent(new Event("visibilitychange"))`);
        await page.locator("tbody tr:first-child", { hasText: "Cart-live" }).waitFor({ timeout: 10_000 });
        expect(await page.locator("#live-status").textContent()).toBe("1 new event");
        // It came over the SSE route, resumed after the newest event shown; the feed was never polled.
        const since = requests.slice(shown).filter((r) => r.url.includes("/admin/api/"));
        const streams = since.filter((r) => r.url.includes("/admin/api/live"));
        expect(streams.length).toBeGreaterThanOrEqual(2); // opened, closed while hidden, opened again
        expect(streams.every((r) => r.type === "eventsource")).toBe(true);
        expect(since.filter((r) => r.url.includes("/admin/api/feed?after="))).toEqual([]);
        // A second event arrives on the open stream, with no new request.
        const before = requests.length;
        await world.eventStore.appendToStream("Cart-live", [{ type: "ItemAdded", data: { sku: "FRESHER" } }]);
        await page.locator("tbody tr", { hasText: "Cart-live" }).nth(1).waitFor({ timeout: 10_000 });
        expect(await page.locator("#live-status").textContent()).toBe("2 new events");
        expect(requests.slice(before).filter((r) => r.url.includes("/admin/api/"))).toEqual([]);
        await shot("live");
        await axe("live");
        expect(problems).toEqual([]);
      },
      timeout,
    );

    test(
      "a link that is not valid percent-encoding opens as typed: a typed 404 said on the page, not a page stuck loading",
      async () => {
        await page.goto(`${base()}/#/stream/%E0%A4%A`);
        await page.getByText('Stream "%E0%A4%A" does not exist').waitFor();
        await page.goto(`${base()}/#/streams?prefix=%ZZ`);
        await page.getByRole("heading", { name: "Streams" }).waitFor();
        expect(await page.getByLabel("Stream id starts with").inputValue()).toBe("%ZZ");
        // The 404 of the stream asked for, and nothing else: no page error.
        expect(problems.filter((p) => !p.includes("404 from") && !p.includes("404 (Not Found)"))).toEqual([]);
      },
      timeout,
    );

    test(
      "a view answered after the operator moved on is dropped: it does not draw over the view now shown",
      async () => {
        await page.goto(`${base()}/#/streams`);
        await page.getByRole("heading", { name: "Streams" }).waitFor();
        // A slow feed: the operator opens it, then the sagas before its answer comes.
        await page.route("**/api/feed*", async (route) => {
          await Bun.sleep(1500);
          await route.continue();
        });
        try {
          const asked = page.waitForRequest("**/api/feed*");
          const answered = page.waitForResponse("**/api/feed*");
          await page.getByRole("link", { name: "Global feed" }).click();
          await asked;
          await page.getByRole("link", { name: "Sagas" }).click();
          await page.getByRole("heading", { name: "Sagas needing attention" }).waitFor();
          await answered;
          await Bun.sleep(300);
          expect(await page.evaluate("location.hash")).toBe("#/sagas");
          expect(await page.locator("main h2").textContent()).toBe("Sagas needing attention");
          expect(await page.locator("#notice").textContent()).toBe("");
        } finally {
          await page.unrouteAll({ behavior: "ignoreErrors" });
        }
      },
      timeout,
    );

    test(
      "a right-to-left override in an event type or stream id stays in it: the heading and notice around it read left to right",
      async () => {
        // Last: the event it appends would show in the other views' figures and screenshots.
        const rlo = "\u202E";
        const streamId = `Cart-${rlo}evil`;
        await world.eventStore.appendToStream(streamId, [{ type: `Item${rlo}Added`, data: {} }]);
        /** Where `text` is drawn in the element `selector`, from the left: text runs reversed show up as order reversed. */
        const left = (selector: string, text: string) =>
          page.evaluate(`(() => {
            const root = document.querySelector(${JSON.stringify(selector)});
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
              const at = node.data.indexOf(${JSON.stringify(text)});
              if (at < 0) continue;
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + ${text.length});
              return range.getBoundingClientRect().left;
            }
            return Number.NaN;
          })()`) as Promise<number>;
        await page.goto(`${base()}/#/event/${encodeURIComponent(streamId)}/1`);
        await page.getByRole("heading", { name: `Item${rlo}Added #1 of ${streamId}` }).waitFor();
        expect(await left("main h2", "#1")).toBeLessThan(await left("main h2", "of"));
        // A notice naming the id (a stream that does not exist) reads left to right after it too.
        await page.goto(`${base()}/#/stream/${encodeURIComponent(`${streamId}-none`)}`);
        await page.locator("#notice", { hasText: "does not exist" }).waitFor();
        expect(await left("#notice", "does")).toBeLessThan(await left("#notice", "exist"));
      },
      timeout,
    );

    test(
      "a bidirectional control in event data shows as its JSON escape: the JSON lines around it read left to right",
      async () => {
        // After the right-to-left test, for the same reason: its event shows in the other views.
        const rlo = "\u202E";
        await world.eventStore.appendToStream("Cart-bidi", [
          { type: "ItemAdded", data: { [`${rlo}key-one`]: "value-two" }, metadata: { note: `${rlo}meta-three` } },
        ]);
        await page.goto(`${base()}/#/event/Cart-bidi/1`);
        await page.getByRole("heading", { name: "ItemAdded #1 of Cart-bidi" }).waitFor();
        // Drawn in order: the key, then its value (the override reversed the whole line).
        const left = (text: string) =>
          page.evaluate(`(() => {
            const node = document.querySelector("main pre").firstChild;
            const at = node.data.indexOf(${JSON.stringify(text)});
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + ${text.length});
            return range.getBoundingClientRect().left;
          })()`) as Promise<number>;
        expect(await left("key-one")).toBeLessThan(await left("value-two"));
        const [data, metadata] = await page.locator("main pre").allTextContents();
        // The same JSON, the control written as an escape an operator can see.
        expect(data).toContain('"\\u202ekey-one": "value-two"');
        expect(metadata).toContain('"note": "\\u202emeta-three"');
        expect(`${data}${metadata}`).not.toContain(rlo);
        expect(JSON.parse(data as string)).toEqual({ [`${rlo}key-one`]: "value-two" });
      },
      timeout,
    );
  });
}
