/**
 * Checks the Terraform example without an AWS account: formatting as `terraform fmt -check` judges
 * it (with terraform or tofu when installed, and always with fmt-check/, built on the same hclwrite
 * formatter); the API closed by default (an authorizer on every route, stage throttling, access
 * logs); the table's keys, deletion protection and key; the provider pins; the dead-letter wiring;
 * each function's runtime, role and log group; the saga timer's schedule; and least privilege (the
 * DynamoDB actions are exactly the adapter's list, no wildcard action). `terraform validate` needs the
 * providers from the Terraform registry, which this project's builds cannot reach.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dynamoDbRunTimeActions } from "../../adapters/dynamodb/iam.ts";
import { cacheDir, commandExists, ensureDir } from "../../test/services/common.ts";
import { ACCESS_LOG_FIELDS, DEFAULT_THROTTLE, tableKeyActions } from "../aws-cdk/lib/settings.ts";
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

/** Every block that opens with `header` (a regex source) in `text`, from its header to its closing brace. */
function blocks(header: string, text = all): string[] {
  const result: string[] = [];
  const pattern = new RegExp(`${header}\\s*\\{`, "g");
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    let depth = 0;
    for (let i = match.index; i < text.length; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}" && --depth === 0) {
        result.push(text.slice(match.index, i + 1));
        break;
      }
    }
  }
  return result;
}

/** The one block that opens with `header`. */
function block(header: string, text = all): string {
  const found = blocks(header, text);
  expect({ header, count: found.length }).toEqual({ header, count: 1 });
  return found[0] as string;
}

/** The `statement { ... }` blocks of the policy documents, with their sid, effect and actions. */
function statements(): { sid: string | undefined; effect: string; actions: string[] }[] {
  return blocks("statement").map((text) => {
    const effect = /effect\s*=\s*"(\w+)"/.exec(text)?.[1] ?? "Allow";
    const list = /actions\s*=\s*\[([^\]]*)\]/.exec(text)?.[1] ?? "";
    const sid = /sid\s*=\s*"(\w+)"/.exec(text)?.[1];
    return { sid, effect, actions: [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string) };
  });
}

/** A variable's default, as written. */
function defaultOf(name: string): string | undefined {
  return /default\s*=\s*(.+)/.exec(block(`variable "${name}"`))?.[1]?.trim();
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

  test("the table has the DynamoDB adapter's keys, no index, PITR, deletion protection and an optional customer-managed key", () => {
    const table = block('resource "aws_dynamodb_table" "events"');
    expect(table).toMatch(/hash_key\s+= "pk"/);
    expect(table).toMatch(/range_key\s+= "sk"/);
    expect(table).toMatch(/name = "pk"\s+type = "S"/);
    expect(table).toMatch(/name = "sk"\s+type = "N"/);
    expect(table).not.toContain("global_secondary_index");
    expect(table).toMatch(/point_in_time_recovery \{\s+enabled = true/);
    expect(table).toMatch(/deletion_protection_enabled\s+= var\.deletion_protection\n/);
    expect(defaultOf("deletion_protection")).toBe("true");
    expect(table).toMatch(
      /server_side_encryption \{\s+enabled\s+= var\.customer_managed_key\s+kms_key_arn = var\.customer_managed_key \? aws_kms_key\.table\[0\]\.arn : null/,
    );
    expect(defaultOf("customer_managed_key")).toBe("false");
    const key = block('resource "aws_kms_key" "table"');
    expect(key).toMatch(/count\s+= var\.customer_managed_key \? 1 : 0/);
    expect(key).toMatch(/enable_key_rotation\s+= true/);
  });

  test("the HTTP API is closed: every route needs IAM, or the JWT authorizer when an issuer is set", () => {
    expect(all).not.toMatch(/authorization_type\s*=\s*"NONE"/);
    const routes = block('resource "aws_apigatewayv2_route" "api"');
    expect(routes).toContain(
      'for_each           = toset(["POST /commands/{type}", "GET /queries/{type}", "POST /queries/{type}"])',
    );
    expect(routes).toMatch(/authorization_type = local\.jwt \? "JWT" : "AWS_IAM"\n/);
    expect(routes).toMatch(/authorizer_id\s+= local\.jwt \? aws_apigatewayv2_authorizer\.jwt\[0\]\.id : null\n/);
    expect(hcl["http-api.tf"]).toMatch(/jwt = var\.jwt_issuer != null\n/);
    expect(defaultOf("jwt_issuer")).toBe("null");
    expect(blocks('resource "aws_apigatewayv2_route" "\\w+"')).toHaveLength(1);
    const authorizer = block('resource "aws_apigatewayv2_authorizer" "jwt"');
    expect(authorizer).toMatch(/count\s+= local\.jwt \? 1 : 0/);
    expect(authorizer).toMatch(/authorizer_type\s+= "JWT"/);
    expect(authorizer).toMatch(/identity_sources = \["\$request\.header\.Authorization"\]/);
    expect(authorizer).toMatch(/jwt_configuration \{\s+issuer\s+= var\.jwt_issuer\s+audience = var\.jwt_audience\s+\}/);
    expect(authorizer).toMatch(/condition\s+= length\(var\.jwt_audience\) > 0/);
  });

  test("the stage throttles and writes the same JSON access log line as the CDK stack", () => {
    const stage = block('resource "aws_apigatewayv2_stage" "default"');
    expect(stage).toMatch(
      /default_route_settings \{\s+throttling_rate_limit\s+= var\.throttle_rate_limit\s+throttling_burst_limit = var\.throttle_burst_limit\s+\}/,
    );
    expect(Number(defaultOf("throttle_rate_limit"))).toBe(DEFAULT_THROTTLE.rateLimit);
    expect(Number(defaultOf("throttle_burst_limit"))).toBe(DEFAULT_THROTTLE.burstLimit);
    const logs = block("access_log_settings", stage);
    expect(logs).toMatch(/destination_arn = aws_cloudwatch_log_group\.api_access\.arn/);
    const format = Object.fromEntries(
      [...(/jsonencode\(\{([^}]*)\}\)/.exec(logs)?.[1] ?? "").matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    expect(format).toEqual(ACCESS_LOG_FIELDS);
    expect(block('resource "aws_cloudwatch_log_group" "api_access"')).toMatch(/retention_in_days = 30/);
  });

  test("providers pinned to one minor line, and the lock file terraform init writes is not ignored", () => {
    const versions = hcl["versions.tf"] ?? "";
    const pins = [...versions.matchAll(/source\s*=\s*"([^"]+)"\s+version\s*=\s*"([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(pins).toEqual([
      ["hashicorp/aws", "~> 5.100.0"],
      ["hashicorp/archive", "~> 2.7.1"],
    ]);
    const ignored = readFileSync(join(here, ".gitignore"), "utf8").split("\n");
    expect(ignored).not.toContain(".terraform.lock.hcl");
    expect(ignored).toContain(".terraform/");
  });

  test("dead letters: the rule target's DLQ, the consumer queue's redrive, partial batch responses", () => {
    const messaging = hcl["messaging.tf"] ?? "";
    expect(messaging).toMatch(/dead_letter_config \{\s+arn = aws_sqs_queue\.publish_dead_letters\.arn/);
    expect(messaging).toMatch(
      /deadLetterTargetArn = aws_sqs_queue\.consumer_dead_letters\.arn\s+maxReceiveCount\s+= 5\n/,
    );
    // The rule retries for 24 hours, 185 attempts; the queue hides a message six times the consumer's timeout.
    expect(block("retry_policy", block('resource "aws_cloudwatch_event_target" "queue"'))).toMatch(
      /maximum_event_age_in_seconds = 86400\s+maximum_retry_attempts\s+= 185\n/,
    );
    const consumerTimeout = Number(/timeout\s+= (\d+)/.exec(block('resource "aws_lambda_function" "consumer"'))?.[1]);
    expect(block('resource "aws_sqs_queue" "events"')).toContain(
      `visibility_timeout_seconds = ${6 * consumerTimeout}\n`,
    );
    expect(block('resource "aws_dynamodb_table" "events"')).toMatch(/billing_mode\s+= "PAY_PER_REQUEST"/);
    expect(hcl["functions.tf"]).toContain('function_response_types            = ["ReportBatchItemFailures"]');
    expect(hcl["functions.tf"]).toContain("EVENTFLOWS_PUBLISH_DLQ_URL = aws_sqs_queue.publish_dead_letters.url");
    expect(hcl["http-api.tf"]).toContain('payload_format_version = "2.0"');
  });

  test("least privilege: only the TLS-only deny names a wildcard action; the API gets what the adapters document", () => {
    const found = statements();
    expect(found.length).toBeGreaterThan(5);
    for (const statement of found) {
      if (statement.actions.some((action) => action.includes("*"))) {
        expect(statement).toEqual({ sid: "TlsOnly", effect: "Deny", actions: ["sqs:*"] });
      }
    }
    const bySid = (sid: string) => found.find((s) => s.sid === sid)?.actions;
    // The DynamoDB actions are the adapter's own lists (adapters/dynamodb/iam.ts): the event store's
    // for the API, the saga store's for the consumer and the saga timer, and no other.
    expect(bySid("EventStore")).toEqual(dynamoDbRunTimeActions(["eventStore"]));
    const sagaStatements = found.filter((s) => s.sid === "SagaStore");
    expect(sagaStatements.map((s) => s.actions)).toEqual([
      dynamoDbRunTimeActions(["sagaStore"]),
      dynamoDbRunTimeActions(["sagaStore"]),
    ]);
    const dynamo = found.filter((s) => s.actions.some((a) => a.startsWith("dynamodb:")));
    expect(dynamo.map((s) => s.sid).sort()).toEqual(["EventStore", "SagaStore", "SagaStore"]);
    for (const role of ["consumer", "saga_timer"]) {
      expect(block(`data "aws_iam_policy_document" "${role}"`)).toMatch(
        /sid = "SagaStore"[^}]*resources = \[aws_dynamodb_table\.events\.arn\]/,
      );
    }
    // With a customer-managed key, the saga store's functions may use it as the API does.
    expect(block('resource "aws_iam_role_policy" "saga_table_key"')).toMatch(
      /name => role if var\.customer_managed_key[\s\S]*policy = data\.aws_iam_policy_document\.api_table_key\[0\]\.json/,
    );
    expect(bySid("TableKey")).toEqual([...tableKeyActions]);
    expect(bySid("Publish")).toEqual(["events:PutEvents"]);
    expect(bySid("DeadLetters")).toEqual(["sqs:SendMessage"]);
    expect(bySid("ReadQueue")).toEqual([
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]);
    // The key may be used only through DynamoDB.
    expect(block('data "aws_iam_policy_document" "api_table_key"')).toMatch(
      /condition \{\s+test\s+= "StringEquals"\s+variable = "kms:ViaService"\s+values\s+= \["dynamodb\.\$\{var\.region\}\.amazonaws\.com"\]/,
    );
  });

  test("the consumer gets the table its saga store needs; EventBridge Scheduler invokes the saga timer every minute", () => {
    // functions/consumer.ts starts the follow-up saga in EVENTFLOWS_TABLE: without it every OrderPlaced fails.
    for (const fn of ["consumer", "saga_timer"]) {
      expect(block(`resource "aws_lambda_function" "${fn}"`)).toMatch(
        /EVENTFLOWS_TABLE\s+= aws_dynamodb_table\.events\.name/,
      );
    }
    expect(block('resource "aws_lambda_function" "saga_timer"')).toContain(
      'filename         = data.archive_file.function["saga-timer"].output_path',
    );
    const schedule = block('resource "aws_scheduler_schedule" "saga_timer"');
    expect(schedule).toMatch(/schedule_expression = "rate\(1 minute\)"/);
    expect(schedule).toMatch(/arn\s+= aws_lambda_function\.saga_timer\.arn/);
    expect(schedule).toMatch(/role_arn = aws_iam_role\.saga_timer_scheduler\.arn/);
    expect(block('data "aws_iam_policy_document" "scheduler_assume"')).toContain(
      'identifiers = ["scheduler.amazonaws.com"]',
    );
    // The schedule's role may invoke that one function, nothing else.
    expect(block('data "aws_iam_policy_document" "saga_timer_scheduler"')).toMatch(
      /actions\s+= \["lambda:InvokeFunction"\]\s+resources = \[aws_lambda_function\.saga_timer\.arn\]/,
    );
  });

  test("every function: Node 22 on arm64, its own bundle, role and log group, and logs only to that group", () => {
    const functions = { api: "api", consumer: "consumer", saga_timer: "saga-timer" };
    expect(blocks('resource "aws_lambda_function" "\\w+"')).toHaveLength(3);
    for (const [fn, bundle] of Object.entries(functions)) {
      const lambda = block(`resource "aws_lambda_function" "${fn}"`);
      expect(lambda).toMatch(/runtime\s+= "nodejs22\.x"\n/);
      expect(lambda).toMatch(/architectures\s+= \["arm64"\]\n/);
      expect(lambda).toMatch(/handler\s+= "index\.handler"\n/);
      expect(lambda).toContain(`filename         = data.archive_file.function["${bundle}"].output_path`);
      expect(lambda).toContain(`source_code_hash = data.archive_file.function["${bundle}"].output_base64sha256`);
      expect(lambda).toContain(`role             = aws_iam_role.${fn}.arn`);
      expect(lambda).toMatch(
        new RegExp(
          `logging_config \\{\\s+log_format = "Text"\\s+log_group  = aws_cloudwatch_log_group\\.function\\["${bundle}"\\]\\.name`,
        ),
      );
      expect(block(`resource "aws_iam_role" "${fn}"`)).toContain(
        "assume_role_policy = data.aws_iam_policy_document.lambda_assume.json",
      );
      expect(block(`resource "aws_iam_role_policy" "${fn}"`)).toContain(
        `policy = data.aws_iam_policy_document.${fn}.json`,
      );
      expect(block(`data "aws_iam_policy_document" "${fn}"`)).toMatch(
        new RegExp(
          `sid\\s+= "Logs"\\s+actions\\s+= \\["logs:CreateLogStream", "logs:PutLogEvents"\\]\\s+resources = \\["\\$\\{aws_cloudwatch_log_group\\.function\\["${bundle}"\\]\\.arn\\}:\\*"\\]`,
        ),
      );
    }
    // The functions' own policies and the table key's: no managed policy, no other attachment.
    expect(all).not.toContain("aws_iam_role_policy_attachment");
    expect(all).not.toContain("managed_policy_arns");
    const assumedBy = [...all.matchAll(/identifiers = \["([\w.]+\.amazonaws\.com)"\]/g)].map((m) => m[1]).sort();
    expect(assumedBy).toEqual(["events.amazonaws.com", "lambda.amazonaws.com", "scheduler.amazonaws.com"]);
    // The schedule fires at the minute, with its own role, whose one policy is the invoke statement.
    const schedule = block('resource "aws_scheduler_schedule" "saga_timer"');
    expect(schedule).toMatch(/flexible_time_window \{\s+mode = "OFF"\s+\}/);
    expect(block('resource "aws_iam_role" "saga_timer_scheduler"')).toContain(
      "assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json",
    );
    const schedulerPolicies = blocks('resource "aws_iam_role_policy" "\\w+"').filter((p) =>
      p.includes("aws_iam_role.saga_timer_scheduler"),
    );
    expect(schedulerPolicies).toHaveLength(1);
    expect(schedulerPolicies[0]).toContain("policy = data.aws_iam_policy_document.saga_timer_scheduler.json");
  });

  test("the build script bundles the three functions", () => {
    const out = mkdtempSync(join(tmpdir(), "eventflows-tf-build-"));
    const dirs = buildFunctions(out);
    expect(dirs.map((dir) => existsSync(join(dir, "index.mjs")))).toEqual([true, true, true]);
  }, 60_000);
});
