/**
 * Checks the Terraform example without an AWS account: formatting as `terraform fmt -check` judges
 * it (with terraform or tofu when installed, and always with fmt-check/, built on the same hclwrite
 * formatter), the table's keys, the dead-letter wiring, and that no policy allows a wildcard action.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir, commandExists, ensureDir } from "../../test/services/common.ts";
import { buildFunctions } from "./build.ts";

const here = import.meta.dirname;
const files = readdirSync(here).filter((name) => name.endsWith(".tf"));
const hcl = Object.fromEntries(files.map((name) => [name, readFileSync(join(here, name), "utf8")]));
const all = Object.values(hcl).join("\n");

/** Builds fmt-check with the Go toolchain into .cache (Go's build cache makes rebuilds quick). */
function fmtCheckBinary(): string {
  if (!commandExists("go")) {
    throw new Error(
      "the Go toolchain is missing: fmt-check (terraform fmt's formatter, hclwrite) needs it; install Go or put terraform on PATH",
    );
  }
  const output = join(ensureDir(join(cacheDir, "terraform-fmt-check")), "fmt-check");
  const built = spawnSync("go", ["build", "-o", output, "."], {
    cwd: join(here, "fmt-check"),
    encoding: "utf8",
    env: { ...process.env, GOFLAGS: "-mod=mod" },
  });
  if (built.status !== 0) {
    throw new Error(`go build of fmt-check failed (is the Go module proxy reachable?): ${built.stderr}`);
  }
  return output;
}

/** The `statement { ... }` blocks of the policy documents, with their effect and actions. */
function statements(): { effect: string; actions: string[] }[] {
  const result: { effect: string; actions: string[] }[] = [];
  const pattern = /statement \{/g;
  for (let match = pattern.exec(all); match !== null; match = pattern.exec(all)) {
    let depth = 0;
    let end = match.index;
    for (let i = match.index; i < all.length; i++) {
      if (all[i] === "{") depth++;
      else if (all[i] === "}" && --depth === 0) {
        end = i;
        break;
      }
    }
    const block = all.slice(match.index, end);
    const effect = /effect\s*=\s*"(\w+)"/.exec(block)?.[1] ?? "Allow";
    const list = /actions\s*=\s*\[([^\]]*)\]/.exec(block)?.[1] ?? "";
    result.push({ effect, actions: [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string) });
  }
  return result;
}

describe("examples/terraform", () => {
  test("every file is formatted as terraform fmt -check wants it", () => {
    const checker = spawnSync(fmtCheckBinary(), ["."], { cwd: here, encoding: "utf8" });
    expect({ status: checker.status, unformatted: checker.stdout.trim(), errors: checker.stderr.trim() }).toEqual({
      status: 0,
      unformatted: "",
      errors: "",
    });
    for (const binary of ["terraform", "tofu"].filter(commandExists)) {
      const real = spawnSync(binary, ["fmt", "-check", "-recursive"], { cwd: here, encoding: "utf8" });
      expect({ binary, status: real.status, out: real.stdout.trim() }).toEqual({ binary, status: 0, out: "" });
    }
  }, 300_000);

  test("the checker finds a misformatted file", () => {
    const dir = mkdtempSync(join(tmpdir(), "eventflows-tf-"));
    writeFileSync(join(dir, "main.tf"), 'resource "a" "b" {\n  x = 1\n  long_name = 2\n}\n');
    const checker = spawnSync(fmtCheckBinary(), [dir], { encoding: "utf8" });
    expect(checker.status).toBe(3);
    expect(checker.stdout).toContain("main.tf");
  }, 300_000);

  test("the table has the DynamoDB adapter's keys and no index", () => {
    const table = hcl["storage.tf"] ?? "";
    expect(table).toMatch(/hash_key\s+= "pk"/);
    expect(table).toMatch(/range_key\s+= "sk"/);
    expect(table).toMatch(/name = "pk"\s+type = "S"/);
    expect(table).toMatch(/name = "sk"\s+type = "N"/);
    expect(table).not.toContain("global_secondary_index");
  });

  test("dead letters: the rule target's DLQ, the consumer queue's redrive, partial batch responses", () => {
    const messaging = hcl["messaging.tf"] ?? "";
    expect(messaging).toMatch(/dead_letter_config \{\s+arn = aws_sqs_queue\.publish_dead_letters\.arn/);
    expect(messaging).toMatch(/deadLetterTargetArn = aws_sqs_queue\.consumer_dead_letters\.arn/);
    expect(hcl["functions.tf"]).toContain('function_response_types            = ["ReportBatchItemFailures"]');
    expect(hcl["functions.tf"]).toContain("EVENTFLOWS_PUBLISH_DLQ_URL = aws_sqs_queue.publish_dead_letters.url");
    expect(hcl["http-api.tf"]).toContain('payload_format_version = "2.0"');
  });

  test("least privilege: only the TLS-only deny names a wildcard action; the API gets what the adapters document", () => {
    const found = statements();
    expect(found.length).toBeGreaterThan(5);
    for (const statement of found) {
      if (statement.actions.some((action) => action.includes("*"))) {
        expect(statement).toEqual({ effect: "Deny", actions: ["sqs:*"] });
      }
    }
    const granted = new Set(found.filter((s) => s.effect === "Allow").flatMap((s) => s.actions));
    for (const action of [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "dynamodb:TransactWriteItems",
      "dynamodb:ConditionCheckItem",
      "events:PutEvents",
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
    ]) {
      expect(granted.has(action)).toBe(true);
    }
    expect([...granted].filter((a) => a.startsWith("dynamodb:")).length).toBe(6);
  });

  test("the build script bundles both functions", () => {
    const out = mkdtempSync(join(tmpdir(), "eventflows-tf-build-"));
    const dirs = buildFunctions(out);
    expect(dirs.map((dir) => existsSync(join(dir, "index.mjs")))).toEqual([true, true]);
  }, 60_000);
});
