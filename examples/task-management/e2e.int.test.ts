/**
 * The task-management example end to end in workerd: its one command (`bun
 * examples/task-management/dev.ts`, the Worker bundled as wrangler bundles it, run by miniflare)
 * started as a process, driven over real HTTP. The same scenario runs on both backends: a
 * SQLite-backed Durable Object per project, and PostgreSQL (the harness's, from test/services)
 * through a Hyperdrive binding, a schema per project.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresClient, PostgresEventStore } from "../../adapters/postgres/index.js";
import { ensurePostgres } from "../../test/services/postgres.ts";
import { type CallOptions, type RunningApp, startExample } from "../ecommerce/e2e-client.js";
import { projectSchema } from "./postgres-project.js";

setDefaultTimeout(60_000);

const ada = "ada-token";
const grace = "grace-token";

interface Backend {
  readonly name: string;
  /** What dev.ts says it runs on, once listening. */
  readonly storage: string;
  /** What dev.ts is started with. */
  readonly env: () => Promise<Record<string, string>>;
  /** The types of a project's events, read straight from the backend (PostgreSQL only: an object's database is its own). */
  readonly storedTypes?: (project: string) => Promise<string[]>;
  /** Leaves a project's storage unusable before the routes run (PostgreSQL: a schema migrated by other SQL). */
  readonly breakProject?: (project: string) => Promise<void>;
  /** Removes what the run left behind (a PostgreSQL schema per project). */
  readonly cleanUp: (projects: readonly string[]) => Promise<void>;
  /** Whether a project has storage (PostgreSQL: its schema; an object's database cannot be seen from outside). */
  readonly hasStorage?: (project: string) => Promise<boolean>;
}

const backends: readonly Backend[] = [
  {
    name: "Durable Objects",
    storage: "one Durable Object per project",
    // Not on the PostgreSQL the test command exports for every integration test.
    env: async () => ({ EVENTFLOWS_PG_URL: "" }),
    cleanUp: async () => {},
  },
  {
    name: "PostgreSQL through Hyperdrive",
    storage: "PostgreSQL through Hyperdrive, one schema per project",
    env: async () => ({ EVENTFLOWS_PG_URL: await ensurePostgres() }),
    storedTypes: async (project) => {
      const sql = createPostgresClient(await ensurePostgres(), { max: 1 });
      try {
        const types: string[] = [];
        for await (const event of new PostgresEventStore({ sql, schema: projectSchema(project) }).readAll()) {
          types.push(event.type);
        }
        return types;
      } finally {
        await sql.end();
      }
    },
    hasStorage: async (project) => {
      const sql = createPostgresClient(await ensurePostgres(), { max: 1 });
      try {
        const rows = await sql.unsafe("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [
          projectSchema(project),
        ]);
        return rows.length > 0;
      } finally {
        await sql.end();
      }
    },
    breakProject: async (project) => {
      const sql = createPostgresClient(await ensurePostgres(), { max: 1 });
      const schema = projectSchema(project);
      try {
        await sql.unsafe(`CREATE SCHEMA ${schema}`);
        await sql.unsafe(
          `CREATE TABLE ${schema}.migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        await sql.unsafe(`INSERT INTO ${schema}.migrations (version, name, checksum) VALUES (1, 'other', 'other')`);
      } finally {
        await sql.end();
      }
    },
    cleanUp: async (projects) => {
      const sql = createPostgresClient(await ensurePostgres(), { max: 1 });
      try {
        for (const project of projects) await sql.unsafe(`DROP SCHEMA IF EXISTS ${projectSchema(project)} CASCADE`);
      } finally {
        await sql.end();
      }
    },
  },
];

describe.each(backends)("task management end to end (workerd, $name)", (backend) => {
  // Projects of this run only: a PostgreSQL database outlives the run, and its boards with it.
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const project = `demo-${run}`;
  const otherProject = `other-${run}`;
  const longestProject = `long-${run}-`.padEnd(34, "x");
  const brokenProject = `broken-${run}`;
  let started: RunningApp;
  let app: Pick<RunningApp, "url" | "call">;

  beforeAll(async () => {
    started = await startExample(join(import.meta.dirname, "dev.ts"), { PORT: "0", ...(await backend.env()) });
    expect(started.output.join("")).toContain(`(workerd, ${backend.storage})`);
    const url = started.url.replace("/projects/demo/", `/projects/${project}/`);
    app = { url, call: (path: string, init: CallOptions = {}) => started.call(path, { base: url, ...init }) };
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
    await backend.cleanUp([project, otherProject, longestProject, brokenProject]);
  });

  const create = async (title: string, base?: string) => {
    const created = await app.call("/commands/CreateTask", { token: ada, body: { title }, ...(base ? { base } : {}) });
    expect(created.status).toBe(200);
    return created.body as { taskId: string; version: number };
  };
  const board = (base?: string) => app.call("/queries/GetBoard", { token: ada, ...(base ? { base } : {}) });

  test("a task goes from todo to done; the board read model answers, up to date", async () => {
    const { taskId, version } = await create("Write the release notes");
    expect(version).toBe(1);
    const steps = [
      ["AssignTask", { taskId, assignee: "grace" }],
      ["StartTask", { taskId }],
      ["CompleteTask", { taskId }],
    ] as const;
    for (const [type, body] of steps) {
      const done = await app.call(`/commands/${type}`, { token: grace, body });
      expect([type, done.status]).toEqual([type, 200]);
    }
    const card = await app.call(`/queries/GetTask?taskId=${taskId}`, { token: ada });
    expect(card.body).toEqual({
      taskId,
      title: "Write the release notes",
      status: "done",
      assignee: "grace",
      version: 4,
    });
    expect((await board()).body.counts).toEqual({ todo: 0, "in-progress": 0, done: 1 });
    if (backend.storedTypes !== undefined) {
      expect(await backend.storedTypes(project)).toEqual([
        "TaskCreated",
        "TaskAssigned",
        "TaskStarted",
        "TaskCompleted",
      ]);
    }
  });

  test("an edit of a stale version is a 409 naming the versions; the current one goes through", async () => {
    const { taskId } = await create("Fix the login page");
    await app.call("/commands/AssignTask", { token: ada, body: { taskId, assignee: "ada" } });
    const stale = await app.call("/commands/RenameTask", {
      token: ada,
      body: { taskId, title: "Fix login", expectedVersion: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({
      code: "CONCURRENCY_CONFLICT",
      streamId: `Task-${taskId}`,
      expectedVersion: 1,
      actualVersion: 2,
    });
    const current = await app.call("/commands/RenameTask", {
      token: ada,
      body: { taskId, title: "Fix login", expectedVersion: 2 },
    });
    expect(current).toMatchObject({ status: 200, body: { version: 3 } });
    expect((await app.call(`/queries/GetTask?taskId=${taskId}`, { token: ada })).body.title).toBe("Fix login");
  });

  test("each project is kept apart (its own object or schema): its own board and feed", async () => {
    const other = app.url.replace(`/projects/${project}/`, `/projects/${otherProject}/`);
    const before = (await board()).body.counts;
    await create("Plan the offsite", other);
    expect((await board(other)).body.counts).toEqual({ todo: 1, "in-progress": 0, done: 0 });
    expect((await board()).body.counts).toEqual(before);
  });

  test("creates and board reads at the same time: the board ends with every task, each counted once", async () => {
    const before = (await board()).body.counts.todo as number;
    const titles = Array.from({ length: 6 }, (_, i) => `Parallel ${i}`);
    const replies = await Promise.all([...titles.map((title) => create(title)), ...titles.map(() => board())]);
    for (const reply of replies.slice(titles.length)) expect((reply as { status: number }).status).toBe(200);
    const after = (await board()).body;
    expect(after.counts.todo).toBe(before + titles.length);
    const ids = replies.slice(0, titles.length).map((created) => (created as { taskId: string }).taskId);
    expect(ids.map((id) => after.tasks[id]?.title)).toEqual(titles);
  });

  test("auth: no token and a bad token are 401; the OpenAPI document is public", async () => {
    const anonymous = await app.call("/queries/GetBoard");
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "UNAUTHORIZED"]);
    const forged = await app.call("/commands/CreateTask", { token: "forged", body: { title: "x" } });
    expect([forged.status, forged.body.code]).toEqual([401, "UNAUTHORIZED"]);
    const document = await app.call("/openapi.json");
    expect(document.status).toBe(200);
    expect(Object.keys(document.body.paths)).toContain("/commands/CreateTask");
  });

  test("bad input and broken rules are typed 4xx problems, and change nothing", async () => {
    const before = (await board()).body;
    const empty = await app.call("/commands/CreateTask", { token: ada, body: { title: "   " } });
    expect(empty).toMatchObject({ status: 400, contentType: "application/problem+json" });
    expect(empty.body).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["title"] }] });
    // U+0000 is refused by the title's schema, so the OpenAPI document refuses it too (schemathesis
    // found the store refusing it after the handler ran, a 400 to a request the document called valid).
    const nul = await app.call("/commands/CreateTask", { token: ada, body: { title: "Buy\u0000milk" } });
    expect([nul.status, nul.body.code, nul.body.issues]).toEqual([
      400,
      "VALIDATION_FAILED",
      [{ path: ["title"], message: "no U+0000 (NUL): the stores cannot hold it" }],
    ]);
    const { taskId } = await create("Unassigned");
    const early = await app.call("/commands/StartTask", { token: ada, body: { taskId } });
    expect([early.status, early.body.code, early.body.detail]).toEqual([
      400,
      "VALIDATION_FAILED",
      `Refused by the board: taskId: task ${taskId} has no assignee`,
    ]);
    const missing = await app.call("/commands/StartTask", {
      token: ada,
      body: { taskId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" },
    });
    expect([missing.status, missing.body.code]).toEqual([404, "STREAM_NOT_FOUND"]);
    const after = (await board()).body;
    expect(after.counts.todo).toBe(before.counts.todo + 1); // only the task created in between
    expect(after.tasks[taskId]).toMatchObject({ status: "todo", version: 1 });
  });

  test("a project name is up to 34 characters (tasks_<project> is then a PostgreSQL schema name); a longer one is a 404", async () => {
    const at = (name: string) => app.url.replace(`/projects/${project}/`, `/projects/${name}/`);
    expect(longestProject).toHaveLength(34);
    await create("At the limit", at(longestProject));
    const longer = await app.call("/queries/GetBoard", { token: ada, base: at(`${longestProject}x`) });
    expect([longer.status, longer.contentType, longer.body.code]).toEqual([
      404,
      "application/problem+json",
      "NOT_FOUND",
    ]);
  });

  // Naming a project migrated its schema (or opened its object) before the auth hook ran: any anonymous
  // request, a 404 included, made storage for any name (found by an outside audit of the examples).
  test("an anonymous request is a 401 from the Worker, and makes no storage for the project it names", async () => {
    const unknown = `anon-${run}`;
    for (const path of ["/queries/GetBoard", "/nowhere", "/commands/CreateTask"]) {
      const reply = await started.call(path, {
        base: app.url.replace(`/projects/${project}/`, `/projects/${unknown}/`),
      });
      expect([path, reply.status, reply.body.code]).toEqual([path, 401, "UNAUTHORIZED"]);
    }
    if (backend.hasStorage !== undefined) expect(await backend.hasStorage(unknown)).toBe(false);
    // The public document still answers, and makes none either.
    const document = await started.call("/openapi.json", {
      base: app.url.replace(`/projects/${project}/`, `/projects/${unknown}/`),
    });
    expect(document.status).toBe(200);
    if (backend.hasStorage !== undefined) expect(await backend.hasStorage(unknown)).toBe(false);
  });

  test("a path outside the projects is a problem+json 404 from the Worker, and one outside a project's routes from the project", async () => {
    const reply = await app.call("/nowhere", { base: new URL(app.url).origin });
    expect([reply.status, reply.contentType, reply.body.code]).toEqual([404, "application/problem+json", "NOT_FOUND"]);
    for (const path of ["", "/", "/nowhere", "/commands/CreateTask/more", "/health"]) {
      const inProject = await app.call(path, { token: ada });
      expect([path, inProject.status, inProject.contentType, inProject.body.code]).toEqual([
        path,
        404,
        "application/problem+json",
        "NOT_FOUND",
      ]);
    }
  });

  test("a failure before the routes answer is a problem+json 5xx that tells nothing of it", async () => {
    // A USERS secret that is not JSON fails every project where its routes are built (in the object, or in the Worker).
    const misconfigured = await startExample(join(import.meta.dirname, "dev.ts"), {
      PORT: "0",
      ...(await backend.env()),
      USERS: "{not json",
    });
    try {
      for (const attempt of [1, 2]) {
        const base = misconfigured.url.replace("/projects/demo/", `/projects/${project}/`);
        const reply = await misconfigured.call("/queries/GetBoard", { token: ada, base });
        expect([attempt, reply.status, reply.contentType, reply.body]).toEqual([
          attempt,
          500,
          "application/problem+json",
          {
            type: "about:blank",
            title: "Internal Server Error",
            status: 500,
            detail: "An unexpected error occurred",
            code: "INTERNAL_ERROR",
          },
        ]);
      }
    } finally {
      await misconfigured.stop();
    }
    if (backend.breakProject !== undefined) {
      await backend.breakProject(brokenProject);
      const broken = app.url.replace(`/projects/${project}/`, `/projects/${brokenProject}/`);
      const reply = await app.call("/queries/GetBoard", { token: ada, base: broken });
      expect([reply.status, reply.contentType, reply.body]).toEqual([
        500,
        "application/problem+json",
        {
          type: "about:blank",
          title: "Internal Server Error",
          status: 500,
          detail: "A backend service failed",
          code: "SERVICE_ERROR",
          retryable: false,
        },
      ]);
    }
  });
});

test("with TASKS_PERSIST_DIR the objects' databases outlive the process: a second run finds the first's tasks", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eventflows-tasks-"));
  const env = { PORT: "0", TASKS_PERSIST_DIR: dir, EVENTFLOWS_PG_URL: "" };
  try {
    const first = await startExample(join(import.meta.dirname, "dev.ts"), env);
    expect(first.output.join("")).toContain("(workerd, one Durable Object per project)");
    const created = await first.call("/commands/CreateTask", { token: ada, body: { title: "Survive a restart" } });
    expect(created.status).toBe(200);
    await first.stop();
    const second = await startExample(join(import.meta.dirname, "dev.ts"), env);
    try {
      const card = await second.call(`/queries/GetTask?taskId=${created.body.taskId}`, { token: ada });
      expect(card).toMatchObject({ status: 200, body: { title: "Survive a restart", version: 1 } });
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Miniflare's Hyperdrive emulation threw out of the process on the first request: no answer, exit 1
// with a stack (found by an outside audit of the examples). Now one line before anything starts.
test("with an EVENTFLOWS_PG_URL nothing answers at, the demo exits 1 at once with one line, no password", () => {
  const run = Bun.spawnSync([process.execPath, join(import.meta.dirname, "dev.ts")], {
    env: { ...process.env, EVENTFLOWS_PG_URL: "postgres://app:s3cret@127.0.0.1:1/app", PORT: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = run.stderr.toString();
  expect(run.exitCode).toBe(1);
  expect(stderr.trim()).toBe(
    "demo:tasks: no PostgreSQL answers at 127.0.0.1:1 (EVENTFLOWS_PG_URL): start it, or unset the variable",
  );
  expect(`${stderr}${run.stdout.toString()}`).not.toContain("s3cret");
});
