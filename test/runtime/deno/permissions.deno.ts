/**
 * The package under Deno's permissions: a program run without `--allow-env` (or with it for some
 * variables only) is refused each variable it may not read, with Deno's `NotCapable`. The library
 * reads the environment only as a fallback for options not given, so a refused variable must read
 * as unset, never escape as Deno's error. Bundled and run by test/runtime/deno/run.ts.
 */
import { createDynamoDbClient } from "../../../adapters/dynamodb/index.js";
import { createPostgresClient, PostgresEventStore } from "../../../adapters/postgres/index.js";
import { ambientEnv, EventFlowsError, readEnv } from "../../../src/index.js";

declare const Deno: {
  test(options: { name: string; permissions: { env?: boolean; net?: boolean }; fn: () => Promise<void> }): void;
  env: { get(name: string): string | undefined };
};

/** Read before the cases, which run with narrower permissions. */
const pgUrl = Deno.env.get("EVENTFLOWS_PG_URL");
const dynamoDbUrl = Deno.env.get("AWS_ENDPOINT_URL_DYNAMODB");

async function expectRejects(what: string, promise: Promise<unknown>, name: string): Promise<EventFlowsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EventFlowsError && error.name === name) return error;
    throw new Error(`${what} threw ${(error as Error)?.name}: ${(error as Error)?.message}, expected a ${name}`);
  }
  throw new Error(`${what} did not throw`);
}

function expectThrows(what: string, fn: () => unknown, name: string): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof EventFlowsError && error.name === name) return;
    throw new Error(`${what} threw ${(error as Error)?.name}: ${(error as Error)?.message}, expected a ${name}`);
  }
  throw new Error(`${what} did not throw`);
}

Deno.test({
  name: "without --allow-env: readEnv, ambientEnv and the AWS clients read the environment as empty",
  permissions: { env: false },
  fn: async () => {
    const checks: [string, unknown, unknown][] = [
      ["readEnv(name)", readEnv("AWS_REGION"), undefined],
      ["readEnv(name, env)", readEnv("AWS_REGION", { AWS_REGION: "eu-west-1" }), "eu-west-1"],
      ["readEnv(name, {})", readEnv("HOME", {}), undefined],
      ["ambientEnv()[name]", ambientEnv().HOME, undefined],
      ["name in ambientEnv()", "HOME" in ambientEnv(), false],
    ];
    for (const [what, actual, expected] of checks) {
      if (actual !== expected) throw new Error(`${what}: ${String(actual)}, expected ${String(expected)}`);
    }
    // Everything given: nothing is read. Region and credentials given: the endpoint falls back to
    // AWS's public one, as where the variable is unset.
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
    createDynamoDbClient({ region: "us-east-1", endpoint: "http://127.0.0.1:1", credentials });
    createDynamoDbClient({ region: "us-east-1", credentials });
    // Nothing given: the library's own ValidationError, naming what to pass.
    expectThrows("createDynamoDbClient({})", () => createDynamoDbClient({}), "ValidationError");
    // postgres.js reads the PG* variables for its defaults, whatever it is given: the error says which
    // permission to grant, and does not blame the URL.
    try {
      createPostgresClient("postgres://user:pw@127.0.0.1:5432/db");
      throw new Error("createPostgresClient did not throw");
    } catch (error) {
      const { name, message } = error as Error;
      if (name !== "ValidationError" || !message.includes("--allow-env=PG*") || message.includes("url:"))
        throw new Error(`createPostgresClient threw ${name}: ${message}`);
    }
  },
});

Deno.test({
  name: "without --allow-net for the database: the PostgreSQL stores fail with a ServiceError naming neither host nor password",
  permissions: { net: false, env: true },
  fn: async () => {
    if (pgUrl === undefined) throw new Error("EVENTFLOWS_PG_URL is not set: the service harness did not start");
    const sql = createPostgresClient(pgUrl, { max: 1 });
    const store = new PostgresEventStore({ sql });
    const url = new URL(pgUrl);
    try {
      for (const [what, run] of [
        ["ping", () => store.ping()],
        ["appendToStream", () => store.appendToStream("Deno-1", [{ type: "Checked", data: {} }])],
        ["migrate", () => store.migrate()],
      ] as const) {
        const error = await expectRejects(what, run(), "ServiceError");
        const text = `${error.message} ${String(error.cause)}`;
        if (!text.includes("--allow-net") || text.includes(url.hostname) || text.includes(url.port))
          throw new Error(`${what}: ${text}`);
      }
    } finally {
      await sql.end({ timeout: 0 });
    }
  },
});

Deno.test({
  name: "without --allow-net for the endpoint: an AWS call fails at once with a ServiceError saying so, not retried",
  permissions: { net: false, env: true },
  fn: async () => {
    if (dynamoDbUrl === undefined)
      throw new Error("AWS_ENDPOINT_URL_DYNAMODB is not set: the service harness did not start");
    const endpoint = new URL(dynamoDbUrl);
    // The global fetch, counted: a refusal that were retried would show as a second attempt.
    let attempts = 0;
    const client = createDynamoDbClient({
      region: "us-east-1",
      endpoint: dynamoDbUrl,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      fetch: (request) => {
        attempts += 1;
        return fetch(request);
      },
    });
    const error = await expectRejects("ListTables", client.send("ListTables", {}), "AwsServiceError");
    const text = `${error.message} ${String(error.cause)}`;
    const { retryable } = error as EventFlowsError & { retryable?: boolean };
    if (retryable !== false || !text.includes("--allow-net") || text.includes(endpoint.port))
      throw new Error(`ListTables: retryable ${retryable}, ${text}`);
    if (attempts !== 1) throw new Error(`ListTables made ${attempts} attempts: it was retried`);
  },
});
