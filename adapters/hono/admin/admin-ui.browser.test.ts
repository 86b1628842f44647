/**
 * The operations UI in headless Chromium on the in-memory stores. This run saves the screenshots the
 * docs show (docs/public/admin/*.png).
 */
import { join } from "node:path";
import { InMemoryEventStore, InMemoryReadModelStore, InMemorySagaStore } from "../../../src/index.js";
import { adminUiScenario } from "../../../test/admin/browser-scenario.ts";

adminUiScenario({
  name: "in-memory stores",
  stores: async () => ({
    eventStore: new InMemoryEventStore(),
    readModels: new InMemoryReadModelStore(),
    sagaStore: new InMemorySagaStore(),
  }),
  screenshots: join(import.meta.dirname, "..", "..", "..", "docs", "public", "admin"),
});
