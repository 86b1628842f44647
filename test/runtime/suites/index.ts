/**
 * Every runtime suite module, by file name (test/runtime/suites/<key>.ts exports `<key>Suites`
 * in camelCase). To add a backend: write its file like postgres.ts and list it here.
 */
import type { RuntimeSuite, SuiteModule } from "../runtime-suite.js";
import { dynamodbSuites } from "./dynamodb.js";
import { eventbridgeSuites } from "./eventbridge.js";
import { inMemorySuites } from "./in-memory.js";
import { postgresSuites } from "./postgres.js";

export const suiteModules: Readonly<Record<string, SuiteModule>> = {
  "in-memory": inMemorySuites,
  postgres: postgresSuites,
  dynamodb: dynamodbSuites,
  eventbridge: eventbridgeSuites,
};

export function allSuites(): RuntimeSuite[] {
  return Object.values(suiteModules).flatMap((module) => module.suites);
}

export function coveredContracts(): string[] {
  return [...new Set(allSuites().map((suite) => suite.contract))];
}

export function servicesFor(modules: readonly SuiteModule[] = Object.values(suiteModules)): string[] {
  return [...new Set(modules.flatMap((module) => module.services))];
}
