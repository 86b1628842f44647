/**
 * The packaging test, done the way a user meets the package: build, lint the package (publint),
 * `npm pack`, install the tarball into a fresh temporary project (its dependencies from the
 * registry, the optional peers added as a user would), then import every subpath of "exports" on
 * Node and on Bun, checking that each one has every named export its source has and that the core
 * works, `require()` every subpath where the runtime loads ES modules from require (Bun; Node from
 * 20.19 and 22.12, `process.features.require_module`; on an older Node the require must fail only
 * with ERR_REQUIRE_ESM, proving the "default" condition resolves), and type-check an import of
 * every subpath with `moduleResolution` "bundler" and "nodenext" (the latter with
 * exactOptionalPropertyTypes and noUncheckedIndexedAccess), with this repository's TypeScript and
 * with the oldest the README promises ("TypeScript 5.7 or later") and with the newest on npm, and a CommonJS
 * file's import of it as Getting started describes (TS1479 on 5.7, compiled by the newer). Then the Getting started guide as a
 * reader follows it: its files (the blocks headed `// account.ts`, `// app.ts`, `// main.ts`) compiled
 * with the tsconfig.json the page gives, and main.js run on Node. Last, the "nodenext" type check again
 * with each peer dependency at the lowest version its range admits.
 *   bun scripts/check-package.ts                  build, pack, install, check
 *   bun scripts/check-package.ts --allow-missing  tolerate exports whose source is not written yet
 *   bun scripts/check-package.ts --keep           keep the temporary project (its path is printed)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { build } from "./build.ts";
import {
  missingEntriesMessage,
  type PackageEntry,
  packageEntries,
  readPackageJson,
  repoRoot,
} from "./lib/package-exports.ts";

class PackageCheckError extends Error {}

/** Names the check insists on, beyond "every export of the source": a user's first imports. */
const KNOWN_EXPORTS: Readonly<Record<string, readonly string[]>> = {
  ".": ["InMemoryEventStore", "InMemoryEventBus", "AggregateRoot", "CommandBus", "QueryBus", "ConcurrencyError"],
  "./testing": ["eventStoreContract", "eventBusContract", "runContract", "registerContract"],
};

function run(command: string, args: readonly string[], cwd: string, what: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (result.status !== 0) {
    const output = `${result.error?.message ?? ""}\n${result.stdout ?? ""}\n${result.stderr ?? ""}`.trim();
    throw new PackageCheckError(`${what} failed (exit ${result.status ?? result.signal}):\n${output}`);
  }
  return result.stdout;
}

/** Runtime export names of each entry, read from the sources: what the published files must match. */
async function expectedExports(entries: readonly PackageEntry[]): Promise<Record<string, string[]>> {
  const expected: Record<string, string[]> = {};
  for (const entry of entries) {
    const module = (await import(join(repoRoot, entry.source))) as Record<string, unknown>;
    const names = Object.keys(module).sort();
    for (const name of KNOWN_EXPORTS[entry.subpath] ?? []) {
      if (!names.includes(name)) throw new PackageCheckError(`${entry.source} no longer exports ${name}`);
    }
    expected[entry.specifier] = names;
  }
  return expected;
}

interface TypeSetup {
  readonly label: string;
  readonly resolution: "bundler" | "nodenext";
  readonly lib: readonly string[];
  readonly types: readonly string[];
  readonly peerErrorsTolerated: boolean;
  /** Compiler options of a user on the strict side, beyond `strict`. */
  readonly strictExtras: Readonly<Record<string, boolean>>;
}

/** A Workers/bundler user (web types only) and a Node user (Node's types, no DOM). */
const TYPE_SETUPS: readonly TypeSetup[] = [
  {
    label: "moduleResolution bundler, DOM types, no Node types",
    resolution: "bundler",
    lib: ["ES2023", "DOM", "DOM.Iterable"],
    types: [],
    peerErrorsTolerated: true,
    strictExtras: {},
  },
  {
    label: "moduleResolution nodenext, Node types, no DOM, exactOptionalPropertyTypes",
    resolution: "nodenext",
    lib: ["ES2023"],
    types: ["node"],
    peerErrorsTolerated: false,
    // Optional fields a user fills from optional fields (metadata.correlationId) must take undefined.
    strictExtras: { exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true },
  },
];

/** Runs in the temporary project on Node and on Bun; prints one JSON line of findings. */
const importCheck = (expected: Record<string, string[]>) => `
const expected = ${JSON.stringify(expected)};
const problems = [];
const counts = {};
for (const [specifier, names] of Object.entries(expected)) {
  let module;
  try {
    module = await import(specifier);
  } catch (error) {
    problems.push(specifier + ": import failed: " + (error && error.message));
    continue;
  }
  const missing = names.filter((name) => module[name] === undefined);
  if (missing.length > 0) problems.push(specifier + ": missing exports " + missing.join(", "));
  counts[specifier] = names.length - missing.length;
}
try {
  const core = await import("@eventflows/core");
  const store = new core.InMemoryEventStore();
  await store.appendToStream("Cart-1", [{ type: "ItemAdded", data: { sku: "a" } }], { expectedVersion: "no-stream" });
  const read = [];
  for await (const event of store.readStream("Cart-1")) read.push(event.type + "@" + event.version);
  if (read.join() !== "ItemAdded@1") problems.push("@eventflows/core: read back " + read.join());
  const conflict = await store.appendToStream("Cart-1", [], { expectedVersion: 5 }).catch((error) => error);
  if (!core.isConcurrencyError(conflict)) problems.push("@eventflows/core: no ConcurrencyError on a stale version");
} catch (error) {
  problems.push("@eventflows/core: smoke test threw " + (error && error.stack));
}
console.log(JSON.stringify({ problems, counts }));
`;

/**
 * The require() twin of the import check, run as CommonJS: every "exports" entry has a "default"
 * condition beside "import", so require() resolves it and, where the runtime can load ES modules
 * synchronously, returns the same exports.
 */
const requireCheck = (expected: Record<string, string[]>) => `
const expected = ${JSON.stringify(expected)};
const supported = typeof Bun !== "undefined" || process.features.require_module === true;
const problems = [];
const counts = {};
for (const [specifier, names] of Object.entries(expected)) {
  let module;
  try {
    module = require(specifier);
  } catch (error) {
    // Without require(esm), resolving must still succeed: the only acceptable failure is ERR_REQUIRE_ESM.
    if (supported || !error || error.code !== "ERR_REQUIRE_ESM") {
      problems.push(specifier + ": require failed: " + (error && (error.code || "") + " " + error.message));
    }
    continue;
  }
  if (!supported) {
    problems.push(specifier + ": required although this runtime says it has no require(esm)");
    continue;
  }
  const missing = names.filter((name) => module[name] === undefined);
  if (missing.length > 0) problems.push(specifier + ": missing exports " + missing.join(", "));
  counts[specifier] = names.length - missing.length;
}
console.log(JSON.stringify({ problems, counts, supported, version: typeof Bun !== "undefined" ? "bun " + Bun.version : process.version }));
`;

/** Every code entry of "exports" has a "default" condition, the same file as "import" (so require() resolves). */
function checkDefaultConditions(pkg: ReturnType<typeof readPackageJson>): void {
  const wrong = Object.entries(pkg.exports)
    .filter(([, target]) => typeof target !== "string")
    .filter(([, target]) => {
      const conditions = target as Readonly<Record<string, string | undefined>>;
      const keys = Object.keys(conditions);
      // "default" must come last: conditions are matched in order, and "default" matches everything.
      return conditions.default === undefined || conditions.default !== conditions.import || keys.at(-1) !== "default";
    })
    .map(([subpath]) => subpath);
  if (wrong.length > 0) {
    throw new PackageCheckError(
      `package.json exports ${wrong.join(", ")}: each needs a last "default" condition equal to "import"`,
    );
  }
}

/** Type-level twin of the import check: each subpath resolves and its types declare every runtime export. */
function typesCheck(expected: Record<string, string[]>): string {
  const lines: string[] = [];
  Object.entries(expected).forEach(([specifier, names], i) => {
    lines.push(`import * as entry${i} from ${JSON.stringify(specifier)};`);
    const keys = names.length > 0 ? names.map((name) => JSON.stringify(name)).join(" | ") : "never";
    lines.push(`export const has${i}: typeof entry${i} extends Record<${keys}, unknown> ? true : false = true;`);
  });
  lines.push(
    `import { InMemoryEventStore, type EventStore, type EventEnvelope } from "@eventflows/core";`,
    `const store: EventStore = new InMemoryEventStore();`,
    `export async function first(): Promise<EventEnvelope | undefined> {`,
    `  for await (const event of store.readStream("Cart-1")) return event;`,
    `  return undefined;`,
    `}`,
    // What docs/core/events.md shows: a policy carries the event's correlation id (maybe absent) on.
    `import { CommandBus } from "@eventflows/core";`,
    `const commands = new CommandBus<{ Assign: { payload: { id: string }; result: void } }>();`,
    `export async function policy(event: EventEnvelope): Promise<void> {`,
    `  const metadata = { correlationId: event.metadata.correlationId, causationId: event.id };`,
    `  await commands.execute("Assign", { id: event.streamId }, { metadata });`,
    `  await store.appendToStream("Audit-1", [{ type: "Assigned", data: {}, metadata }]);`,
    `}`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * What docs/guide/getting-started.md has a reader write: every TypeScript block, each under the file
 * name its first line gives (a reader saves them all in one folder, so a Bun-only test among them must
 * not break the Node build), and the tsconfig.json its `echo '…' > tsconfig.json` line makes. Undefined
 * pieces, and a block that names no file, are the page's fault, reported as such.
 */
function gettingStarted(): { files: Record<string, string>; tsconfig: string; firstOutput: string } {
  const page = "docs/guide/getting-started.md";
  const text = readFileSync(join(repoRoot, page), "utf8");
  const files: Record<string, string> = {};
  const unnamed: string[] = [];
  for (const [, code = ""] of text.matchAll(/^```ts[^\n]*\n([\s\S]*?)^```/gm)) {
    const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(code)?.[1];
    if (name === undefined) unnamed.push(code.split("\n", 1)[0] ?? "");
    else files[name] = code;
  }
  if (unnamed.length > 0) {
    throw new PackageCheckError(
      `${page} has TypeScript blocks that do not say which file to save them as (a first line \`// name.ts\`): ${unnamed
        .map((line) => JSON.stringify(line))
        .join(", ")}`,
    );
  }
  const tsconfig = /^echo '(\{.*\})' > tsconfig\.json/m.exec(text)?.[1];
  // What main.ts says its first console.log prints (`console.log(…); // 70`).
  const firstOutput = /console\.log\(.*\);\s*\/\/\s*(\S+)/.exec(files["main.ts"] ?? "")?.[1];
  const lacking = [
    ...["account.ts", "app.ts", "main.ts"]
      .filter((name) => files[name] === undefined)
      .map((name) => `a // ${name} block`),
    ...(tsconfig === undefined ? ["an `echo '{…}' > tsconfig.json` line"] : []),
    ...(firstOutput === undefined ? ["a stated output in main.ts"] : []),
  ];
  if (lacking.length > 0) throw new PackageCheckError(`${page} no longer has ${lacking.join(", ")}`);
  return { files, tsconfig: tsconfig as string, firstOutput: firstOutput as string };
}

/**
 * The "nodenext" type check of `project` with this repository's TypeScript, after its peers were
 * replaced. A peer's own declarations may need what this setup leaves out (hono 4.6 names the DOM's
 * RequestInfo): the peer's business. Every error in ours or in the importing file counts. Prints the
 * outcome under `label`; whether it passed.
 */
function typeCheckNodenext(project: string, peerNames: readonly string[], label: string): boolean {
  const tsc = spawnSync(
    join(repoRoot, "node_modules", ".bin", "tsc"),
    ["-p", "tsconfig.nodenext.json", "--pretty", "false"],
    { cwd: project, encoding: "utf8" },
  );
  const errors = `${tsc.stdout}${tsc.stderr}`.split("\n").filter((line) => /error TS\d+/.test(line));
  const ours = errors.filter((line) => !peerNames.some((name) => line.startsWith(`node_modules/${name}/`)));
  if (tsc.status !== 0 && (ours.length > 0 || errors.length === 0)) {
    console.error(
      `✗ ${label}:\n${ours.length > 0 ? ours.join("\n") : `${tsc.stdout}${tsc.stderr}${tsc.error?.message ?? ""}`}`,
    );
    return false;
  }
  const note = errors.length > 0 ? ` (${errors.length} errors inside peers' own declarations)` : "";
  console.log(`✓ ${label}${note}`);
  return true;
}

/**
 * What Getting started tells a CommonJS project: an import of the package from a CommonJS file (a
 * `require` once compiled) type-checks with `"module": "nodenext"` from TypeScript 5.8, and the
 * oldest TypeScript promised (5.7) answers TS1479 there. A `.cts` file is CommonJS whatever the
 * project's "type". `compilers` are [label, tsc] pairs, the oldest labelled with its version first.
 */
function commonJsTypeCheck(
  project: string,
  name: string,
  compilers: readonly (readonly [string, string])[],
  oldest: string,
): boolean {
  writeFileSync(
    join(project, "cjs-check.cts"),
    `import { InMemoryEventStore } from "${name}";\nexport const store = new InMemoryEventStore();\n`,
  );
  const flags = ["--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--types", "node"];
  let passed = true;
  for (const [compiler, tscBinary] of compilers) {
    const tsc = spawnSync(
      tscBinary,
      [...flags, "--strict", "--skipLibCheck", "false", "--noEmit", "--pretty", "false", "cjs-check.cts"],
      { cwd: project, encoding: "utf8" },
    );
    const output = `${tsc.stdout}${tsc.stderr}${tsc.error?.message ?? ""}`;
    // Only the oldest predates TypeScript 5.8's require() of ES modules under nodenext.
    const refuses = compiler.startsWith(`TypeScript ${oldest},`);
    const ok = refuses ? tsc.status !== 0 && /error TS1479/.test(output) : tsc.status === 0;
    const label = `CommonJS file importing ${name} (module nodenext; ${compiler})`;
    if (ok) console.log(`✓ ${label}: ${refuses ? "TS1479, as Getting started says" : "compiles"}`);
    else {
      passed = false;
      console.error(`✗ ${label}: expected ${refuses ? "TS1479" : "no error"}, got exit ${tsc.status}:\n${output}`);
    }
  }
  return passed;
}

/** The version of a package installed in `project` (under its alias, if it has one). */
function installedVersion(project: string, name: string): string {
  return (JSON.parse(readFileSync(join(project, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version;
}

/** The oldest TypeScript the README promises ("TypeScript 5.7 or later"): the package's types are checked with it too. */
function oldestTypeScript(): string {
  const text = readFileSync(join(repoRoot, "README.md"), "utf8");
  const version = /TypeScript (\d+\.\d+) or later/.exec(text)?.[1];
  if (version === undefined) throw new PackageCheckError('README.md no longer says "TypeScript <version> or later"');
  return version;
}

/**
 * The lowest version a peer's range admits (`^3.4.9` gives 3.4.9): a user may have any version the
 * range allows, so the package's declarations must compile against that one too.
 */
function lowestAllowed(name: string, range: string): string {
  // Alternatives (`^3.4.9 || ^4.2.0`) are written lowest first: the first one's version.
  const versions = range.split("||").map((part) => /^[\^~]?(\d+\.\d+\.\d+)$/.exec(part.trim())?.[1]);
  const [version] = versions;
  if (version === undefined || versions.includes(undefined)) {
    throw new PackageCheckError(
      `peerDependencies.${name} is "${range}": write it as ^x.y.z, ~x.y.z or x.y.z (or such ranges joined by ||, lowest first), so its lowest version can be checked`,
    );
  }
  return version;
}

/**
 * publint on the tarball, warnings counted as errors. The only findings tolerated are those about
 * exports whose source is not written yet (reported above), under --allow-missing.
 */
async function lintPackage(tarball: string, entries: readonly PackageEntry[]): Promise<void> {
  const data = readFileSync(tarball);
  const bytes = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const { messages, pkg } = await publint({ pack: { tarball: bytes }, strict: true });
  const notWritten = new Set(entries.filter((entry) => !entry.sourceExists).map((entry) => entry.subpath));
  const shown = messages.map((message) => ({
    text: `${message.type}: ${formatMessage(message, pkg, { color: false }) ?? message.code}`,
    tolerated: message.path[0] === "exports" && notWritten.has(message.path[1] ?? ""),
  }));
  for (const message of shown) console.log(`  publint ${message.tolerated ? "(not written yet) " : ""}${message.text}`);
  const failing = shown.filter((message) => !message.tolerated && !message.text.startsWith("suggestion"));
  if (failing.length > 0) throw new PackageCheckError(`publint found ${failing.length} problem(s) in the package`);
  console.log(`package: publint clean${shown.length > 0 ? " (see notes above)" : ""}`);
}

async function main(): Promise<number> {
  const allowMissing = process.argv.includes("--allow-missing");
  const keep = process.argv.includes("--keep");
  const pkg = readPackageJson();
  checkDefaultConditions(pkg);
  const entries = packageEntries();
  const missing = missingEntriesMessage(entries);
  if (missing !== undefined) {
    if (!allowMissing) throw new PackageCheckError(`${missing}\n(write the adapter or drop its export)`);
    console.log(`package: not checked (--allow-missing):\n${missing}`);
  }
  const present = entries.filter((entry) => entry.sourceExists);

  console.log("package: build");
  build();
  const work = mkdtempSync(join(tmpdir(), "eventflows-package-"));
  try {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], repoRoot, "npm pack")) as {
      filename: string;
      size: number;
      unpackedSize: number;
      files: { path: string }[];
    }[];
    const tarball = join(work, packed[0]?.filename ?? "");
    const files = packed[0]?.files.map((file) => file.path) ?? [];
    console.log(
      `package: packed ${packed[0]?.filename}: ${files.length} files, ${((packed[0]?.size ?? 0) / 1024).toFixed(1)} KB`,
    );
    const unwanted = files.filter((file) =>
      /\.test\.ts$|^\.cache\/|^test\/|^scripts\/|^bench\/|\/fixtures\//.test(file),
    );
    if (unwanted.length > 0) throw new PackageCheckError(`the tarball ships ${unwanted.join(", ")}`);
    // package.json's "license" names MIT; the licence text must travel with the code it licenses.
    const unshipped = [
      ...present.flatMap((entry) => [entry.js, entry.types]),
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
    ].filter((file) => !files.includes(file));
    if (unshipped.length > 0) throw new PackageCheckError(`the tarball lacks ${unshipped.join(", ")}`);

    await lintPackage(tarball, entries);

    const oldest = oldestTypeScript();
    const project = join(work, "project");
    mkdirSync(project);
    const peerNames = Object.keys(pkg.peerDependencies ?? {});
    const peers = Object.fromEntries(
      Object.keys(pkg.peerDependencies ?? {}).map((name) => [name, pkg.peerDependencies?.[name] ?? "*"]),
    );
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify(
        {
          name: "eventflows-package-check",
          private: true,
          type: "module",
          dependencies: { [pkg.name]: `file:${tarball}`, ...peers },
          // A Node user's project has Node's types; postgres.js's declarations need them. The oldest
          // TypeScript the README promises comes under another name, beside this repository's.
          devDependencies: {
            "@types/node": pkg.devDependencies?.["@types/node"] ?? "^20.0.0",
            "typescript-oldest": `npm:typescript@~${oldest}.0`,
            // And the newest, what `npm install -D typescript` gives a new project (7.x since 2026).
            "typescript-newest": "npm:typescript@latest",
          },
        },
        null,
        2,
      ),
    );
    console.log(`package: npm install into ${project}`);
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], project, "npm install");

    const expected = await expectedExports(present);
    writeFileSync(join(project, "check.mjs"), importCheck(expected));
    const runtimes: [string, string][] = [
      ["node", "node"],
      ["bun", process.execPath],
    ];
    let failed = false;
    for (const [runtime, binary] of runtimes) {
      const output = run(binary, ["check.mjs"], project, `importing the package on ${runtime}`);
      const { problems, counts } = JSON.parse(output.trim().split("\n").pop() ?? "{}") as {
        problems: string[];
        counts: Record<string, number>;
      };
      const summary = Object.entries(counts).map(([specifier, count]) => `${specifier} (${count} exports)`);
      if (problems.length > 0) {
        failed = true;
        for (const problem of problems) console.error(`✗ ${runtime}: ${problem}`);
      } else {
        console.log(`✓ ${runtime}: imported ${summary.join(", ")}; append/read/conflict smoke test passed`);
      }
    }

    writeFileSync(join(project, "require-check.cjs"), requireCheck(expected));
    for (const [runtime, binary] of runtimes) {
      const output = run(binary, ["require-check.cjs"], project, `requiring the package on ${runtime}`);
      const { problems, counts, supported, version } = JSON.parse(output.trim().split("\n").pop() ?? "{}") as {
        problems: string[];
        counts: Record<string, number>;
        supported: boolean;
        version: string;
      };
      if (problems.length > 0) {
        failed = true;
        for (const problem of problems) console.error(`✗ ${runtime} (${version}) require(): ${problem}`);
      } else if (supported) {
        console.log(
          `✓ ${runtime} (${version}): require() of ${Object.keys(counts).length} subpaths returns every export`,
        );
      } else {
        console.log(
          `✓ ${runtime} (${version}) has no require(esm): every subpath resolves and fails only with ERR_REQUIRE_ESM`,
        );
      }
    }

    // Commands in "bin" are installed and start: `--help` exits 0.
    const bins = typeof pkg.bin === "string" ? [pkg.name.split("/").pop() ?? pkg.name] : Object.keys(pkg.bin ?? {});
    for (const name of bins) {
      const help = spawnSync(join(project, "node_modules", ".bin", name), ["--help"], {
        cwd: project,
        encoding: "utf8",
      });
      if (help.status !== 0) {
        failed = true;
        console.error(
          `✗ bin ${name} --help exited ${help.status ?? help.error?.message}:\n${help.stdout}${help.stderr}`,
        );
      } else {
        console.log(`✓ bin ${name} --help: ${help.stdout.split("\n")[0]}`);
      }
    }

    // The CLI from the tarball (Node, the built dist/cli) writes into the installed project.
    const generated = spawnSync(
      join(project, "node_modules", ".bin", "eventflows"),
      ["generate", "aggregate", "PackageCheck", "--dir", "generated", "--json"],
      { cwd: project, encoding: "utf8" },
    );
    const written = generated.status === 0 ? (JSON.parse(generated.stdout) as { files: { path: string }[] }).files : [];
    if (written.length !== 2 || !written.every((file) => existsSync(join(project, file.path)))) {
      failed = true;
      console.error(`✗ eventflows generate exited ${generated.status}:\n${generated.stdout}${generated.stderr}`);
    } else {
      console.log(`✓ eventflows generate aggregate wrote ${written.map((file) => file.path).join(", ")}`);
    }

    writeFileSync(join(project, "types-check.ts"), typesCheck(expected));
    const compilers: [string, string][] = [
      [
        `TypeScript ${pkg.devDependencies?.typescript ?? "(this repository's)"}`,
        join(repoRoot, "node_modules", ".bin", "tsc"),
      ],
      [
        `TypeScript ${oldest}, the oldest the README promises`,
        join(project, "node_modules", "typescript-oldest", "bin", "tsc"),
      ],
      [
        `TypeScript ${installedVersion(project, "typescript-newest")}, the newest on npm`,
        join(project, "node_modules", "typescript-newest", "bin", "tsc"),
      ],
    ];
    for (const setup of TYPE_SETUPS) {
      const tsconfig = `tsconfig.${setup.resolution}.json`;
      writeFileSync(
        join(project, tsconfig),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: setup.resolution === "bundler" ? "ESNext" : "NodeNext",
            moduleResolution: setup.resolution,
            lib: setup.lib,
            types: setup.types,
            strict: true,
            ...setup.strictExtras,
            noEmit: true,
            // Our declarations are checked too, not only the file importing them.
            skipLibCheck: false,
          },
          // The module `eventflows generate` wrote compiles against the packed types too.
          files: ["types-check.ts", "generated/package-check.ts"],
        }),
      );
      for (const [compiler, tscBinary] of compilers) {
        const tsc = spawnSync(tscBinary, ["-p", tsconfig, "--pretty", "false"], { cwd: project, encoding: "utf8" });
        const errors = `${tsc.stdout}${tsc.stderr}`.split("\n").filter((line) => /error TS\d+/.test(line));
        // Without Node's types, a peer's own declarations may not compile (postgres.js names Buffer);
        // that is the peer's business. Every error in our declarations or the importing file counts.
        const peerOnly = (line: string) =>
          setup.peerErrorsTolerated && peerNames.some((name) => line.startsWith(`node_modules/${name}/`));
        const ours = errors.filter((line) => !peerOnly(line));
        const label = `types (${setup.label}; ${compiler})`;
        if (tsc.status !== 0 && (ours.length > 0 || errors.length === 0)) {
          failed = true;
          console.error(
            `✗ ${label}:\n${ours.length > 0 ? ours.join("\n") : `${tsc.stdout}${tsc.stderr}${tsc.error?.message ?? ""}`}`,
          );
        } else {
          const note =
            errors.length > ours.length
              ? ` (${errors.length - ours.length} errors inside peers' own declarations)`
              : "";
          console.log(`✓ ${label}: ${present.map((e) => e.specifier).join(", ")}${note}`);
        }
      }
    }

    if (!commonJsTypeCheck(project, pkg.name, compilers, oldest)) failed = true;

    // Getting started, as its reader does it: the page's files and tsconfig, `npx tsc && node build/main.js`.
    const guide = gettingStarted();
    const guideDir = join(project, "getting-started");
    mkdirSync(guideDir);
    for (const [name, code] of Object.entries(guide.files)) writeFileSync(join(guideDir, name), code);
    writeFileSync(join(guideDir, "tsconfig.json"), guide.tsconfig);
    const compiled = spawnSync(
      join(repoRoot, "node_modules", ".bin", "tsc"),
      ["-p", "tsconfig.json", "--pretty", "false"],
      {
        cwd: guideDir,
        encoding: "utf8",
      },
    );
    const ran =
      compiled.status === 0 ? spawnSync("node", ["build/main.js"], { cwd: guideDir, encoding: "utf8" }) : undefined;
    const firstLine = ran?.stdout.split("\n")[0]?.trim();
    if (ran === undefined || ran.status !== 0 || firstLine !== guide.firstOutput) {
      failed = true;
      const output = ran === undefined ? `${compiled.stdout}${compiled.stderr}` : `${ran.stdout}${ran.stderr}`;
      console.error(
        `✗ getting started (${Object.keys(guide.files).join(", ")}, the page's tsconfig.json) ${
          ran === undefined
            ? "does not compile"
            : `printed ${JSON.stringify(firstLine)} first, not ${guide.firstOutput}`
        }:\n${output}`,
      );
    } else {
      console.log(
        `✓ getting started: ${Object.keys(guide.files).join(", ")} saved in one folder, built with the page's tsconfig.json; main.js runs on Node`,
      );
    }

    // Last, as it replaces the peers: each at the lowest version its range admits (a user's may be
    // that old), under the Node user's strict options, with this repository's TypeScript. postgres.js
    // before 3.4.9, for instance, has no ISql, which the PostgreSQL adapter's declarations name.
    const lowest = peerNames.map((name) => `${name}@${lowestAllowed(name, pkg.peerDependencies?.[name] ?? "")}`);
    run(
      "npm",
      ["install", "--no-save", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...lowest],
      project,
      `npm install ${lowest.join(" ")}`,
    );
    if (!typeCheckNodenext(project, peerNames, `types with the oldest peers the ranges admit: ${lowest.join(", ")}`)) {
      failed = true;
    }

    // postgres.js 4 is what `npm install postgres` installs: the declarations must type-check with its
    // types, and its clients must be made (the adapter's tests run on it in the postgres-js-4 step).
    run(
      "npm",
      ["install", "--no-save", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "postgres@4"],
      project,
      "npm install postgres@4",
    );
    if (!typeCheckNodenext(project, peerNames, "types with postgres.js 4")) failed = true;
    const probe = [
      `import { createPostgresClient } from "${pkg.name}/postgres";`,
      `import { readFileSync } from "node:fs";`,
      `const version = JSON.parse(readFileSync("node_modules/postgres/package.json", "utf8")).version;`,
      `const made = createPostgresClient("postgres://app:secret-pw@127.0.0.1:1/db");`,
      `await made.end({ timeout: 0 });`,
      `let refused;`,
      `try { createPostgresClient("postgres://app:secret-pw@127.0.0.1:99999/db"); } catch (error) { refused = error; }`,
      `console.log(JSON.stringify({ version, code: refused?.code, issues: refused?.issues, message: refused?.message }));`,
    ].join("\n");
    writeFileSync(join(project, "postgres4.mjs"), probe);
    const probed = spawnSync("node", ["postgres4.mjs"], { cwd: project, encoding: "utf8" });
    const answer = probed.stdout.trim();
    if (!/"version":"4\./.test(answer) || !answer.includes('"VALIDATION_FAILED"') || answer.includes("secret-pw")) {
      failed = true;
      console.error(`✗ postgres.js 4 installed: createPostgresClient answered ${answer || probed.stderr}`);
    } else {
      console.log(
        "✓ postgres.js 4 installed: createPostgresClient makes its clients, and refuses a port out of range without the password",
      );
    }

    if (failed) return 1;
    console.log(`package: ${present.length} subpaths import on Node and Bun and type-check`);
    return 0;
  } finally {
    if (keep) console.log(`package: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`package: ${error instanceof PackageCheckError || error instanceof Error ? error.message : error}`);
  process.exit(1);
}
