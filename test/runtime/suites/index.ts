/**
 * Every runtime suite module, by file name (test/runtime/suites/<key>.ts exports `<key>Suites`
 * in camelCase). To add a backend: write its file like postgres.ts and list it here.
 */
import { type Runtime, type RuntimeSuite, runsOn, type SuiteModule } from "../runtime-suite.js";
import { dynamodbSuites } from "./dynamodb.js";
import { eventbridgeSuites } from "./eventbridge.js";
import { inMemorySuites } from "./in-memory.js";
import { postgresSuites } from "./postgres.js";
import { sqliteNodeSuites } from "./sqlite-node.js";
import { sqliteWorkerdSuites } from "./sqlite-workerd.js";

export const suiteModules: Readonly<Record<string, SuiteModule>> = {
  "in-memory": inMemorySuites,
  postgres: postgresSuites,
  dynamodb: dynamodbSuites,
  eventbridge: eventbridgeSuites,
  "sqlite-node": sqliteNodeSuites,
  "sqlite-workerd": sqliteWorkerdSuites,
};

export function allSuites(): RuntimeSuite[] {
  return Object.values(suiteModules).flatMap((module) => module.suites);
}

/**
 * The modules a run covers: all, or those EVENTFLOWS_RUNTIME_MODULES names (comma-separated file
 * names, e.g. "sqlite-node,sqlite-workerd"), to run one backend's suites while working on it.
 */
export function selectedModules(): Readonly<Record<string, SuiteModule>> {
  const selection = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.EVENTFLOWS_RUNTIME_MODULES;
  if (selection === undefined || selection === "") return suiteModules;
  const names = selection.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !(name in suiteModules));
  if (unknown.length > 0) throw new Error(`EVENTFLOWS_RUNTIME_MODULES names unknown modules: ${unknown.join(", ")}`);
  return Object.fromEntries(names.map((name) => [name, suiteModules[name] as SuiteModule]));
}

/** The suites of the selected modules that run on `runtime`. */
export function suitesFor(runtime: Runtime): RuntimeSuite[] {
  return Object.values(selectedModules())
    .filter((module) => runsOn(module, runtime))
    .flatMap((module) => module.suites);
}

export function coveredContracts(): string[] {
  return [...new Set(allSuites().map((suite) => suite.contract))];
}

export function servicesFor(modules: readonly SuiteModule[] = Object.values(selectedModules())): string[] {
  return [...new Set(modules.flatMap((module) => module.services))];
}
