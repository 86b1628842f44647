/**
 * The contract suites every runtime runs (Bun runs them through bun:test beside the code; this list
 * feeds Node 20 and workerd). The runners bundle this file with imports of public entry points
 * rewritten to "@eventflows/core/…", so what runs is the built package, not the sources.
 *
 * To add an adapter suite: import the adapter's public entry (`../../adapters/<name>/index.js`),
 * append an entry whose `services` names the test/services registry keys it needs and whose `open`
 * reads the service location from `env` (process.env on Node, bindings in workerd).
 */
import { InMemoryCheckpointStore, InMemoryEventBus, InMemoryEventStore } from "../../src/index.js";
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
  /** Releases what `open` acquired (connections, tables) after the suite ran. */
  readonly close?: () => Promise<void>;
}

export interface RuntimeSuite {
  /** Unique among the runtime suites: how runners select it. */
  readonly name: string;
  /** The exported contract factory this suite exercises, e.g. "eventStoreContract". */
  readonly contract: string;
  /** Keys of the test/services registry this suite needs started. */
  readonly services?: readonly string[];
  /**
   * workerd compatibility flags the suite's adapter needs (postgres.js reaches TCP through
   * `nodejs_compat`). Such suites run in a Worker of their own, so the core is still proven flagless.
   */
  readonly workerdFlags?: readonly string[];
  readonly open: (env: RuntimeEnv) => OpenedSuite | Promise<OpenedSuite>;
}

export const runtimeSuites: readonly RuntimeSuite[] = [
  {
    name: "in-memory event store",
    contract: "eventStoreContract",
    open: () => ({
      suite: testing.eventStoreContract({
        name: "InMemoryEventStore contract",
        create: (options) => new InMemoryEventStore(options),
      }),
    }),
  },
  {
    name: "in-memory event bus",
    contract: "eventBusContract",
    open: () => ({
      suite: testing.eventBusContract({
        name: "InMemoryEventBus contract",
        create: (options) => new InMemoryEventBus(options),
      }),
    }),
  },
  {
    name: "in-memory checkpoint store",
    contract: "checkpointStoreContract",
    open: () => ({
      suite: testing.checkpointStoreContract({
        name: "InMemoryCheckpointStore contract",
        create: () => new InMemoryCheckpointStore(),
      }),
    }),
  },
];

/** Exports named like contract suites that run suites rather than define one. */
const RUNNERS = new Set(["registerContract", "runContract"]);

/**
 * A case that fails when @eventflows/core/testing exports a contract suite no runtime suite runs,
 * so a new port's contract cannot be forgotten on Node and workerd.
 */
export function coverageSuite(suites: readonly RuntimeSuite[] = runtimeSuites): testing.ContractSuite {
  const exported = Object.entries(testing)
    .filter(([name, value]) => name.endsWith("Contract") && !RUNNERS.has(name) && typeof value === "function")
    .map(([name]) => name);
  return {
    name: "runtime coverage",
    cases: [
      {
        name: "every contract suite of @eventflows/core/testing runs on this runtime",
        run: async () => {
          testing.assert(exported.length > 0, "@eventflows/core/testing exports contract suites");
          const covered = new Set(suites.map((suite) => suite.contract));
          const missing = exported.filter((name) => !covered.has(name));
          testing.assert(
            missing.length === 0,
            `not run here: ${missing.join(", ")} (add them to test/runtime/suites.ts)`,
          );
        },
      },
    ],
  };
}

/** The services the selected suites need, for the runner to start before it runs them. */
export function servicesFor(suites: readonly RuntimeSuite[] = runtimeSuites): string[] {
  return [...new Set(suites.flatMap((suite) => suite.services ?? []))];
}
