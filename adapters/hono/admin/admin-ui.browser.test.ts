/**
 * The operations UI in headless Chromium on the in-memory stores. This run saves the screenshots the
 * docs show (docs/public/admin/*.png), with this process's clock set to a fixed time, so the event
 * times they show (and so the images) are the same from run to run.
 */
import { afterAll, setSystemTime } from "bun:test";
import { join } from "node:path";
import { InMemoryEventStore, InMemoryReadModelStore, InMemorySagaStore } from "../../../src/index.js";
import { adminUiScenario } from "../../../test/admin/browser-scenario.ts";

setSystemTime(new Date("2026-12-03T09:30:00.000Z"));
afterAll(() => void setSystemTime());

adminUiScenario({
  name: "in-memory stores",
  stores: async () => ({
    eventStore: new InMemoryEventStore(),
    readModels: new InMemoryReadModelStore(),
    sagaStore: new InMemorySagaStore(),
  }),
  screenshots: join(import.meta.dirname, "..", "..", "..", "docs", "public", "admin"),
});
