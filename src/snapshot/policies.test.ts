import { describe, expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { allPolicies, anyPolicy, everyNEvents, olderThan, type SnapshotPolicyContext } from "./policies.js";

const context = (overrides: Partial<SnapshotPolicyContext>): SnapshotPolicyContext => ({
  aggregate: {},
  streamId: "S-1",
  version: 10,
  previousVersion: 9,
  events: [],
  lastSnapshotVersion: 0,
  lastSnapshotAt: undefined,
  now: 1_000_000,
  ...overrides,
});

describe("snapshot policies", () => {
  test("everyNEvents counts events since the last snapshot, or since the start when there is none", () => {
    const policy = everyNEvents(10);
    expect(policy(context({ version: 9 }))).toBe(false);
    expect(policy(context({ version: 10 }))).toBe(true);
    expect(policy(context({ version: 25, lastSnapshotVersion: 20 }))).toBe(false);
    expect(policy(context({ version: 31, previousVersion: 25, lastSnapshotVersion: 20 }))).toBe(true);
  });

  test("olderThan fires when the last snapshot is older than the interval, or there is none", () => {
    const policy = olderThan(60_000);
    expect(policy(context({ lastSnapshotAt: undefined }))).toBe(true);
    expect(policy(context({ lastSnapshotVersion: 5, lastSnapshotAt: 1_000_000 - 59_999 }))).toBe(false);
    expect(policy(context({ lastSnapshotVersion: 5, lastSnapshotAt: 1_000_000 - 60_000 }))).toBe(true);
    expect(policy(context({ version: 5, lastSnapshotVersion: 5, lastSnapshotAt: 0 }))).toBe(false);
  });

  test("anyPolicy and allPolicies combine", () => {
    const yes = () => true;
    const no = () => false;
    expect(anyPolicy(no, yes)(context({}))).toBe(true);
    expect(anyPolicy(no, no)(context({}))).toBe(false);
    expect(allPolicies(yes, yes)(context({}))).toBe(true);
    expect(allPolicies(yes, no)(context({}))).toBe(false);
    const busyAndOld = allPolicies(everyNEvents(5), olderThan(1000));
    expect(busyAndOld(context({ version: 4 }))).toBe(false);
    expect(busyAndOld(context({ version: 6 }))).toBe(true);
  });

  test("a member that answers no boolean (an async policy's promise) makes anyPolicy and allPolicies throw, not say yes", () => {
    const asyncNo = (async () => false) as unknown as () => boolean;
    const no = () => false;
    const yes = () => true;
    for (const combined of [anyPolicy(no, asyncNo), allPolicies(asyncNo, yes), allPolicies(yes, (() => 1) as never)]) {
      expect(() => combined(context({}))).toThrow(ValidationError);
    }
    // Members after the deciding one are not asked, as before.
    expect(anyPolicy(yes, asyncNo)(context({}))).toBe(true);
    expect(allPolicies(no, asyncNo)(context({}))).toBe(false);
  });

  test("bad parameters are refused with a ValidationError", () => {
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10"]) {
      expect(() => everyNEvents(n as number)).toThrow(ValidationError);
    }
    for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "1000"]) {
      expect(() => olderThan(ms as number)).toThrow(ValidationError);
    }
    expect(() => anyPolicy()).toThrow(ValidationError);
    expect(() => allPolicies(() => true, "no" as never)).toThrow(ValidationError);
  });
});
