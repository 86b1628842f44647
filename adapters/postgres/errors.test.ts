import { describe, expect, test } from "bun:test";
import {
  ConcurrencyError,
  isEventFlowsError,
  isServiceError,
  isValidationError,
  type ServiceError,
} from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { guardReconnecting, isConnectionGone, toEventFlowsError } from "./errors.js";
import { PostgresEventStore } from "./event-store.js";

/** What postgres.js rejects with for a server error: the server's fields, plus the query and its parameters. */
function serverError(code: string, message: string, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(message), {
    name: "PostgresError",
    severity: "ERROR",
    code,
    query: "INSERT INTO secret_table VALUES ($1)",
    parameters: ["payload-secret"],
    detail: "Key (stream_id)=(payload-secret) already exists.",
    ...extra,
  });
}

describe("PostgreSQL error mapping", () => {
  test("transient server conditions are retryable ServiceErrors", () => {
    for (const code of ["40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "08006", "08001"]) {
      const mapped = toEventFlowsError(serverError(code, "transient"), "appendToStream");
      expect(mapped).toMatchObject({ code: "SERVICE_ERROR", service: "postgres", serviceCode: code, retryable: true });
    }
  });

  test("other server errors are ServiceErrors that are not retryable", () => {
    for (const code of ["23505", "42501", "XX000", "28P01"]) {
      expect(toEventFlowsError(serverError(code, "no"), "readAll")).toMatchObject({
        serviceCode: code,
        retryable: false,
      });
    }
  });

  test("a missing table says to run the migrations", () => {
    const mapped = toEventFlowsError(serverError("42P01", 'relation "x.events" does not exist'), "readStream");
    expect(isServiceError(mapped) && mapped.message).toContain("run the migrations");
  });

  test("values the server refused (class 22) are ValidationErrors", () => {
    expect(isValidationError(toEventFlowsError(serverError("22P02", "invalid input syntax for type json"), "x"))).toBe(
      true,
    );
  });

  test("a value past a server size limit (54000, 54001, an allocation over 1 GB) is a ValidationError without the server's words", () => {
    for (const [code, message] of [
      ["54000", "total size of jsonb array elements exceeds the maximum of 268435455 bytes"],
      ["54000", "string too long to represent as jsonb string"],
      ["54000", 'index row size 3000 exceeds btree version 4 maximum 2704 for index "events_pkey"'],
      ["54001", "stack depth limit exceeded"],
      ["XX000", "invalid memory alloc request size 1073741824"],
    ] as const) {
      const mapped = toEventFlowsError(serverError(code, message), "appendToStream");
      expect(isValidationError(mapped)).toBe(true);
      expect(`${(mapped as Error).message} ${JSON.stringify(mapped)}`).not.toContain(message.slice(0, 20));
    }
  });

  test("postgres.js's own refusals and TLS failures are ServiceErrors that are not retryable and quote no host", () => {
    for (const [code, message] of [
      ["SASL_SIGNATURE_MISMATCH", "SASL_SIGNATURE_MISMATCH: The server did not return the correct signature"],
      ["MAX_PARAMETERS_EXCEEDED", "MAX_PARAMETERS_EXCEEDED: Max number of parameters (65534) exceeded"],
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate for db.internal.example"],
      ["ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames: Host: db.internal.example"],
    ] as const) {
      const mapped = toEventFlowsError(Object.assign(new Error(message), { code }), "readAll");
      expect(mapped).toMatchObject({ code: "SERVICE_ERROR", serviceCode: code, retryable: false });
      expect(`${(mapped as Error).message} ${String((mapped as Error).cause)}`).not.toContain(message.slice(-20));
    }
  });

  test("connection failures are retryable, except a client the application closed", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(toEventFlowsError(refused, "appendToStream")).toMatchObject({
      serviceCode: "ECONNREFUSED",
      retryable: true,
    });
    const closed = Object.assign(new Error("write CONNECTION_CLOSED db:5432"), { code: "CONNECTION_CLOSED" });
    expect(toEventFlowsError(closed, "readAll")).toMatchObject({ retryable: true });
    const ended = Object.assign(new Error("write CONNECTION_ENDED db:5432"), { code: "CONNECTION_ENDED" });
    expect(toEventFlowsError(ended, "readAll")).toMatchObject({ retryable: false });
  });

  test("a connection workerd could not open is a retryable ServiceError, on a statement or reserve() (shape seen on workerd with postgres.js 3.4 and 4.2, closed port)", () => {
    // What cloudflare:sockets' connect() failed with in workerd (miniflare, compatibility date
    // 2025-12-01, nodejs_compat) against a closed local port: a plain Error with no code, which
    // postgres.js ties to the statement (own `query`, `parameters`, `args`, `types`), or rejects
    // reserve() with bare (a tenantScopedSql store).
    const message = "proxy request failed, cannot connect to the specified address";
    const onStatement = Object.assign(new Error(message), {
      query: "select secret_column from secret_table",
      parameters: ["payload-secret"],
      args: [],
      types: [],
    });
    for (const raw of [onStatement, new Error(message)]) {
      const mapped = toEventFlowsError(raw, "getStreamVersion");
      expect(isServiceError(mapped)).toBe(true);
      expect(mapped).toMatchObject({ service: "postgres", serviceCode: "CONNECT_FAILED", retryable: true });
      for (const leak of ["secret_table", "payload-secret"]) expect(everythingShown(mapped)).not.toContain(leak);
      expect(isConnectionGone(raw)).toBe(true);
    }
    // Only that shape: an error of another name, or with a code, or other words, is not it.
    const handlerBug = new TypeError(message);
    expect(toEventFlowsError(handlerBug, "projection")).toBe(handlerBug);
    expect(isConnectionGone(handlerBug)).toBe(false);
    const other = new Error("proxy request failed");
    expect(toEventFlowsError(other, "projection")).toBe(other);
    const coded = Object.assign(new Error(message), { code: "SOMETHING_ELSE" });
    expect(toEventFlowsError(coded, "projection")).toBe(coded);
  });

  test("a socket workerd lost under a statement is a retryable lost connection, and a statement safe to repeat runs again (shape seen on workerd)", async () => {
    // What cloudflare:sockets' write rejected with in workerd (miniflare, compatibility date
    // 2025-12-01) on a connection its peer had reset: a plain Error with no code and workerd's own
    // `retryable: true`, which postgres.js ties to the statement, or rejects reserve() with bare.
    const lost = () => Object.assign(new Error("Network connection lost."), { retryable: true });
    const onStatement = Object.assign(lost(), {
      query: "select secret_column from secret_table",
      parameters: ["payload-secret"],
    });
    for (const raw of [onStatement, lost()]) {
      const mapped = toEventFlowsError(raw, "appendToStream");
      expect(isServiceError(mapped)).toBe(true);
      expect(mapped).toMatchObject({ service: "postgres", serviceCode: "CONNECTION_LOST", retryable: true });
      for (const leak of ["secret_table", "payload-secret"]) expect(everythingShown(mapped)).not.toContain(leak);
      expect(isConnectionGone(raw)).toBe(true);
    }
    // Lost under the statement, as ECONNRESET: run again on another connection.
    let runs = 0;
    const value = await guardReconnecting("readStream", 2, async () => {
      runs++;
      if (runs === 1) throw lost();
      return "read";
    });
    expect({ value, runs }).toEqual({ value: "read", runs: 2 });
    // Only that shape: another name, a code, or other words are not it.
    const handlerBug = new TypeError("Network connection lost.");
    expect(toEventFlowsError(handlerBug, "projection")).toBe(handlerBug);
    expect(isConnectionGone(handlerBug)).toBe(false);
    const coded = Object.assign(lost(), { code: "SOMETHING_ELSE" });
    expect(toEventFlowsError(coded, "projection")).toBe(coded);
  });

  // A tenant-scoped statement stops waiting for the rest of its pipeline, and leaves its reserved
  // connection to postgres.js, only on these: a statement's own error leaves the connection serving.
  test("a connection gone under a statement is told apart from the statement's own error", () => {
    const withCode = (code: string) => Object.assign(new Error(code), { code });
    for (const code of [
      "CONNECTION_CLOSED",
      "CONNECTION_DESTROYED",
      "CONNECTION_ENDED",
      "ECONNRESET",
      "EPIPE",
      "ETIMEDOUT",
    ]) {
      expect(isConnectionGone(withCode(code))).toBe(true);
    }
    expect(isConnectionGone(serverError("57P01", "terminating connection", { severity: "FATAL" }))).toBe(true);
    expect(isConnectionGone(serverError("XX000", "server crashed", { severity: "PANIC" }))).toBe(true);
    for (const code of ["23505", "40001", "57014", "25P02"])
      expect(isConnectionGone(serverError(code, "e"))).toBe(false);
    expect(isConnectionGone(withCode("UNSAFE_TRANSACTION"))).toBe(false);
    // postgres.js 4: a statement never sent, or cancelled on a connection that answered the cancel.
    expect(isConnectionGone(withCode("QUEUE_TIMEOUT"))).toBe(false);
    expect(isConnectionGone(withCode("QUERY_TIMEOUT"))).toBe(false);
    expect(isConnectionGone(Object.assign(withCode("QUERY_TIMEOUT"), { cause: withCode("CANCEL_UNANSWERED") }))).toBe(
      true,
    );
    expect(isConnectionGone(withCode("CANCEL_UNANSWERED"))).toBe(true);
    expect(isConnectionGone(withCode("PROTOCOL_ERROR"))).toBe(true);
    expect(isConnectionGone(new TypeError("a parser threw"))).toBe(false);
  });

  // What postgres.js 4 rejects with besides 3.4's codes (its README's list), each typed: a retryable
  // ServiceError when the same call may succeed later, not when it would fail again.
  test("postgres.js 4's own codes are ServiceErrors, retryable when a later call may succeed", () => {
    const withCode = (code: string) =>
      Object.assign(new Error(`${code} db.internal.example:5432 select secret_column`), { code });
    const retryable = ["QUEUE_TIMEOUT", "QUERY_TIMEOUT", "CANCEL_UNANSWERED", "PROTOCOL_ERROR"];
    const final = [
      "TRANSACTION_ROLLED_BACK",
      "AUTH_METHOD_REFUSED",
      "AUTH_TYPE_NOT_IMPLEMENTED",
      "AUTHENTICATION_INCOMPLETE",
      "CHANNEL_BINDING_REQUIRED",
      "SASL_MECHANISM_NOT_SUPPORTED",
      "SASL_NONCE_MISMATCH",
      "NESTED_TRANSACTION_MODE",
      "TYPE_NOT_FOUND",
      "NUL_CHARACTER",
      "SSL_NOT_SUPPORTED",
      "SSL_NEGOTIATION_NOT_SUPPORTED",
      "TLS_HANDSHAKE_FAILED",
    ];
    for (const [codes, expected] of [
      [retryable, true],
      [final, false],
    ] as const) {
      for (const code of codes) {
        const mapped = toEventFlowsError(withCode(code), "appendToStream");
        expect(isServiceError(mapped)).toBe(true);
        expect(mapped).toMatchObject({ serviceCode: code, retryable: expected });
        // In our words: neither the host nor the statement postgres.js's message may name.
        expect(`${(mapped as Error).message} ${String((mapped as Error).cause)}`).not.toMatch(
          /db\.internal|secret_column/,
        );
      }
    }
    expect((toEventFlowsError(withCode("QUEUE_TIMEOUT"), "readAll") as Error).message).toContain("not sent");
    expect((toEventFlowsError(withCode("TLS_HANDSHAKE_FAILED"), "readAll") as Error).message).toContain("TLS");
    expect((toEventFlowsError(withCode("TRANSACTION_ROLLED_BACK"), "readAll") as Error).message).toContain("rolled");
  });

  test("a connection the runtime's permissions refuse (Deno without --allow-net for it) is a ServiceError naming no host", () => {
    for (const name of ["NotCapable", "PermissionDenied"]) {
      const refused = Object.assign(
        new Error('Requires net access to "db.internal.example:5432", run again with the --allow-net flag'),
        { name },
      );
      const mapped = toEventFlowsError(refused, "appendToStream");
      expect(isServiceError(mapped)).toBe(true);
      expect(mapped).toMatchObject({ serviceCode: "NET_ACCESS_REFUSED", retryable: false });
      expect(`${(mapped as Error).message} ${String((mapped as Error).cause)}`).not.toContain("db.internal");
      expect((mapped as Error).message).toContain("--allow-net");
    }
    // Another permission an application's code was refused is the application's error.
    const envRefused = Object.assign(new Error('Requires env access to "HOME"'), { name: "NotCapable" });
    expect(toEventFlowsError(envRefused, "projection")).toBe(envRefused);
  });

  test("a host name that does not resolve is a retryable ServiceError naming neither host nor password", async () => {
    const unresolved = Object.assign(new Error("getaddrinfo ENOTFOUND db.internal"), { code: "ENOTFOUND" });
    expect(toEventFlowsError(unresolved, "readStream")).toMatchObject({
      code: "SERVICE_ERROR",
      serviceCode: "ENOTFOUND",
      retryable: true,
    });
    // Through a store, as an application meets it (.invalid never resolves, RFC 2606): no raw Node error.
    const store = new PostgresEventStore({ url: "postgres://app:pw-secret@db-host.invalid:5432/app" });
    let thrown: unknown;
    try {
      for await (const _ of store.readStream("Cart-1")) break;
    } catch (error) {
      thrown = error;
    } finally {
      await store.close();
    }
    expect(isEventFlowsError(thrown) && isServiceError(thrown)).toBe(true);
    const cause = (thrown as ServiceError).cause;
    const everything = `${String(thrown)} ${JSON.stringify(thrown)} ${String(cause)} ${JSON.stringify(cause)}`;
    for (const leak of ["db-host", "pw-secret"]) expect(everything).not.toContain(leak);
  });

  test("messages and causes carry neither SQL, parameters, detail nor addresses", () => {
    const syntax = toEventFlowsError(serverError("42601", 'syntax error at or near "VALUES ($1)"'), "appendToStream");
    const unique = toEventFlowsError(serverError("23505", "duplicate key", { constraint_name: "events_pkey" }), "x");
    const refused = toEventFlowsError(
      Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" }),
      "x",
    );
    for (const error of [syntax, unique, refused] as ServiceError[]) {
      const cause = error.cause as Record<string, unknown>;
      const everything = `${error.message} ${JSON.stringify(error)} ${String(cause)} ${JSON.stringify(cause)}`;
      for (const leak of ["secret_table", "payload-secret", "VALUES", "10.0.0.1"])
        expect(everything).not.toContain(leak);
    }
    expect((unique as ServiceError).cause).toMatchObject({ code: "23505", constraint_name: "events_pkey" });
  });

  test("any other failure postgres.js tied to a statement is a ServiceError keeping neither its SQL, parameters nor address", () => {
    // postgres.js defines `query` and `parameters` on whatever fails a statement (enumerable with its
    // `debug` option): a socket error of a code not listed, its own refusals of a value, a type's serializer.
    const tied = (error: Error) =>
      Object.defineProperties(error, {
        query: { value: "INSERT INTO secret_table VALUES ($1)", enumerable: true },
        parameters: { value: ["payload-secret"], enumerable: true },
      });
    const cases: [Error, string][] = [
      [Object.assign(new Error("connect EADDRNOTAVAIL 10.0.0.1:5432"), { code: "EADDRNOTAVAIL" }), "EADDRNOTAVAIL"],
      [
        Object.assign(new Error("UNDEFINED_VALUE: Undefined values are not allowed"), { code: "UNDEFINED_VALUE" }),
        "UNDEFINED_VALUE",
      ],
      [new TypeError("cannot serialize payload-secret at 10.0.0.1"), "CLIENT_ERROR"],
    ];
    for (const [raw, serviceCode] of cases) {
      const mapped = toEventFlowsError(tied(raw), "appendToStream");
      expect(isServiceError(mapped)).toBe(true);
      expect(mapped).toMatchObject({ service: "postgres", serviceCode, retryable: false });
      const shown = everythingShown(mapped);
      for (const leak of ["secret_table", "payload-secret", "INSERT", "10.0.0.1"]) expect(shown).not.toContain(leak);
    }
  });

  test("postgres.js's own cancellation (57014 without a server's fields) is a retryable ServiceError 57014, tied to its statement or not", () => {
    // 3.4 rejects a cancelled statement that waited for a connection with it bare; 4.x with the statement.
    const cancelled = () =>
      Object.assign(new Error("57014: canceling statement due to user request"), { code: "57014" });
    const tied = Object.defineProperties(cancelled(), {
      query: { value: "SELECT secret_column FROM secret_table", enumerable: true },
      parameters: { value: ["payload-secret"], enumerable: true },
    });
    for (const raw of [cancelled(), tied]) {
      const mapped = toEventFlowsError(raw, "ping");
      expect(isServiceError(mapped)).toBe(true);
      expect(mapped).toMatchObject({ service: "postgres", serviceCode: "57014", retryable: true });
      expect(isConnectionGone(raw)).toBe(false);
      const shown = everythingShown(mapped);
      for (const leak of ["secret_table", "payload-secret", "SELECT"]) expect(shown).not.toContain(leak);
    }
  });

  test("our own errors and errors from application code pass through unchanged", () => {
    const ours = new ConcurrencyError("s", 1, 2);
    expect(toEventFlowsError(ours, "x")).toBe(ours);
    const handlerBug = new TypeError("cannot read x of undefined");
    expect(toEventFlowsError(handlerBug, "projection")).toBe(handlerBug);
  });
});
