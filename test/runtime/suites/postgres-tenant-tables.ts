/**
 * Row-level-security tables in a fresh schema, and a client on them as a role of its own that is
 * neither superuser nor BYPASSRLS (the harness's superuser would bypass the policies). Shared by the
 * postgres suites (one tenant's store contracts) and the tenancy suites (the isolation contract).
 */
import { createPostgresClient, enableRowLevelSecurity, migrate } from "../../../adapters/postgres/index.js";
import { ulid } from "../../../src/index.js";
import { type RuntimeEnv, requiredVariable } from "../runtime-suite.js";

export interface TenantTables {
  /** The application role's client: give it to `tenantScopedSql`, never to a store directly. */
  readonly sql: ReturnType<typeof createPostgresClient>;
  /** The application role's URL: for clients of one tenant each (`createPostgresClient(url, { tenant })`). */
  readonly url: string;
  readonly schema: string;
  /** Ends the client, drops the schema and the role. */
  readonly close: () => Promise<void>;
}

export async function openTenantTables(env: RuntimeEnv, max = 12): Promise<TenantTables> {
  const url = requiredVariable(env, "EVENTFLOWS_PG_URL");
  const admin = createPostgresClient(url, { max: 1 });
  const id = ulid().toLowerCase();
  const role = `runtime_rls_${id.slice(-10)}`;
  const schema = `runtime_rls_${id}`;
  const [db] = await admin.unsafe("SELECT current_database() AS name");
  await admin.unsafe(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS`);
  await admin.unsafe(`GRANT CREATE ON DATABASE "${db?.name}" TO ${role}`);
  const roleUrl = new URL(url);
  roleUrl.username = role;
  const sql = createPostgresClient(roleUrl.toString(), { max });
  await migrate(sql, { schema });
  await enableRowLevelSecurity(sql, { schema });
  return {
    sql,
    url: roleUrl.toString(),
    schema,
    close: async () => {
      await sql.end();
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.unsafe(`DROP OWNED BY ${role}`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    },
  };
}
