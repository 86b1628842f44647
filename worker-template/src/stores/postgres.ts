/**
 * The PostgreSQL store through postgres.js. Connections belong to the request that opened them on
 * Workers (Hyperdrive does the pooling), so a store is made per request and closed after it.
 */
import { PostgresEventStore } from "@eventflows/core/postgres";
import { ConfigurationError, storeOpener } from "../config.js";

export const openPostgresStore = storeOpener("postgres", (env) => {
  const url = env.HYPERDRIVE?.connectionString ?? env.DATABASE_URL;
  if (url === undefined || url === "") {
    throw new ConfigurationError("no database: bind HYPERDRIVE (wrangler.toml) or set DATABASE_URL");
  }
  // Workers allow six simultaneous connections per request; one request here runs one query at a time.
  const store = new PostgresEventStore({ url, schema: env.PG_SCHEMA || "eventflows", client: { max: 2 } });
  return { store, close: () => store.close() };
});
