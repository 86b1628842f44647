import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { correlationFrom, normalizeTraceparent } from "./correlation.js";

const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(value);

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe("correlationFrom", () => {
  test("takes the caller's correlation header, and keeps a valid traceparent beside it", () => {
    expect(correlationFrom(new Headers({ "x-correlation-id": "order-42" }))).toEqual({ correlationId: "order-42" });
    expect(
      correlationFrom(new Headers({ "x-correlation-id": "order-42", traceparent: TRACEPARENT, tracestate: "a=1" })),
    ).toEqual({ correlationId: "order-42", traceparent: TRACEPARENT, tracestate: "a=1" });
  });

  test("falls back to the trace id of a W3C traceparent", () => {
    expect(correlationFrom(new Headers({ traceparent: TRACEPARENT }))).toEqual({
      correlationId: TRACE_ID,
      traceparent: TRACEPARENT,
    });
  });

  test("makes a fresh UUID when the request has neither", () => {
    expect(isUuid(correlationFrom(new Headers()).correlationId)).toBe(true);
    expect(isUuid(correlationFrom(new Headers({ "x-correlation-id": "   " })).correlationId)).toBe(true);
  });

  test("honours another header name", () => {
    expect(correlationFrom(new Headers({ "x-request-id": "r-1" }), "x-request-id").correlationId).toBe("r-1");
  });

  test("ignores an invalid traceparent, as W3C Trace Context asks", () => {
    for (const bad of [
      "garbage",
      `ff-${TRACE_ID}-00f067aa0ba902b7-01`,
      `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
      `00-${TRACE_ID}-${"0".repeat(16)}-01`,
      `00-${TRACE_ID}-00f067aa0ba902b7-01-extra`,
    ]) {
      const correlation = correlationFrom(new Headers({ traceparent: bad }));
      expect(correlation.traceparent).toBeUndefined();
      expect(isUuid(correlation.correlationId)).toBe(true);
    }
  });

  test("refuses a correlation id that is too long, not visible ASCII, or holds a comma (a header sent twice, as API Gateway joins it), naming the header", () => {
    for (const bad of ["x".repeat(129), "has space", "naïve", "a,b", "a, b"]) {
      try {
        correlationFrom(new Headers({ "x-correlation-id": bad }));
        throw new Error("accepted");
      } catch (error) {
        expect((error as { code?: string }).code).toBe("VALIDATION_FAILED");
        expect((error as { issues: { path: string[] }[] }).issues[0]?.path).toEqual(["headers", "x-correlation-id"]);
      }
    }
  });
});

describe("trace context is bounded and normalised", () => {
  test("a later version is read by its first fields and kept as version 00; what it appends is dropped", () => {
    const later = `cc-${TRACE_ID}-00f067aa0ba902b7-01-${"x".repeat(12_000)}`;
    expect(correlationFrom(new Headers({ traceparent: later.slice(0, 500) })).traceparent).toBe(TRACEPARENT);
    expect(normalizeTraceparent(`cc-${TRACE_ID}-00f067aa0ba902b7-01`)).toBe(TRACEPARENT);
    // Too long to read at all, or a later version whose fields run on without a dash.
    expect(normalizeTraceparent(later)).toBeUndefined();
    expect(normalizeTraceparent(`cc-${TRACE_ID}-00f067aa0ba902b7-01x`)).toBeUndefined();
    // Blanks around it are the header's, not the value's.
    expect(normalizeTraceparent(` ${TRACEPARENT} `)).toBe(TRACEPARENT);
  });

  test("an uppercase traceparent is ignored, as W3C asks (its ids are lowercase hex): the request gets a trace of its own", () => {
    const upper = `00-${TRACE_ID.toUpperCase()}-00F067AA0BA902B7-01`;
    expect(normalizeTraceparent(upper)).toBeUndefined();
    expect(normalizeTraceparent(`00-${TRACE_ID}-00F067AA0BA902B7-01`)).toBeUndefined();
    const taken = correlationFrom(new Headers({ traceparent: upper }));
    expect(taken.traceparent).toBeUndefined();
    expect(taken.correlationId).not.toBe(TRACE_ID);
  });

  test("a tracestate that is too long or not printable ASCII is dropped", () => {
    const keep = correlationFrom(new Headers({ traceparent: TRACEPARENT, tracestate: "a=1,b=2" }));
    expect(keep.tracestate).toBe("a=1,b=2");
    for (const tracestate of ["a=".padEnd(513, "x"), "a=\u00e9", "a=1\u0007"]) {
      expect(correlationFrom(new Headers({ traceparent: TRACEPARENT, tracestate })).tracestate).toBeUndefined();
    }
  });

  test("property: whatever the header holds, what is kept is a 55-character version-00 traceparent", () => {
    const hexish = fc.string({ unit: fc.constantFrom("0", "a", "f", "F", "9", "-", "x", " "), maxLength: 80 });
    const near = fc
      .tuple(fc.constantFrom("00", "01", "cc", "ff", "0g"), hexish)
      .map(([version, rest]) => `${version}-${TRACE_ID}-00f067aa0ba902b7-01${rest}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 120 }), hexish, near), (value) => {
        const kept = normalizeTraceparent(value);
        if (kept !== undefined) expect(kept).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      }),
      { numRuns: 2000 },
    );
  });

  test("trust: false ignores the caller's ids", () => {
    const headers = new Headers({ "x-correlation-id": "forged", traceparent: TRACEPARENT });
    const correlation = correlationFrom(headers, "x-correlation-id", false);
    expect(isUuid(correlation.correlationId)).toBe(true);
    expect(correlation.traceparent).toBeUndefined();
  });
});
