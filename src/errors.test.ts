import { describe, expect, test } from "bun:test";
import { LiveClientErrorCode } from "./client/errors.js";
import { ambientEnv, readEnv } from "./env.js";
import {
  ConcurrencyError,
  clipKey,
  ErrorCode,
  ErrorCodeRegistry,
  EventFlowsError,
  isConcurrencyError,
  isEventFlowsError,
  isPayloadTooLargeError,
  isServiceError,
  isValidationError,
  PayloadTooLargeError,
  ServiceError,
  ValidationError,
} from "./errors.js";
import { ImportErrorCode, isImportConflictError } from "./import/errors.js";
import { LiveErrorCode } from "./live/errors.js";
import { isTenantQuotaExceededError, TenancyErrorCode } from "./tenancy/errors.js";

describe("errors", () => {
  test("a ValidationError's message shortens a very long issue path, its issues keep it whole", () => {
    const deep = Array.from({ length: 1001 }, (_, i) => i);
    const error = new ValidationError("Invalid state", [{ path: deep, message: "too deep" }]);
    expect(error.message).toBe(`Invalid state: ${deep.slice(0, 16).join(".")}.…(981 more).997.998.999.1000: too deep`);
    expect(error.issues[0]?.path).toEqual(deep);
    const short = Array.from({ length: 24 }, (_, i) => `k${i}`);
    expect(new ValidationError("Invalid", [{ path: short, message: "m" }]).message).toBe(
      `Invalid: ${short.join(".")}: m`,
    );
  });

  test("a ValidationError's message lists its first 10 issues and counts the rest, each key clipped to 64 characters; its issues keep everything", () => {
    const key = "k".repeat(10_000);
    const issues = Array.from({ length: 200 }, (_, i) => ({ path: [key, `a${i}`], message: "must be a number" }));
    const error = new ValidationError("Invalid command", issues);
    const shown = `${"k".repeat(64)}…`;
    const listed = issues.slice(0, 10).map((_, i) => `${shown}.a${i}: must be a number`);
    expect(error.message).toBe(`Invalid command: ${listed.join("; ")}; …(190 more)`);
    expect(error.issues).toBe(issues);
    expect(new ValidationError("Invalid", [{ path: ["k".repeat(64), 1], message: "m" }]).message).toBe(
      `Invalid: ${"k".repeat(64)}.1: m`,
    );
  });

  test("a clipped key never ends in half a character: an emoji across the 64th unit is left out whole", () => {
    const key = `${"k".repeat(63)}😀${"k".repeat(100)}`;
    expect(clipKey(key)).toBe(`${"k".repeat(63)}…`);
    expect(clipKey(`${"k".repeat(62)}😀${"k".repeat(100)}`)).toBe(`${"k".repeat(62)}😀…`);
    expect(new ValidationError("Invalid", [{ path: [key], message: "m" }]).message).toBe(
      `Invalid: ${"k".repeat(63)}…: m`,
    );
  });

  test("every error has a stable code, a name and the fields users branch on", () => {
    const conflict = new ConcurrencyError("Order-1", 3, 5);
    expect(conflict).toBeInstanceOf(EventFlowsError);
    expect(conflict.code).toBe(ErrorCode.Concurrency);
    expect(conflict.name).toBe("ConcurrencyError");
    expect(conflict.message).toBe(
      'Stream "Order-1" is at version 5, expected 3: someone else wrote to it since it was read. Load it again and decide again: AggregateRepository.update(...) does, and the retryOnConcurrency() middleware retries a command',
    );
    const tooLarge = new PayloadTooLargeError("event 0 of Order-1", 500_000, 400_000);
    expect(tooLarge.message).toBe("event 0 of Order-1 is 500000 bytes, over the limit of 400000 bytes");
    const service = new ServiceError("DynamoDB", "PutItem", "ThrottlingException", true, "slow down", {
      status: 400,
      cause: "x",
    });
    expect([service.retryable, service.status, service.cause]).toEqual([true, 400, "x"]);
  });

  test("ValidationError lists its issues in the message", () => {
    const error = new ValidationError("Invalid events", [
      { path: [0, "type"], message: "required" },
      { path: [], message: "top" },
    ]);
    expect(error.message).toBe("Invalid events: 0.type: required; top");
    expect(error.issues).toHaveLength(2);
  });

  test("guards go by code, so errors from another copy of the library are recognised", () => {
    const foreign = Object.assign(new Error("copy"), { code: ErrorCode.Concurrency });
    expect(isConcurrencyError(foreign)).toBe(true);
    expect(isEventFlowsError(foreign)).toBe(true);
    expect(isConcurrencyError(new Error("plain"))).toBe(false);
    expect(isEventFlowsError({ code: ErrorCode.Validation })).toBe(false);
    expect(isValidationError(new ValidationError("x"))).toBe(true);
    expect(isPayloadTooLargeError(new ValidationError("x"))).toBe(false);
    expect(isServiceError(null)).toBe(false);
  });

  test("guards answer false, never throw, for a thrown value that cannot be inspected (a revoked or hostile Proxy)", () => {
    // What a handler may throw: the runner asks the guards whether to retry, so a guard that threw
    // let the Proxy's own TypeError out of the library instead of the ProjectionFailedError.
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = new Proxy(new Error("x"), {
      get() {
        throw new TypeError("no reading");
      },
      getPrototypeOf() {
        throw new TypeError("no prototype");
      },
    });
    const guards = [
      isEventFlowsError,
      isServiceError,
      isConcurrencyError,
      isTenantQuotaExceededError,
      isImportConflictError,
    ];
    for (const value of [revoked, hostile]) {
      expect(guards.map((guard) => guard(value))).toEqual([false, false, false, false, false]);
    }
  });

  test("isEventFlowsError knows every code of the core's errors, the import's conflict included", () => {
    for (const code of [...Object.values(ErrorCode), ImportErrorCode.Conflict]) {
      expect([code, isEventFlowsError(Object.assign(new Error("copy"), { code }))]).toEqual([code, true]);
    }
    expect(ErrorCode.ImportConflict).toBe("IMPORT_CONFLICT");
    expect(ErrorCodeRegistry.import.Conflict).toBe(ErrorCode.ImportConflict);
  });

  test("isEventFlowsError knows another copy's errors by their mark, whatever their code; a plain Error only by a core code", () => {
    // What another copy of the package throws: its own EventFlowsError class, with the same global mark.
    class OtherCopysError extends Error {
      get [Symbol.for("eventflows.error")]() {
        return true;
      }
    }
    // Every part's codes: each part's constant (TenancyErrorCode, HttpErrorCode, CliErrorCode, ...) is its entry.
    expect([TenancyErrorCode, LiveErrorCode, LiveClientErrorCode, ImportErrorCode]).toEqual([
      ErrorCodeRegistry.tenancy,
      ErrorCodeRegistry.live,
      ErrorCodeRegistry.liveClient,
      ErrorCodeRegistry.import,
    ]);
    const parts = ErrorCodeRegistry;
    for (const [part, codes] of Object.entries(parts)) {
      for (const code of Object.values(codes)) {
        const copy = Object.assign(new OtherCopysError("copy"), { code });
        expect([part, code, isEventFlowsError(copy)]).toEqual([part, code, true]);
        // A plain Error is taken for one by a core code alone (what copies made before the mark throw),
        // never by another part's: another library's NOT_FOUND or FORBIDDEN is not one of ours.
        const plain = Object.assign(new Error("other"), { code });
        const core = (Object.values(ErrorCode) as string[]).includes(code);
        expect([part, code, isEventFlowsError(plain)]).toEqual([part, code, core]);
      }
    }
    expect(isEventFlowsError(Object.assign(new OtherCopysError("copy"), { code: "A_NEWER_COPYS_CODE" }))).toBe(true);
    // The mark is not an own, enumerable property: an error serializes as it did.
    expect(Object.getOwnPropertySymbols(new EventFlowsError("X", "m"))).toEqual([]);
    expect(JSON.stringify(new EventFlowsError("X", "m"))).toBe(JSON.stringify({ name: "EventFlowsError", code: "X" }));
  });
});

describe("env", () => {
  test("readEnv refuses a name that is no non-empty string, an env that is no object and unknown options, naming each", () => {
    const refused: [unknown[], string[]][] = [
      [[3], ["name"]],
      [[""], ["name"]],
      [[Symbol("X")], ["name"]],
      [["PATH", "PATH=/bin"], ["env"]],
      [["PATH", {}, { ambiant: false }], ["options.ambiant"]],
      [["PATH", {}, { ambient: "no" }], ["options.ambient"]],
      [["PATH", {}, false], ["options"]],
      [
        [undefined, 1],
        ["name", "env"],
      ],
    ];
    for (const [args, paths] of refused) {
      let thrown: unknown;
      try {
        (readEnv as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(paths);
    }
    expect(readEnv("X", { X: "1" }, { ambient: false })).toBe("1");
    expect(readEnv("X", null as never, undefined)).toBe(process.env.X);
  });

  test("a variable the runtime refuses to read (Deno without --allow-env) reads as unset, never as the runtime's error", () => {
    // Deno's process.env throws NotCapable for each variable the program has no --allow-env for.
    const refused = (name: string | symbol) => {
      if (name === "EVENTFLOWS_GRANTED") return;
      const error = new Error(`Requires env access to "${String(name)}", run again with the --allow-env flag`);
      error.name = "NotCapable";
      throw error;
    };
    const denoEnv = new Proxy({ EVENTFLOWS_GRANTED: "yes", EVENTFLOWS_REFUSED: "no" } as Record<string, string>, {
      get: (target, name) => {
        refused(name);
        return Reflect.get(target, name);
      },
      has: (target, name) => {
        refused(name);
        return Reflect.has(target, name);
      },
      getOwnPropertyDescriptor: (target, name) => {
        refused(name);
        return Reflect.getOwnPropertyDescriptor(target, name);
      },
      ownKeys: () => {
        refused("*");
        return [];
      },
    });
    const saved = Object.getOwnPropertyDescriptor(process, "env") as PropertyDescriptor;
    Object.defineProperty(process, "env", { value: denoEnv, configurable: true, writable: true });
    try {
      expect(readEnv("EVENTFLOWS_REFUSED")).toBeUndefined();
      expect(readEnv("EVENTFLOWS_GRANTED")).toBe("yes");
      expect(readEnv("EVENTFLOWS_REFUSED", { EVENTFLOWS_REFUSED: "given" })).toBe("given");
      const env = ambientEnv();
      expect([env.EVENTFLOWS_REFUSED, "EVENTFLOWS_REFUSED" in env, env.EVENTFLOWS_GRANTED]).toEqual([
        undefined,
        false,
        "yes",
      ]);
      expect(Object.keys(env)).toEqual([]);
    } finally {
      Object.defineProperty(process, "env", saved);
    }
    expect(readEnv("PATH")).toBe(process.env.PATH);
  });

  test("explicit env objects win; empty strings count as unset; the ambient env is the fallback", () => {
    process.env.EVENTFLOWS_TEST_VAR = "ambient";
    try {
      expect(readEnv("EVENTFLOWS_TEST_VAR", { EVENTFLOWS_TEST_VAR: "binding" })).toBe("binding");
      expect(readEnv("EVENTFLOWS_TEST_VAR", { EVENTFLOWS_TEST_VAR: "" })).toBe("ambient");
      expect(readEnv("EVENTFLOWS_TEST_VAR")).toBe("ambient");
      expect(ambientEnv().EVENTFLOWS_TEST_VAR).toBe("ambient");
      expect(readEnv("EVENTFLOWS_SURELY_UNSET")).toBeUndefined();
      // What an object only inherits is no variable, in bindings or in the ambient environment.
      for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
        expect({ name, value: readEnv(name, {}) }).toEqual({ name, value: undefined });
        expect({ name, value: readEnv(name) }).toEqual({ name, value: undefined });
      }
      expect(readEnv("toString", { toString: "a binding" } as never)).toBe("a binding");
      // A value that is not text (a Worker's JSON var, a binding object) is no variable either: the
      // ambient one, if any, is read instead.
      for (const value of [5, { prepare: () => {} }, ["a"], true]) {
        expect(readEnv("EVENTFLOWS_TEST_VAR", { EVENTFLOWS_TEST_VAR: value } as never)).toBe("ambient");
        expect(readEnv("EVENTFLOWS_SURELY_UNSET", { EVENTFLOWS_SURELY_UNSET: value } as never)).toBeUndefined();
      }
      // ambient: false reads the env given alone, by the same rules.
      const alone = { ambient: false };
      expect(readEnv("EVENTFLOWS_TEST_VAR", { EVENTFLOWS_TEST_VAR: "binding" }, alone)).toBe("binding");
      for (const env of [undefined, {}, { EVENTFLOWS_TEST_VAR: "" }, { EVENTFLOWS_TEST_VAR: 5 } as never]) {
        expect(readEnv("EVENTFLOWS_TEST_VAR", env, alone)).toBeUndefined();
      }
      expect(readEnv("toString", {}, alone)).toBeUndefined();
    } finally {
      delete process.env.EVENTFLOWS_TEST_VAR;
    }
  });
});
