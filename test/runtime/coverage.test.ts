import { describe, expect, test } from "bun:test";
import { runContract } from "../../src/testing/index.js";
import { exportedContracts } from "./exported-contracts.ts";
import { coverageSuite } from "./runtime-suite.ts";
import { coveredContracts } from "./suites/index.ts";

describe("runtime coverage guard", () => {
  test("sees contracts wherever the package exports them, adapters' entries included", async () => {
    const exported = await exportedContracts();
    for (const name of ["eventStoreContract", "dedupStoreContract", "idempotencyStoreContract", "remoteBusContract"]) {
      expect(exported).toContain(name);
    }
    expect(exported).not.toContain("registerContract");
  });

  test("every exported contract has a runtime suite", async () => {
    const [result] = await runContract(coverageSuite(await exportedContracts(), coveredContracts()));
    expect(result?.ok).toBe(true);
  });

  test("fails, naming it, for a contract exported outside /testing that no runtime suite runs", async () => {
    const covered = coveredContracts().filter((name) => name !== "idempotencyStoreContract");
    const [result] = await runContract(coverageSuite(["idempotencyStoreContract"], covered));
    expect(result?.ok).toBe(false);
    expect(result?.error).toContain("not run here: idempotencyStoreContract");
  });

  test("reads /testing itself, so an empty list from the runner cannot hide its suites", async () => {
    const [result] = await runContract(coverageSuite([], ["eventStoreContract"]));
    expect(result?.ok).toBe(false);
    expect(result?.error).toContain("dedupStoreContract");
  });
});
