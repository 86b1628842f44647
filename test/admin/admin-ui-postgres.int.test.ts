/**
 * The operations UI in headless Chromium on PostgreSQL: the event store, the read models and the
 * saga store are the PostgreSQL adapters, in a schema of this run's own.
 */

import {
  PostgresEventStore,
  PostgresReadModelStore,
  PostgresSagaStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import { postgresTestClient, uniqueSchema } from "../services/postgres.ts";
import { adminUiScenario } from "./browser-scenario.ts";

let sql: PostgresSql;
const schema = uniqueSchema("admin_ui");

adminUiScenario({
  name: "PostgreSQL",
  stores: async () => {
    sql = await postgresTestClient({ max: 10 });
    const eventStore = new PostgresEventStore({ sql, schema });
    await eventStore.migrate();
    return {
      eventStore,
      readModels: new PostgresReadModelStore({ sql, schema }),
      sagaStore: new PostgresSagaStore({ sql, schema }),
    };
  },
  cleanup: async () => {
    await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await sql?.end();
  },
});
