import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, TenancyErrorCode } from "../../src/index.js";
import { type D1DatabaseLike, d1TenantDatabases } from "./index.js";

// The mapping alone, over stand-in binding objects (no emulator runs outside workerd); the databases
// themselves are real D1 in test/runtime (tenancyD1Suite: the isolation contract, a binding per tenant).
const stand = (): D1DatabaseLike => ({
  prepare: () => {
    throw new Error("not used here");
  },
  batch: async () => [],
});
const env = { DB_ACME: stand(), DB_GLOBEX: stand(), NOT_D1: "a variable" };

describe("d1TenantDatabases (stand-in binding objects)", () => {
  test("a mapped tenant gets a D1 driver; any other, and a binding the Worker lacks, an UnknownTenantError", () => {
    const databases = d1TenantDatabases({
      env,
      bindings: { acme: "DB_ACME", globex: "DB_GLOBEX", initech: "DB_INITECH", umbrella: "NOT_D1" },
    });
    expect(databases.driver("acme").name).toBe("d1");
    expect(databases.knows("acme")).toBe(true);
    for (const tenant of ["initech", "umbrella", "hooli", "constructor", "to-string", "__proto__"]) {
      expect(databases.knows(tenant)).toBe(false);
    }
    for (const tenant of ["initech", "umbrella", "hooli", "constructor"]) {
      expect(() => databases.driver(tenant)).toThrow(expect.objectContaining({ code: TenancyErrorCode.UnknownTenant }));
    }
  });

  test("only env's own properties are bindings: one inherited through its prototype is not found (it was)", () => {
    const inherited = Object.create({ DB_ACME: stand(), toString: stand() });
    for (const bindings of [
      { acme: "DB_ACME", globex: "toString" },
      (t: string) => (t === "acme" ? "DB_ACME" : "toString"),
    ]) {
      const databases = d1TenantDatabases({ env: inherited, bindings });
      for (const tenant of ["acme", "globex"]) {
        expect(databases.knows(tenant)).toBe(false);
        expect(() => databases.driver(tenant)).toThrow(
          expect.objectContaining({ code: TenancyErrorCode.UnknownTenant }),
        );
      }
    }
  });

  test("each tenant's driver takes maxBatchStatements (50 on D1's Free plan), 1,000 by default", () => {
    expect(d1TenantDatabases({ env, bindings: { acme: "DB_ACME" } }).driver("acme").maxBatchStatements).toBe(1000);
    const free = d1TenantDatabases({ env, bindings: { acme: "DB_ACME" }, maxBatchStatements: 50 });
    expect(free.driver("acme").maxBatchStatements).toBe(50);
  });

  test("two tenants are never handed one database: any map naming a binding twice is refused", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/), { minLength: 2, maxLength: 6 }),
        fc.nat(),
        (tenants, pick) => {
          const bindings = Object.fromEntries(tenants.map((tenant, i) => [tenant, `DB_${i}`]));
          const [victim, other] = [tenants[pick % tenants.length], tenants[(pick + 1) % tenants.length]] as [
            string,
            string,
          ];
          bindings[other] = bindings[victim] as string;
          expect(() => d1TenantDatabases({ env, bindings })).toThrow(
            expect.objectContaining({ code: ErrorCode.Validation }),
          );
        },
      ),
    );
  });

  test("a function resolver: undefined or an empty name is a tenant not served; ids that are not tenant ids are refused, typed", () => {
    const databases = d1TenantDatabases({
      env,
      bindings: (tenant) => (tenant === "acme" ? "DB_ACME" : tenant === "globex" ? "" : undefined),
    });
    expect(databases.knows("acme")).toBe(true);
    expect(databases.knows("globex")).toBe(false);
    expect(() => databases.driver("globex")).toThrow(expect.objectContaining({ code: TenancyErrorCode.UnknownTenant }));
    for (const value of ["Acme", "acme/../globex", "", " acme", "a_b"]) {
      expect(databases.knows(value)).toBe(false);
      expect(() => databases.driver(value)).toThrow(expect.objectContaining({ code: TenancyErrorCode.InvalidTenant }));
    }
  });

  test("bad options are a ValidationError", () => {
    for (const options of [
      undefined,
      { env: null, bindings: {} },
      { env, bindings: null },
      { env, bindings: { Acme: "DB_ACME" } },
      { env, bindings: { acme: "" } },
      { env, bindings: { acme: 1 } },
      { env, bindings: { acme: "DB_ACME" }, maxBatchStatements: 0 },
      { env, bindings: { acme: "DB_ACME" }, maxBatchStatements: "50" },
    ]) {
      expect(() => d1TenantDatabases(options as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation }),
      );
    }
  });

  test("a Map, an array or a class instance as bindings is refused, not read as a map of no tenants", () => {
    // A JavaScript Map has no own enumerable keys: taken as an object, it served no tenant at all.
    class Bindings {
      acme = "DB_ACME";
    }
    for (const bindings of [new Map([["acme", "DB_ACME"]]), ["DB_ACME"], new Bindings()]) {
      expect(() => d1TenantDatabases({ env, bindings } as never)).toThrow(
        expect.objectContaining({
          code: ErrorCode.Validation,
          issues: [expect.objectContaining({ path: ["bindings"] })],
        }),
      );
    }
    const nullPrototype = Object.assign(Object.create(null), { acme: "DB_ACME" });
    expect(d1TenantDatabases({ env, bindings: nullPrototype }).knows("acme")).toBe(true);
  });
});
