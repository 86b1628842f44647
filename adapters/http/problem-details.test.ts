import { describe, expect, test } from "bun:test";
import {
  ConcurrencyError,
  DuplicateHandlerError,
  EventFlowsError,
  HandlerNotFoundError,
  PayloadTooLargeError,
  ServiceError,
  StreamNotFoundError,
  SubjectErasedError,
  ValidationError,
} from "../../src/index.js";
import {
  ForbiddenError,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  IdempotencyResponseNotKeptError,
  MethodNotAllowedError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "./errors.js";
import { errorResponse, PROBLEM_CONTENT_TYPE, problemFor } from "./problem-details.js";

describe("problemFor maps the error hierarchy by code", () => {
  const cases: [string, unknown, number, string][] = [
    [
      "validation",
      new ValidationError("Invalid command", [{ path: ["sku"], message: "required" }]),
      400,
      "VALIDATION_FAILED",
    ],
    ["unauthorized", new UnauthorizedError(), 401, "UNAUTHORIZED"],
    ["forbidden", new ForbiddenError(), 403, "FORBIDDEN"],
    ["stream not found", new StreamNotFoundError("Cart-1"), 404, "STREAM_NOT_FOUND"],
    ["method", new MethodNotAllowedError("PUT", ["POST"]), 405, "METHOD_NOT_ALLOWED"],
    ["concurrency", new ConcurrencyError("Cart-1", 2, 3), 409, "CONCURRENCY_CONFLICT"],
    ["idempotency in progress", new IdempotencyInProgressError(), 409, "IDEMPOTENCY_IN_PROGRESS"],
    ["subject erased", new SubjectErasedError("user-7"), 410, "SUBJECT_ERASED"],
    [
      "response not kept",
      new IdempotencyResponseNotKeptError(200, 300_000, 262_144),
      410,
      "IDEMPOTENCY_RESPONSE_NOT_KEPT",
    ],
    ["too large", new PayloadTooLargeError("request body", 2000, 1000), 413, "PAYLOAD_TOO_LARGE"],
    ["media type", new UnsupportedMediaTypeError("text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"],
    ["key reused", new IdempotencyKeyReusedError(), 422, "IDEMPOTENCY_KEY_REUSED"],
  ];
  for (const [name, error, status, code] of cases) {
    test(`${name} -> ${status} ${code}, with the error's message as detail`, () => {
      const problem = problemFor(error);
      expect(problem.status).toBe(status);
      expect(problem.code).toBe(code);
      expect(problem.type).toBe("about:blank");
      expect(problem.detail).toBe((error as Error).message);
      expect(problem.title.length).toBeGreaterThan(0);
    });
  }

  test("handler not found -> 404 HANDLER_NOT_FOUND, saying the type is not served (not that no handler is registered)", () => {
    expect(problemFor(new HandlerNotFoundError("command", "Nope"))).toMatchObject({
      status: 404,
      code: "HANDLER_NOT_FOUND",
      detail: 'No command "Nope" is served here',
    });
    expect(problemFor(new HandlerNotFoundError("query", "Find", { registered: ["Finds"] })).detail).toBe(
      'No query "Find" is served here',
    );
  });

  test("a validation problem lists the issues, with only path and message", () => {
    const error = new ValidationError("Invalid", [{ path: ["items", 0, "sku"], message: "too long" }]);
    (error.issues[0] as unknown as Record<string, unknown>).secret = "x";
    expect(problemFor(error).issues).toEqual([{ path: ["items", 0, "sku"], message: "too long" }]);
  });

  test("a validation problem lists at most 100 issues, each key in their paths clipped to 64 characters", () => {
    const key = "k".repeat(10_000);
    const issues = Array.from({ length: 150 }, (_, i) => ({ path: [key, i, "k".repeat(64)], message: "m" }));
    const shown = problemFor(new ValidationError("Invalid", issues)).issues;
    expect(shown).toHaveLength(100);
    expect(shown?.[99]).toEqual({ path: [`${"k".repeat(64)}…`, 99, "k".repeat(64)], message: "m" });
  });

  test("a concurrency problem names the stream and both versions; a 413 names the limit", () => {
    expect(problemFor(new ConcurrencyError("Cart-1", 2, 3))).toMatchObject({
      streamId: "Cart-1",
      expectedVersion: 2,
      actualVersion: 3,
    });
    expect(problemFor(new PayloadTooLargeError("request body", 2000, 1000)).limit).toBe(1000);
  });

  test("an unknown error is a bare 500 that never carries its message", () => {
    const problem = problemFor(new Error("connect ECONNREFUSED postgres://admin:hunter2@db:5432"));
    expect(problem).toEqual({
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      detail: "An unexpected error occurred",
      code: "INTERNAL_ERROR",
    });
    expect(problemFor("a thrown string").status).toBe(500);
    expect(problemFor(undefined).status).toBe(500);
    expect(problemFor({ code: "VALIDATION_FAILED", message: "not an Error" }).status).toBe(500);
  });

  test("an EventFlows error with a code this layer does not know is a bare 500", () => {
    const problem = problemFor(new EventFlowsError("SOMETHING_NEW", "internal detail"));
    expect(problem.status).toBe(500);
    expect(problem.code).toBe("INTERNAL_ERROR");
    expect(JSON.stringify(problem)).not.toContain("internal detail");
    expect(problemFor(new DuplicateHandlerError("command", "A")).status).toBe(500);
  });

  test("a backend failure says only whether retrying helps, never the backend's message", () => {
    const retryable = problemFor(
      new ServiceError("dynamodb", "PutItem", "ThrottlingException", true, "arn:aws:secret"),
    );
    expect(retryable).toMatchObject({ status: 503, code: "SERVICE_ERROR", retryable: true });
    const fatal = problemFor(
      new ServiceError("postgres", "append", "42P01", false, 'relation "events" does not exist'),
    );
    expect(fatal).toMatchObject({ status: 500, code: "SERVICE_ERROR", retryable: false });
    expect(JSON.stringify([retryable, fatal])).not.toMatch(/arn:aws|relation|42P01|Throttling/);
  });

  test("an error from another copy of the package (its mark) is mapped by its code; another library's with our code is a 500", () => {
    // Another copy's errors carry the package's global mark, as this class imitates.
    class OtherCopysError extends Error {
      get [Symbol.for("eventflows.error")]() {
        return true;
      }
    }
    const message = "This Idempotency-Key was used for a different request";
    const foreign = Object.assign(new OtherCopysError(message), { code: "IDEMPOTENCY_KEY_REUSED" });
    expect(problemFor(foreign).status).toBe(422);
    const unrelated = Object.assign(new Error("db.internal: key 42 not found"), { code: "NOT_FOUND" });
    expect(problemFor(unrelated)).toMatchObject({ status: 500, code: "INTERNAL_ERROR" });
    expect(JSON.stringify(problemFor(unrelated))).not.toContain("db.internal");
    // The core's own codes too: without the mark, the error is not ours, and its message is not shown.
    for (const code of ["VALIDATION_FAILED", "CONCURRENCY_CONFLICT", "STREAM_NOT_FOUND", "SERVICE_ERROR"]) {
      const lookalike = Object.assign(new Error("db.internal: password=hunter2"), { code, retryable: true });
      expect(problemFor(lookalike)).toMatchObject({ status: 500, code: "INTERNAL_ERROR" });
      expect(JSON.stringify(problemFor(lookalike))).not.toContain("hunter2");
    }
  });
});

describe("errorResponse", () => {
  test("is problem+json with the headers the status calls for", async () => {
    const unauthorized = errorResponse(
      new UnauthorizedError("token expired", { challenge: 'Bearer error="invalid_token"' }),
    );
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    expect(unauthorized.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await unauthorized.json()).toMatchObject({ status: 401, code: "UNAUTHORIZED", detail: "token expired" });

    const notAllowed = errorResponse(new MethodNotAllowedError("DELETE", ["GET", "POST"]), {
      "x-correlation-id": "c-1",
    });
    expect(notAllowed.headers.get("allow")).toBe("GET, POST");
    expect(notAllowed.headers.get("x-correlation-id")).toBe("c-1");

    const busy = errorResponse(new ServiceError("dynamodb", "Query", "ThrottlingException", true, "slow down"));
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
  });
});
