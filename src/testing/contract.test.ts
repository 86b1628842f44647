import { describe, expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { type ContractSuite, registerContract, runContract } from "./contract.js";

const suite: ContractSuite = { name: "suite", cases: [{ name: "passes", run: async () => undefined }] };

describe("registerContract and runContract", () => {
  test("refuse what is not a suite with a ValidationError, never a TypeError", async () => {
    const framework = { describe: () => undefined, test: () => undefined };
    for (const bad of [undefined, null, 42, {}, { name: "x" }, { name: "x", cases: [{ name: "no run" }] }]) {
      expect(() => registerContract(bad as never, framework)).toThrow(ValidationError);
      await expect(runContract(bad as never)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  test("refuse a framework without describe and test with a ValidationError", () => {
    for (const bad of [undefined, {}, { describe: () => undefined }, { test: () => undefined }]) {
      expect(() => registerContract(suite, bad as never)).toThrow(ValidationError);
    }
  });

  test("a suite as the factories make it runs", async () => {
    expect(await runContract(suite)).toEqual([
      { suite: "suite", name: "passes", ok: true, durationMs: expect.any(Number) },
    ]);
  });
});
