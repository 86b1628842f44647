/**
 * schemathesis (PyPI), a property-based API tester that knows nothing of valibot, against the cart
 * routes served on loopback: it generates requests from the OpenAPI document, valid and invalid,
 * and fails on a 500, on a documented-valid request the server refuses, on an invalid one it
 * accepts, and on a response the document does not describe. It is installed once into a virtualenv
 * under .cache/schemathesis/ (like moto, test/services/moto.ts); if that cannot be built the test
 * fails saying what is missing.
 */

import { expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { cacheDir, commandExists, ensureDir, ServiceStartError, withLock } from "../../test/services/common.ts";
import { cartDomain, commandSchemas } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes } from "./index.js";

const SCHEMATHESIS_VERSION = "4.32.5";
const venvDir = join(cacheDir, "schemathesis", `venv-${SCHEMATHESIS_VERSION}`);
const st = join(venvDir, "bin", "st");
const installedMarker = join(venvDir, ".eventflows-installed");

// The checks that compare the document with the server. Left out: unsupported_method and
// allow_header_conformance (405 for undocumented methods, issue 10 item 16, not this test's subject),
// the stateful ones (the document has no links) and ignored_auth (this app has no auth hook).
const CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_headers_conformance",
  "response_schema_conformance",
  "positive_data_acceptance",
  "negative_data_rejection",
  "missing_required_header",
];

// A documented-valid request may still be refused for the state it meets: 404 (no such cart), 409 (a
// version conflict, or the same Idempotency-Key still running) and 422 (an Idempotency-Key the run
// already used with another body: schemathesis reuses generated keys). None of them is a 400.
const CONFIG = `[checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "409", "422"]
`;

test("schemathesis finds no 500, no refused valid request, no accepted invalid one and no undocumented response", async () => {
  await installSchemathesis();
  const { routes, commands } = cartDomain();
  // Explode is the fixture's deliberate 500 (a handler that throws): it is not part of this API.
  const { Explode: _explode, ...schemas } = commandSchemas;
  const app = new Hono().route(
    "/api",
    // An explicit idempotency scope (no auth hook here), so the Idempotency-Key header is documented and exercised.
    eventFlowsRoutes({
      ...routes,
      commands: { bus: commands, schemas },
      idempotency: { scope: () => "schemathesis" },
      onError: () => {},
    }),
  );
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  const work = mkdtempSync(join(tmpdir(), "eventflows-schemathesis-"));
  try {
    writeFileSync(join(work, "schemathesis.toml"), CONFIG);
    const doc = (await (await fetch(`http://127.0.0.1:${server.port}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    // A fixed seed keeps the run reproducible: where the document is conservative (text with characters
    // beyond U+FFFF, see json-schema-text.ts) some seed could find a request the document calls invalid
    // and the server accepts. SCHEMATHESIS_SEED=<n> explores further.
    const seed = process.env.SCHEMATHESIS_SEED ?? "20261202";
    const args = [
      "--config-file",
      join(work, "schemathesis.toml"),
      "run",
      `http://127.0.0.1:${server.port}/api/openapi.json`,
      "--checks",
      CHECKS.join(","),
      "--max-examples",
      "30",
      "--seed",
      seed,
      "--workers",
      "1",
      "--request-timeout",
      "10",
      "--generation-database",
      "none",
    ];
    const run = await runInBackground(st, args, work);
    const summary = `schemathesis exited ${run.code} (seed ${seed}; rerun with SCHEMATHESIS_SEED=${seed}):\n${run.output.slice(-6_000)}`;
    expect(run.output, summary).toContain(`Tested: ${operations}`);
    expect(run.code, summary).toBe(0);
  } finally {
    server.stop(true);
    rmSync(work, { recursive: true, force: true });
  }
}, 600_000); // The first run builds the virtualenv (pip); later runs take 10-20 s.

/** Runs a command without blocking this process, which serves the requests it makes. */
function runInBackground(command: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Creates the virtualenv and installs the pinned schemathesis once; concurrent runs wait on a lock. */
async function installSchemathesis(): Promise<void> {
  if (existsSync(installedMarker)) return;
  ensureDir(join(cacheDir, "schemathesis"));
  const lock = join(cacheDir, "schemathesis", `install-${SCHEMATHESIS_VERSION}.lock`);
  await withLock(
    "schemathesis",
    lock,
    async () => {
      if (!existsSync(installedMarker)) install();
    },
    10 * 60_000,
  );
}

function install(): void {
  const python = ["python3", "python"].find(commandExists);
  if (python === undefined) {
    throw new ServiceStartError("schemathesis", "python3 is not installed (apt-get install python3 python3-venv)");
  }
  rmSync(venvDir, { recursive: true, force: true });
  const venv = spawnSync(python, ["-m", "venv", venvDir], { encoding: "utf8" });
  if (venv.status !== 0) {
    throw new ServiceStartError(
      "schemathesis",
      `"${python} -m venv" failed; the venv module is missing (apt-get install python3-venv): ${venv.stderr.trim()}`,
    );
  }
  const pip = join(venvDir, "bin", "pip");
  if (!existsSync(pip)) {
    throw new ServiceStartError("schemathesis", "the virtualenv has no pip (apt-get install python3-pip python3-venv)");
  }
  const installed = spawnSync(
    pip,
    ["install", "--quiet", "--disable-pip-version-check", `schemathesis==${SCHEMATHESIS_VERSION}`],
    { encoding: "utf8", timeout: 10 * 60_000 },
  );
  if (installed.status !== 0 || !existsSync(st)) {
    throw new ServiceStartError(
      "schemathesis",
      `pip install schemathesis==${SCHEMATHESIS_VERSION} failed (is PyPI reachable?): ${installed.stderr.trim().slice(-2_000)}`,
    );
  }
  writeFileSync(installedMarker, `${SCHEMATHESIS_VERSION}\n`);
}
