/**
 * What a runtime suite is: a contract suite opened against one implementation, runnable on Node
 * (node --test) and in workerd (miniflare). Suites live in test/runtime/suites/, one file per
 * backend; test/runtime/suites/index.ts lists the files.
 */
import * as testing from "../../src/testing/index.js";

/** Where services are: environment variables on Node, bindings of the same names in workerd. */
export type RuntimeEnv = Readonly<Record<string, string | undefined>>;

/** Variables the runners pass through to workerd as bindings. */
export const SERVICE_VARIABLES = [
  "EVENTFLOWS_PG_URL",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL_EVENTS",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
] as const;

export interface OpenedSuite {
  readonly suite: testing.ContractSuite;
  /** Releases what `open` acquired (connections, schemas) after the suite ran. */
  readonly close?: () => Promise<void>;
}

export interface RuntimeSuite {
  /** Unique among the runtime suites: how runners select it. */
  readonly name: string;
  /** The exported contract factory this suite exercises, e.g. "eventStoreContract". */
  readonly contract: string;
  readonly open: (env: RuntimeEnv) => OpenedSuite | Promise<OpenedSuite>;
}

/** One file's suites: one backend, its services and what workerd needs to run it. */
export interface SuiteModule {
  readonly suites: readonly RuntimeSuite[];
  /** Keys of the test/services registry to start first. */
  readonly services: readonly string[];
  /**
   * workerd compatibility flags the backend's client needs (postgres.js reaches TCP with
   * `nodejs_compat`). Modules with flags run in a Worker of their own, bundled without the others,
   * so the core is still proven to need none.
   */
  readonly workerdFlags: readonly string[];
  /**
   * Where the module runs; all of "node" (the Node 20 run) and "workerd" when left out. "node22" is
   * a second Node run on the Node 22 under .cache/node22, for what Node 20 lacks (node:sqlite).
   * "deno" is the Deno run (test/runtime/deno/run.ts), which runs what "node" runs when left out.
   */
  readonly runtimes?: readonly Runtime[];
  /** Cloudflare resources its suites use in workerd, as miniflare bindings. */
  readonly workerd?: WorkerdResources;
}

export type Runtime = "node" | "node22" | "workerd" | "deno";

export interface WorkerdResources {
  /** D1 databases, by binding name (each an empty local database). */
  readonly d1Databases?: readonly string[];
  /**
   * SQLite-backed Durable Object namespaces: binding name to the class name, which the module's
   * file exports (the generated Worker re-exports it).
   */
  readonly durableObjects?: Readonly<Record<string, string>>;
}

/** Whether a module runs on a runtime (see {@link SuiteModule.runtimes}). */
export function runsOn(module: SuiteModule, runtime: Runtime): boolean {
  return module.runtimes === undefined ? runtime !== "node22" : module.runtimes.includes(runtime);
}

export function requiredVariable(env: RuntimeEnv, name: (typeof SERVICE_VARIABLES)[number]): string {
  const value = env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set: the service harness did not start`);
  return value;
}

/** Exports named like contract suites that run suites rather than define one. */
const RUNNERS = new Set(["registerContract", "runContract"]);

/** Whether an export of an entry point is a contract suite factory (`eventStoreContract`, ...). */
export function isContractExport(name: string, value: unknown): boolean {
  return name.endsWith("Contract") && !RUNNERS.has(name) && typeof value === "function";
}

/**
 * A case that fails when the package exports a contract suite, from any entry point, that no
 * runtime suite runs, so a port's contract cannot be forgotten on Node and workerd. The runner
 * lists `exportedContracts` (test/runtime/exported-contracts.ts) where every entry can be imported;
 * the case also reads /testing itself, so an empty or stale list cannot hide its suites.
 */
export function coverageSuite(
  exportedContracts: readonly string[],
  coveredContracts: readonly string[],
): testing.ContractSuite {
  const fromTesting = Object.entries(testing)
    .filter(([name, value]) => isContractExport(name, value))
    .map(([name]) => name);
  const exported = [...new Set([...exportedContracts, ...fromTesting])];
  return {
    name: "runtime coverage",
    cases: [
      {
        name: "every contract suite the package exports, from any entry point, runs on this runtime",
        run: async () => {
          testing.assert(fromTesting.length > 0, "@eventflows/core/testing exports contract suites");
          const missing = exported.filter((name) => !coveredContracts.includes(name));
          testing.assert(
            missing.length === 0,
            `not run here: ${missing.join(", ")} (add them in test/runtime/suites/)`,
          );
        },
      },
    ],
  };
}
