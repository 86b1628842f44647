import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "../../src/index.js";
import { formatReport, runDemo } from "./demo.js";
import { CartsReadModel } from "./read-model.js";

const report = await runDemo();
const failed = report.commands.filter((c) => !c.outcome.ok);
const [ada, grace] = report.carts;

describe("shopping-cart demo", () => {
  test("sends ten commands: eight succeed, the bad input and the late add are rejected with typed errors", () => {
    expect(report.commands).toHaveLength(10);
    expect(failed.map((c) => c.note)).toEqual(["untrusted input", "after checkout"]);
    const [invalid, late] = failed.map((c) => c.outcome);
    if (invalid?.ok !== false || late?.ok !== false) throw new Error("expected two failures");
    expect(invalid.error.name).toBe("ValidationError");
    expect(invalid.error.code).toBe(ErrorCode.Validation);
    expect(invalid.issues.map((issue) => issue.path)).toEqual([["cartId"], ["sku"], ["quantity"]]);
    expect(late.error).toMatchObject({ name: "CartRuleError", code: "CART_RULE_VIOLATED" });
    expect(late.error.message).toContain("already checked out");
  });

  test("the concurrent add conflicts once and the retry lands it at the next version", () => {
    expect(report.conflicts).toHaveLength(1);
    expect(report.conflicts[0]).toMatchObject({ command: "AddItem", expectedVersion: 2, actualVersion: 3 });
    const concurrent = report.commands.filter((c) => c.note === "sent concurrently");
    expect(concurrent.map((c) => c.outcome)).toEqual([
      { ok: true, result: { version: 3 } },
      { ok: true, result: { version: 4 } },
    ]);
  });

  test("stores eight events in order, each carrying its session's correlation and its command as causation", () => {
    expect(report.events.map((e) => `${e.version} ${e.type}`)).toEqual([
      "1 CartOpened",
      "2 ItemAdded",
      "3 ItemAdded",
      "4 ItemAdded",
      "5 ItemRemoved",
      "6 CartCheckedOut",
      "1 CartOpened",
      "2 ItemAdded",
    ]);
    expect(report.events.map((e) => e.globalPosition)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(report.events.map((e) => e.metadata.correlationId)).toEqual([
      ...Array(6).fill("session-ada"),
      ...Array(2).fill("session-grace"),
    ]);
    const causations = new Set(report.events.map((e) => e.metadata.causationId));
    expect(causations.size).toBe(8);
    // Rejected commands wrote nothing: the only events after the checkout belong to the other cart.
    expect(report.events.slice(6).every((e) => e.streamId !== report.events[0]?.streamId)).toBe(true);
  });

  test("the read model holds both carts with their totals, and agrees with a replay of the store", () => {
    expect(ada).toMatchObject({ customerId: "ada", status: "checked-out", itemCount: 3, totalCents: 4300, version: 6 });
    expect(ada?.lines).toEqual([
      { sku: "TEA-001", quantity: 2, unitPriceCents: 1250 },
      { sku: "MUG-002", quantity: 1, unitPriceCents: 1800 },
    ]);
    expect(grace).toMatchObject({ customerId: "grace", status: "open", itemCount: 1, totalCents: 5400, version: 2 });
    expect(report.openCarts.map((cart) => cart.customerId)).toEqual(["grace"]);
    const replayed = new CartsReadModel();
    for (const event of report.events) replayed.apply(event);
    expect(replayed.list()).toEqual([...report.carts]);
  });

  test("the command bus counted every execution and failure per type", () => {
    const stats = Object.fromEntries(report.commandStats.map((s) => [s.type, [s.executions, s.failures]]));
    expect(stats).toEqual({ OpenCart: [2, 0], AddItem: [6, 2], RemoveItem: [1, 0], CheckOut: [1, 0] });
    expect(report.log).toHaveLength(10);
    expect(report.log.filter((line) => line.includes("failed"))).toEqual([
      "command AddItem failed: VALIDATION_FAILED",
      "command AddItem failed: CART_RULE_VIOLATED",
    ]);
  });

  test("prints each section", () => {
    const text = formatReport(report).join("\n");
    expect(text).toContain("Commands sent (10)");
    expect(text).toContain("          quantity: quantity must be at least 1");
    expect(text).toContain("Concurrency conflicts retried by retryOnConcurrency (1)");
    expect(text).toContain("Events stored, in global order (8)");
    expect(text).toContain(`${ada?.cartId} ada: checked-out, 3 item(s), $43.00, at v6`);
    expect(text).toContain("open carts: grace");
  });
});

describe("main.ts arguments", () => {
  const main = join(import.meta.dirname, "main.ts");

  test("anything but `--db <file>` is refused with the usage and exit 2, and nothing runs in memory instead", () => {
    const dir = mkdtempSync(join(tmpdir(), "eventflows-demo-args-"));
    try {
      const file = join(dir, "shop.db");
      const refused = [
        [`--db=${file}`],
        ["--bd", file],
        ["--db"],
        ["--db", ""],
        ["--db", "--verbose"],
        ["--db", file, "extra"],
      ];
      for (const args of refused) {
        const run = spawnSync(process.execPath, [main, ...args], { encoding: "utf8" });
        expect({ args, status: run.status, stdout: run.stdout }).toEqual({ args, status: 2, stdout: "" });
        expect(run.stderr).toContain("usage: npm run demo [-- --db <file.db>]");
      }
      expect(existsSync(file)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file SQLite cannot open (a folder, a missing folder) is one line on stderr and exit 1, not a stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "eventflows-demo-args-"));
    try {
      for (const path of [dir, join(dir, "missing", "shop.db")]) {
        const run = spawnSync(process.execPath, [main, "--db", path], { encoding: "utf8" });
        expect({ path, status: run.status, stdout: run.stdout }).toEqual({ path, status: 1, stdout: "" });
        const lines = run.stderr.trim().split("\n");
        const start = `--db ${path}: SQLite cannot open it (`;
        expect({ lines: lines.length, start: lines[0]?.slice(0, start.length) }).toEqual({ lines: 1, start });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
