/** @eventflows/core/postgres against the harness's PostgreSQL (EVENTFLOWS_PG_URL), with the adapter's own client. */
import { createPostgresClient, PostgresEventStore } from "../../../adapters/postgres/index.js";
import { ulid } from "../../../src/index.js";
import { eventStoreContract } from "../../../src/testing/index.js";
import { requiredVariable, type SuiteModule } from "../runtime-suite.js";

export const postgresSuites: SuiteModule = {
  services: ["postgres"],
  // postgres.js reaches TCP on Workers through cloudflare:sockets and node:* modules.
  workerdFlags: ["nodejs_compat"],
  suites: [
    {
      name: "postgres event store",
      contract: "eventStoreContract",
      open: async (env) => {
        const sql = createPostgresClient(requiredVariable(env, "EVENTFLOWS_PG_URL"), { max: 12 });
        // A schema per run, so runs and runtimes never see each other's rows.
        const schema = `runtime_${ulid().toLowerCase()}`;
        await new PostgresEventStore({ sql, schema }).migrate();
        return {
          suite: eventStoreContract({
            name: "PostgresEventStore contract",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
          }),
          close: async () => {
            await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            await sql.end();
          },
        };
      },
    },
  ],
};
