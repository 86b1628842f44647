/**
 * The worker template end to end in workerd: each wrangler.toml environment's entry is bundled as
 * wrangler bundles it, run by miniflare with wrangler.toml's compatibility date and that
 * environment's flags and vars, and driven over HTTP: the top level's D1 entry against miniflare's
 * local D1 (as `wrangler dev` has it), the DynamoDB entry against the harness's real DynamoDB Local,
 * the PostgreSQL entry against PostgreSQL through a Hyperdrive binding. Each stored event is then read back
 * from this process, straight from the store. Bad requests get problem+json 4xx
 * and leave the store exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Miniflare } from "miniflare";
import { createDynamoDbClient, DynamoDbEventStore } from "../../adapters/dynamodb/index.js";
import { createPostgresClient, PostgresEventStore } from "../../adapters/postgres/index.js";
import { type D1DatabaseLike, d1Driver, SqliteEventStore } from "../../adapters/sqlite/index.js";
import { packageEntries } from "../../scripts/lib/package-exports.ts";
import { type EventEnvelope, type EventStore, ulid } from "../../src/index.js";
import { cacheDir, repoRoot } from "../../test/services/common.ts";
import { ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import {
  bundleTemplateScript,
  bundleWorkerTemplate,
  type TemplateDeployment,
  templateDeployments,
  templateDir,
} from "./bundle.ts";

setDefaultTimeout(120_000);

interface WranglerConfig {
  readonly compatibility_date: string;
  readonly d1_databases: readonly { readonly binding: string }[];
}

const wrangler = Bun.TOML.parse(readFileSync(join(templateDir, "wrangler.toml"), "utf8")) as unknown as WranglerConfig;
const TOKEN = `token-${ulid()}`;
const JSON_HEADERS = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
const ORIGIN = "http://worker.test";

/** Each store's deployment (wrangler.toml's environment: entry, flags, vars) and its bundle, made on first use. */
const deployments = new Map(templateDeployments().map((deployment) => [deployment.store, deployment]));
const bundles = new Map<string, Promise<string>>();

function deploymentOf(store: string): TemplateDeployment {
  const deployment = deployments.get(store);
  if (deployment === undefined) throw new Error(`wrangler.toml has no environment with EVENT_STORE = "${store}"`);
  return deployment;
}

function bundleOf(deployment: TemplateDeployment): Promise<string> {
  let code = bundles.get(deployment.main);
  if (code === undefined) {
    code = bundleWorkerTemplate(join(templateDir, deployment.main)).then((bundle) => bundle.code);
    bundles.set(deployment.main, code);
  }
  return code;
}

interface Worker {
  readonly miniflare: Miniflare;
  /** What the Worker wrote to stdout and stderr (console.log/error), also echoed here. */
  readonly logs: string[];
}

/**
 * The entry of `deployment`, bundled, in workerd with its compatibility flags. `d1Persist`: a folder
 * that keeps the D1 databases, which another Worker given the same folder opens again.
 */
async function workerFor(
  deployment: TemplateDeployment,
  bindings: Record<string, string>,
  hyperdrives: Record<string, string> = {},
  d1Databases: readonly string[] = [],
  d1Persist?: string,
): Promise<Worker> {
  const logs: string[] = [];
  const miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: await bundleOf(deployment) }],
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: [...deployment.compatibilityFlags],
    bindings,
    hyperdrives,
    d1Databases: [...d1Databases],
    ...(d1Persist === undefined ? {} : { d1Persist }),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk: Buffer) => {
          logs.push(chunk.toString());
          process.stderr.write(chunk);
        });
      }
    },
  });
  return { miniflare, logs };
}

/**
 * Waits (boundedly: the Worker logs after it has answered) until the log holds `marker` followed
 * by every one of `expected`, and returns the log from `marker` on.
 */
async function loggedAfter(worker: Worker, marker: string, expected: readonly string[]): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const all = worker.logs.join("");
    const at = all.indexOf(marker);
    if (at !== -1 && expected.every((text) => all.indexOf(text, at) !== -1)) return all.slice(at);
    await Bun.sleep(50);
  }
  throw new Error(
    `the Worker never logged "${marker}" then ${expected.join(", ")}; it logged:\n${worker.logs.join("")}`,
  );
}

/**
 * A request to the Worker on a connection of its own. The Worker refuses some requests before
 * reading their bodies (auth, media type, size), and workerd then closes the connection; a client
 * reusing it at once for the next request would see ECONNRESET, a property of the transport that
 * has nothing to do with what is tested here.
 */
async function dispatch(worker: Worker, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("connection", "close");
  const response = await worker.miniflare.dispatchFetch(`${ORIGIN}${path}`, { ...init, headers } as never);
  return response as unknown as Response;
}

interface Deployment {
  readonly of: TemplateDeployment;
  readonly bindings: Record<string, string>;
  readonly hyperdrives?: Record<string, string>;
  readonly d1Databases?: readonly string[];
  /** The same store the Worker writes to, opened from this process once the Worker runs. */
  readonly store: (worker: Worker) => Promise<EventStore>;
  readonly dispose: () => Promise<void>;
}

/**
 * wrangler.toml's top level as `wrangler dev` runs it: miniflare's local D1 (in memory here), no
 * other service. The test reads the database through miniflare's proxy of the same binding.
 */
async function d1Deployment(): Promise<Deployment> {
  const bindingNames = wrangler.d1_databases.map((database) => database.binding);
  const of = deploymentOf("d1");
  return {
    of,
    bindings: { ...of.vars, API_TOKEN: TOKEN },
    d1Databases: bindingNames,
    store: async (worker) => {
      const db = (await worker.miniflare.getD1Database(bindingNames[0] as string)) as unknown as D1DatabaseLike;
      return new SqliteEventStore({ driver: d1Driver(db) });
    },
    dispose: async () => {},
  };
}

/** A table of its own, created with the template's own script (bundled, run by Node). */
async function dynamoDbDeployment(): Promise<Deployment> {
  const { endpoint, region, credentials } = await ensureDynamoDb();
  const tableName = `worker_template_${ulid()}`;
  const script = join(cacheDir, "worker-template", "create-table.mjs");
  mkdirSync(join(script, ".."), { recursive: true });
  writeFileSync(script, await bundleTemplateScript(join(templateDir, "scripts", "create-table.mjs")));
  const created = spawnSync("node", [script, tableName], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    },
  });
  if (created.status !== 0) throw new Error(`scripts/create-table.mjs failed: ${created.stderr}${created.stdout}`);
  expect(created.stdout).toContain(`${tableName}: created`);
  expect(created.stdout).toContain(`${tableName}: TTL on over ttl`);
  const local = { region, credentials, endpoint };
  const store = new DynamoDbEventStore({ ...local, tableName });
  const of = deploymentOf("dynamodb");
  return {
    of,
    bindings: {
      ...of.vars,
      DYNAMODB_TABLE: tableName,
      AWS_REGION: region,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      API_TOKEN: TOKEN,
    },
    store: async () => store,
    dispose: async () => {
      await createDynamoDbClient(local).send("DeleteTable", { TableName: tableName });
    },
  };
}

/** A schema of its own, migrated with the `eventflows-pg migrate` command the README gives. */
async function postgresDeployment(): Promise<Deployment> {
  const url = await ensurePostgres();
  const schema = uniqueSchema("worker_template");
  const migrated = spawnSync(
    process.execPath,
    [join(repoRoot, "bin", "eventflows-pg.js"), "migrate", "--url", url, "--schema", schema],
    { encoding: "utf8" },
  );
  if (migrated.status !== 0) throw new Error(`eventflows-pg migrate failed: ${migrated.stderr}${migrated.stdout}`);
  const sql = createPostgresClient(url, { max: 2 });
  const of = deploymentOf("postgres");
  return {
    of,
    bindings: { ...of.vars, PG_SCHEMA: schema, API_TOKEN: TOKEN },
    hyperdrives: { HYPERDRIVE: withPassword(url) },
    store: async () => new PostgresEventStore({ sql, schema }),
    dispose: async () => {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
    },
  };
}

/**
 * Hyperdrive configurations always carry a password, and miniflare insists on one; the harness's
 * throwaway cluster trusts loopback connections and ignores it.
 */
function withPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password === "") parsed.password = "unused";
  return parsed.toString();
}

async function allEvents(store: EventStore): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}

async function expectProblem(response: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return body;
}

type JsonSchema = Record<string, unknown>;

/**
 * The keywords the document's text schemas use, evaluated as JSON Schema says (patterns as ECMA-262
 * with the `u` flag, as validators such as ajv do; lengths in code points).
 */
function documentAccepts(schema: JsonSchema, text: string): boolean {
  const codePoints = [...text].length;
  if (typeof schema.minLength === "number" && codePoints < schema.minLength) return false;
  if (typeof schema.maxLength === "number" && codePoints > schema.maxLength) return false;
  if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(text)) return false;
  const anyOf = schema.anyOf as JsonSchema[] | undefined;
  if (anyOf !== undefined && !anyOf.some((branch) => documentAccepts(branch, text))) return false;
  const allOf = schema.allOf as JsonSchema[] | undefined;
  return allOf === undefined || allOf.every((branch) => documentAccepts(branch, text));
}

test("the template type-checks under its own tsconfig.json, as a user's copy does", () => {
  // The user's config, with @eventflows/core's entry points mapped to this checkout's sources.
  const dir = join(cacheDir, "worker-template", "tsc");
  mkdirSync(dir, { recursive: true });
  const paths = Object.fromEntries(
    packageEntries().map((entry) => [entry.specifier, [relative(dir, join(repoRoot, entry.source))]]),
  );
  const config = {
    extends: relative(dir, join(templateDir, "tsconfig.json")),
    compilerOptions: { paths },
    include: [relative(dir, join(templateDir, "src"))],
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config, null, 2));
  const tsc = spawnSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", dir, "--pretty", "false"], {
    encoding: "utf8",
  });
  expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
  expect(tsc.status).toBe(0);
});

for (const [name, deploy] of [
  ["D1 (the default, offline)", d1Deployment],
  ["DynamoDB (DynamoDB Local)", dynamoDbDeployment],
  ["PostgreSQL (through a Hyperdrive binding)", postgresDeployment],
] as const) {
  describe(`the worker template in workerd, ${name}`, () => {
    let deployment: Deployment;
    let worker: Worker;
    let store: EventStore;

    beforeAll(async () => {
      deployment = await deploy();
      worker = await workerFor(deployment.of, deployment.bindings, deployment.hyperdrives, deployment.d1Databases);
      await worker.miniflare.ready;
      store = await deployment.store(worker);
    });
    afterAll(async () => {
      await worker?.miniflare.dispose();
      await deployment?.dispose();
    });

    const send = (path: string, init: RequestInit = {}) => dispatch(worker, path, init);
    const command = (type: string, body: unknown, headers: Record<string, string> = {}) =>
      send(`/commands/${type}`, {
        method: "POST",
        headers: { ...JSON_HEADERS, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const getList = (listId: string) =>
      send(`/queries/GetList?listId=${encodeURIComponent(listId)}`, { headers: { authorization: `Bearer ${TOKEN}` } });

    /** The schema /openapi.json gives a command body's field. */
    async function documentedField(type: string, field: string): Promise<JsonSchema> {
      const document = (await (await send("/openapi.json")).json()) as {
        paths: Record<string, { post: { requestBody: { content: Record<string, { schema: JsonSchema }> } } }>;
      };
      const body = document.paths[`/commands/${type}`]?.post.requestBody.content["application/json"]?.schema;
      const schema = (body?.properties as Record<string, JsonSchema> | undefined)?.[field];
      if (schema === undefined) throw new Error(`the document has no ${type}.${field}`);
      return schema;
    }

    /** Runs `request` and checks it answered `status`/`code` as problem+json and wrote nothing. */
    async function refused(request: () => Promise<Response>, status: number, code: string) {
      const before = await allEvents(store);
      const body = await expectProblem(await request(), status, code);
      expect(await allEvents(store)).toEqual(before);
      return body;
    }

    async function createList(title = "Groceries"): Promise<string> {
      const response = await command("CreateList", { title });
      expect(response.status).toBe(200);
      return ((await response.json()) as { listId: string }).listId;
    }

    test("health: live, and ready once the store answers from inside workerd", async () => {
      const live = await send("/health/live");
      expect(live.status).toBe(200);
      const ready = await send("/health/ready");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ok", checks: { store: { status: "ok" } } });
    });

    test("GET /openapi.json documents the commands, the query and the bearer scheme", async () => {
      const response = await send("/openapi.json");
      expect(response.status).toBe(200);
      const document = (await response.json()) as {
        paths: Record<string, unknown>;
        components: { securitySchemes: Record<string, unknown> };
      };
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining([
          "/commands/CreateList",
          "/commands/AddTodo",
          "/commands/CompleteTodo",
          "/queries/GetList",
        ]),
      );
      expect(document.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
    });

    test("commands append events, the query reads them back, the store holds them", async () => {
      const correlationId = `e2e-${ulid()}`;
      const headers = { "x-correlation-id": correlationId };
      const created = await command("CreateList", { title: "  Groceries  " }, headers);
      expect(created.status).toBe(200);
      expect(created.headers.get("x-correlation-id")).toBe(correlationId);
      const { listId, version } = (await created.json()) as { listId: string; version: number };
      expect(version).toBe(1);

      const first = await command("AddTodo", { listId, text: "milk" }, headers);
      expect(await first.json()).toEqual({ todoId: 1, version: 2 });
      // Lower case is the same list: the schema normalises ULIDs.
      const second = await command("AddTodo", { listId: listId.toLowerCase(), text: "bread" }, headers);
      expect(await second.json()).toEqual({ todoId: 2, version: 3 });
      const done = await command("CompleteTodo", { listId, todoId: 1 }, headers);
      expect(await done.json()).toEqual({ version: 4 });
      const again = await command("CompleteTodo", { listId, todoId: 1 }, headers);
      expect(await again.json()).toEqual({ version: 4 });

      const read = await getList(listId);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({
        listId,
        title: "Groceries",
        todos: [
          { todoId: 1, text: "milk", done: true },
          { todoId: 2, text: "bread", done: false },
        ],
        version: 4,
      });
      const byPost = await send("/queries/GetList", {
        method: "POST",
        headers: JSON_HEADERS,
        body: `{"listId":"${listId}"}`,
      });
      expect(((await byPost.json()) as { version: number }).version).toBe(4);

      const stored: EventEnvelope[] = [];
      for await (const event of store.readStream(`TodoList-${listId}`)) stored.push(event);
      expect(stored.map(({ version, type, data }) => ({ version, type, data }))).toEqual([
        { version: 1, type: "TodoListCreated", data: { title: "Groceries" } },
        { version: 2, type: "TodoAdded", data: { todoId: 1, text: "milk" } },
        { version: 3, type: "TodoAdded", data: { todoId: 2, text: "bread" } },
        { version: 4, type: "TodoCompleted", data: { todoId: 1 } },
      ]);
      for (const event of stored) {
        expect(event.streamId).toBe(`TodoList-${listId}`);
        expect(event.metadata.correlationId).toBe(correlationId);
        expect(typeof event.metadata.causationId).toBe("string");
      }
    });

    test("an Idempotency-Key replays the first result instead of appending again", async () => {
      const listId = await createList();
      const retry = () => command("AddTodo", { listId, text: "once" }, { "idempotency-key": `add-${listId}` });
      const first = await retry();
      expect(await first.json()).toEqual({ todoId: 1, version: 2 });
      const before = await allEvents(store);
      const replayed = await retry();
      expect(replayed.status).toBe(200);
      expect(replayed.headers.get("idempotent-replayed")).toBe("true");
      expect(await replayed.json()).toEqual({ todoId: 1, version: 2 });
      expect(await allEvents(store)).toEqual(before);
    });

    describe("bad input: problem+json 4xx, nothing written", () => {
      test("malformed JSON", async () => {
        await refused(() => command("CreateList", '{"title": "unterminated'), 400, "VALIDATION_FAILED");
      });

      test("a body that is not JSON by its content type", async () => {
        await refused(
          () => command("CreateList", "title=Groceries", { "content-type": "application/x-www-form-urlencoded" }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        );
      });

      test("a body over the 1 MiB limit", async () => {
        await refused(() => command("CreateList", { title: "x".repeat(1024 * 1024) }), 413, "PAYLOAD_TOO_LARGE");
      });

      test("a body over the limit sent in chunks (no Content-Length), a charset other than UTF-8, bytes that are not UTF-8, nesting past 64 levels", async () => {
        const chunks = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 1025; i++) controller.enqueue(new Uint8Array(1024).fill(0x20));
            controller.close();
          },
        });
        const streamed = { method: "POST", headers: JSON_HEADERS, body: chunks, duplex: "half" } as RequestInit;
        await refused(() => send("/commands/CreateList", streamed), 413, "PAYLOAD_TOO_LARGE");
        await refused(
          () => command("CreateList", { title: "x" }, { "content-type": "application/json; charset=latin1" }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        );
        const latin1 = new Uint8Array([...new TextEncoder().encode('{"title":"caf'), 0xe9, 0x22, 0x7d]);
        await refused(
          () => send("/commands/CreateList", { method: "POST", headers: JSON_HEADERS, body: latin1 }),
          400,
          "VALIDATION_FAILED",
        );
        const deep = await refused(
          () => command("CreateList", `${"[".repeat(65)}${"]".repeat(65)}`),
          400,
          "VALIDATION_FAILED",
        );
        expect(deep.detail).toContain("64");
      });

      test("a method a route does not take is 405 with Allow (HEAD and OPTIONS too); a type percent-encoded oddly is 404", async () => {
        const auth = { authorization: `Bearer ${TOKEN}` };
        for (const [path, allow] of [
          ["/commands/CreateList", "POST"],
          [`/queries/GetList?listId=${ulid()}`, "GET, HEAD, POST"],
          ["/health/ready", "GET, HEAD"],
        ] as const) {
          for (const method of ["OPTIONS", "PUT", "DELETE", "PATCH"]) {
            if (allow.includes(method)) continue;
            const answer = await refused(() => send(path, { method, headers: auth }), 405, "METHOD_NOT_ALLOWED");
            expect(answer.allow).toEqual(allow.split(", "));
          }
        }
        const head = await send("/commands/CreateList", { method: "HEAD", headers: auth });
        expect([head.status, head.headers.get("allow"), await head.text()]).toEqual([405, "POST", ""]);
        for (const type of ["CreateList%2F", "CreateList%00", "%C0%AF", "%", "Create%2541ist"]) {
          await refused(() => command(type, { title: "x" }), 404, "HANDLER_NOT_FOUND");
        }
      });

      test("an unknown command", async () => {
        await refused(() => command("DeleteEverything", {}), 404, "HANDLER_NOT_FOUND");
      });

      test("schema violations, each issue with its path", async () => {
        const blank = await refused(() => command("CreateList", { title: "   " }), 400, "VALIDATION_FAILED");
        expect(blank.issues).toEqual([expect.objectContaining({ path: ["title"] })]);
        const listId = await createList();
        const bad = await refused(
          () => command("CompleteTodo", { listId: "not-a-ulid", todoId: 0 }),
          400,
          "VALIDATION_FAILED",
        );
        expect((bad.issues as { path: string[] }[]).map((issue) => issue.path)).toEqual([["listId"], ["todoId"]]);
        const query = await refused(() => getList("nope"), 400, "VALIDATION_FAILED");
        expect(query.issues).toEqual([expect.objectContaining({ path: ["listId"] })]);
        // A rule of the aggregate, not of the schema: there is no to-do 7 in a new list.
        const rule = await refused(() => command("CompleteTodo", { listId, todoId: 7 }), 400, "VALIDATION_FAILED");
        expect(rule.issues).toEqual([expect.objectContaining({ path: ["todoId"] })]);
      });

      test("text with U+0000, which no store holds: refused by the schema, which the document says", async () => {
        const listId = await createList();
        for (const [type, body, field] of [
          ["CreateList", { title: "Gold\u0000leaf" }, "title"],
          ["AddTodo", { listId, text: "milk\u0000" }, "text"],
        ] as const) {
          // The request's own field, not the store's ["data", …] after the handler ran.
          const problem = await refused(() => command(type, body), 400, "VALIDATION_FAILED");
          expect(problem.issues).toEqual([{ path: [field], message: "no U+0000 (NUL): the stores cannot hold it" }]);
          expect({ type, field, documented: documentAccepts(await documentedField(type, field), "a\u0000b") }).toEqual({
            type,
            field,
            documented: false,
          });
        }
      });

      test("a list that does not exist", async () => {
        const missing = ulid();
        await refused(() => command("AddTodo", { listId: missing, text: "milk" }), 404, "STREAM_NOT_FOUND");
        await refused(() => getList(missing), 404, "STREAM_NOT_FOUND");
      });

      test("a missing or wrong bearer token", async () => {
        const response = await refused(
          () => send("/commands/CreateList", { method: "POST", body: '{"title":"x"}' }),
          401,
          "UNAUTHORIZED",
        );
        expect(response.detail).toContain("Bearer");
        await refused(
          () => command("CreateList", { title: "x" }, { authorization: "Bearer guessed" }),
          401,
          "UNAUTHORIZED",
        );
        await refused(() => send(`/queries/GetList?listId=${ulid()}`), 401, "UNAUTHORIZED");
      });

      test("an Idempotency-Key reused with a different body", async () => {
        const listId = await createList();
        const key = { "idempotency-key": `reuse-${listId}` };
        expect((await command("AddTodo", { listId, text: "first" }, key)).status).toBe(200);
        await refused(() => command("AddTodo", { listId, text: "second" }, key), 422, "IDEMPOTENCY_KEY_REUSED");
      });

      test("an unknown route", async () => {
        await refused(() => send("/admin"), 404, "NOT_FOUND");
      });
    });

    test("no request above failed on the server (nothing was reported to onError)", () => {
      expect(worker.logs.filter((line) => line.includes('"level":"error"') || line.includes("Error"))).toEqual([]);
    });
  });
}

/**
 * Creates a list through one fresh Worker and adds a to-do with an Idempotency-Key, then sends the same
 * keyed command to a second fresh Worker over the same store: it must be answered from the stored
 * key, and the store must hold the two events only. `events` reads them, through the second Worker's store.
 */
async function expectReplayAcrossWorkers(
  open: () => Promise<Worker>,
  events: (worker: Worker) => Promise<EventEnvelope[]>,
): Promise<void> {
  const addOnce = (worker: Worker, listId: string) =>
    dispatch(worker, "/commands/AddTodo", {
      method: "POST",
      headers: { ...JSON_HEADERS, "idempotency-key": `add-${listId}` },
      body: JSON.stringify({ listId, text: "once" }),
    });
  const first = await open();
  let listId: string;
  try {
    const created = await dispatch(first, "/commands/CreateList", {
      method: "POST",
      headers: JSON_HEADERS,
      body: '{"title":"Groceries"}',
    });
    listId = ((await created.json()) as { listId: string }).listId;
    expect(await (await addOnce(first, listId)).json()).toEqual({ todoId: 1, version: 2 });
  } finally {
    await first.miniflare.dispose();
  }
  const second = await open();
  try {
    const replayed = await addOnce(second, listId);
    expect(replayed.status).toBe(200);
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(await replayed.json()).toEqual({ todoId: 1, version: 2 });
    const mine = (await events(second)).filter((event) => event.streamId.endsWith(listId));
    expect(mine.map((event) => event.type)).toEqual(["TodoListCreated", "TodoAdded"]);
  } finally {
    await second.miniflare.dispose();
  }
}

describe("the worker template in workerd: Idempotency-Keys outlive the Worker that stored them", () => {
  // Before, the Workers kept their keys in the isolate's memory: a retry reaching another isolate ran again.
  test("D1: a key replayed to a fresh Worker on the same D1 database is answered from the database; nothing is appended", async () => {
    const persist = mkdtempSync(join(tmpdir(), "eventflows-template-d1-"));
    const d1 = deploymentOf("d1");
    try {
      await expectReplayAcrossWorkers(
        () => workerFor(d1, { ...d1.vars, API_TOKEN: TOKEN }, {}, ["DB"], persist),
        async (worker) => {
          const db = (await worker.miniflare.getD1Database("DB")) as unknown as D1DatabaseLike;
          return allEvents(new SqliteEventStore({ driver: d1Driver(db) }));
        },
      );
    } finally {
      rmSync(persist, { recursive: true, force: true });
    }
  });

  test("DynamoDB: a key replayed to a fresh Worker on the same table is answered from the table; nothing is appended", async () => {
    const deployment = await dynamoDbDeployment();
    try {
      await expectReplayAcrossWorkers(
        () => workerFor(deployment.of, deployment.bindings),
        async (worker) => allEvents(await deployment.store(worker)),
      );
    } finally {
      await deployment.dispose();
    }
  });
});

describe("the worker template in workerd, misconfigured", () => {
  let worker: Worker;
  beforeAll(async () => {
    const { endpoint } = await ensureDynamoDb();
    // No AWS credentials: the store cannot be made.
    const dynamodb = deploymentOf("dynamodb");
    worker = await workerFor(dynamodb, { ...dynamodb.vars, API_TOKEN: TOKEN, AWS_ENDPOINT_URL_DYNAMODB: endpoint });
    await worker.miniflare.ready;
  });
  afterAll(async () => {
    await worker?.miniflare.dispose();
  });

  const send = (path: string, init: RequestInit = {}) => dispatch(worker, path, init);

  test("readiness 503 and a command 500 tell the client nothing; the log tells the operator what is missing", async () => {
    expect((await send("/health/live")).status).toBe(200);
    const ready = await expectProblem(await send("/health/ready"), 503, "NOT_READY");
    const failed = await expectProblem(
      await send("/commands/CreateList", { method: "POST", headers: JSON_HEADERS, body: '{"title":"x"}' }),
      500,
      "INTERNAL_ERROR",
    );
    for (const body of [ready, failed]) expect(JSON.stringify(body)).not.toMatch(/AWS_|credential|dynamodb/i);
    await loggedAfter(worker, "command CreateList failed", ["ConfigurationError", "AWS_ACCESS_KEY_ID"]);
  });

  test("without API_TOKEN every command and query is refused, with a 500 and the reason in the log", async () => {
    const dynamodb = deploymentOf("dynamodb");
    const open = await workerFor(dynamodb, { ...dynamodb.vars, AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" });
    try {
      const response = await dispatch(open, `/queries/GetList?listId=${ulid()}`, {
        headers: { authorization: "Bearer anything" },
      });
      await expectProblem(response, 500, "INTERNAL_ERROR");
      await loggedAfter(open, "query GetList failed", ["API_TOKEN is not set"]);
    } finally {
      await open.miniflare.dispose();
    }
  });

  test("without API_TOKEN readiness is 503 too, over a store that answers (D1), as the docs say of a missing setting", async () => {
    // Outside audit: readiness answered 200 while every command and query failed with a 500.
    const d1 = deploymentOf("d1");
    const open = await workerFor(d1, { ...d1.vars }, {}, ["DB"]);
    try {
      const ready = await expectProblem(await dispatch(open, "/health/ready"), 503, "NOT_READY");
      expect(JSON.stringify(ready)).not.toMatch(/API_TOKEN/);
    } finally {
      await open.miniflare.dispose();
    }
  });

  test("an entry deployed with another store's EVENT_STORE refuses to serve, and the log says which entry to deploy", async () => {
    // The D1 entry, with its database bound, told to use PostgreSQL: it does not carry that store.
    const d1 = deploymentOf("d1");
    const wrong = await workerFor(d1, { ...d1.vars, EVENT_STORE: "postgres", API_TOKEN: TOKEN }, {}, ["DB"]);
    try {
      expect((await dispatch(wrong, "/health/live")).status).toBe(200);
      const ready = await expectProblem(await dispatch(wrong, "/health/ready"), 503, "NOT_READY");
      const failed = await expectProblem(
        await dispatch(wrong, "/commands/CreateList", { method: "POST", headers: JSON_HEADERS, body: '{"title":"x"}' }),
        500,
        "INTERNAL_ERROR",
      );
      for (const body of [ready, failed]) expect(JSON.stringify(body)).not.toMatch(/EVENT_STORE|postgres/i);
      await loggedAfter(wrong, "command CreateList failed", [
        "ConfigurationError",
        // The log is JSON: the message's quotes are escaped.
        'EVENT_STORE is \\"postgres\\", but this entry bundles only the d1 store',
        "`wrangler deploy --env postgres`",
      ]);
    } finally {
      await wrong.miniflare.dispose();
    }
  });
});
