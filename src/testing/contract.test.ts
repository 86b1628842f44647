import { describe, expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { type ContractSuite, registerContract, runContract } from "./contract.js";
import * as testing from "./index.js";

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

describe("contract factories", () => {
  // Every factory the testing entry exports, with the function it calls to make what it tests.
  const factories: Record<string, { make: (options: never) => ContractSuite; calls: string }> = {
    checkpointStoreContract: { make: testing.checkpointStoreContract, calls: "create" },
    dedupStoreContract: { make: testing.dedupStoreContract, calls: "create" },
    eventBusContract: { make: testing.eventBusContract, calls: "create" },
    eventEvolutionContract: { make: testing.eventEvolutionContract, calls: "create" },
    eventStoreContract: { make: testing.eventStoreContract, calls: "create" },
    idempotencyStoreContract: { make: testing.idempotencyStoreContract, calls: "create" },
    loggerContract: { make: testing.loggerContract, calls: "create" },
    projectionContract: { make: testing.projectionContract, calls: "create" },
    remoteBusContract: { make: testing.remoteBusContract, calls: "open" },
    sagaStoreContract: { make: testing.sagaStoreContract, calls: "create" },
    snapshotStoreContract: { make: testing.snapshotStoreContract, calls: "create" },
    streamDeletionContract: { make: testing.streamDeletionContract, calls: "create" },
    subjectKeyStoreContract: { make: testing.subjectKeyStoreContract, calls: "create" },
    tenantIsolationContract: { make: testing.tenantIsolationContract, calls: "forTenant" },
  };

  test("the list above is every factory the testing entry exports", () => {
    const exported = Object.keys(testing).filter(
      (name) => name.endsWith("Contract") && !["registerContract", "runContract"].includes(name),
    );
    expect(exported.sort()).toEqual(Object.keys(factories).sort());
  });

  for (const [factory, { make, calls }] of Object.entries(factories)) {
    test(`${factory}: options without ${calls} (or not an object) are a ValidationError up front, not a suite of TypeErrors`, () => {
      // The remote bus's suite needs its limits too; the others take no such key.
      const limits =
        factory === "remoteBusContract" ? { limits: { maxEventsPerRequest: 10, maxRequestBytes: 1024 } } : {};
      for (const [options, paths] of [
        [{ name: "x", ...limits }, [[calls]]],
        [{ name: "x", ...limits, [calls]: "not a function" }, [[calls]]],
        [{ ...limits, [calls]: () => undefined }, [["name"]]],
        // A misspelt option was ignored (a misspelt holdCommit ran the suite without its held-commit cases).
        [{ name: "x", ...limits, [calls]: () => undefined, dipsose: () => undefined }, [["dipsose"]]],
        [undefined, [[]]],
        [null, [[]]],
      ] as const) {
        let thrown: unknown;
        try {
          make(options as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ValidationError);
        expect({ factory, paths: (thrown as ValidationError).issues.map((issue) => issue.path) }).toEqual({
          factory,
          paths: paths as unknown as (string | number)[][],
        });
      }
      // With what it needs, the suite is built (its cases are not run here).
      const suite = make({ name: "x", ...limits, [calls]: () => undefined } as never);
      expect(suite.cases.length).toBeGreaterThan(0);
    });
  }

  test("an optional function of the wrong kind is refused too (dispose, holdCommit, cleanup)", () => {
    const create = () => undefined;
    expect(() => testing.eventStoreContract({ name: "x", create, dispose: 1 } as never)).toThrow(ValidationError);
    expect(() => testing.eventStoreContract({ name: "x", create, holdCommit: {} } as never)).toThrow(ValidationError);
    expect(() => testing.tenantIsolationContract({ name: "x", forTenant: create, cleanup: "no" } as never)).toThrow(
      ValidationError,
    );
    expect(() => testing.remoteBusContract({ name: "x", open: create } as never)).toThrow(ValidationError);
  });

  test("eventStoreContract's addedMetadataKeys: anything but an array of keys is refused", () => {
    const create = () => undefined;
    for (const bad of ["tenantId", [""], [5], {}, null]) {
      expect(() => testing.eventStoreContract({ name: "x", create, addedMetadataKeys: bad } as never)).toThrow(
        ValidationError,
      );
    }
  });

  test("eventStoreContract's addedMetadataKeys: a key the store does not add fails the metadata cases", async () => {
    // The plain in-memory store adds nothing: told it adds tenantId, the two cases that compare metadata fail.
    const suite = testing.eventStoreContract({
      name: "x",
      create: (options) => new InMemoryEventStore(options),
      addedMetadataKeys: ["tenantId"],
    });
    const metadataCases = suite.cases.filter((c) => c.name.includes("metadata") && !c.name.includes("refuses"));
    const results = await runContract({ name: "x", cases: metadataCases });
    expect(results.filter((r) => !r.ok).map((r) => r.error?.split("\n")[0])).toEqual([
      "AssertionError: metadata: the metadata the store adds (tenantId) is there",
      "AssertionError: A: the metadata the store adds (tenantId) is there",
    ]);
  });
});
