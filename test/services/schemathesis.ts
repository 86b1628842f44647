/**
 * schemathesis (PyPI), pinned: the version the OpenAPI contract runs were tested with. The Hono test
 * (adapters/hono/openapi-schemathesis.int.test.ts) installs it into .cache/schemathesis/ on demand;
 * `.ci/run` installs the same version into the same virtualenv, and scripts/check-openapi-contract.ts
 * looks there first.
 */
import type { PythonTool } from "./python-tool.ts";

export const SCHEMATHESIS_VERSION = "4.32.5";

export const schemathesis: PythonTool = {
  name: "schemathesis",
  requirement: `schemathesis==${SCHEMATHESIS_VERSION}`,
  version: SCHEMATHESIS_VERSION,
  executable: "st",
};
