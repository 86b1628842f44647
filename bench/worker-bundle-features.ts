/**
 * Issue 19, item 5: what each feature costs of the DynamoDB Worker (`fixtures/dynamodb-worker.ts`,
 * one append), bundled as `worker-bundle.ts` bundles it. Each feature is removed in turn, at bundling
 * time and never on disk: its modules replaced by stubs that do nothing, or its code emptied (message
 * text, the bodies of check functions), and the gzipped bytes the Worker loses are what it costs. Then
 * all of them at once: what is left is the floor without any of them. The removals are measurements,
 * not working code: a stubbed Worker would not run.
 *   bun bench/worker-bundle-features.ts
 * A removal that no longer applies (a function renamed or moved, a stubbed or transformed file the
 * Worker no longer bundles) fails loudly, and `worker-bundle-features.test.ts` runs this measurement,
 * so that a rename fails a test: update the removal here.
 * Test-only code: Node APIs are fine here.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";
import ts from "typescript";
import { packageEntries, repoRoot } from "../scripts/lib/package-exports.ts";
import { bundleWorkerTemplate, templateDir, WRANGLER_LIKE } from "../worker-template/test/bundle.ts";

const WORKER = join(import.meta.dirname, "fixtures", "dynamodb-worker.ts");

type Transform = (source: string) => string;

/** One feature's removal: modules replaced whole (by path from the package root), or transformed. */
interface Removal {
  readonly stubs?: Readonly<Record<string, string>>;
  readonly transforms?: Readonly<Record<string, Transform>>;
}

/**
 * The Worker's gzipped bytes with `removal` applied (`keepNames` as wrangler sets it, unless told), and
 * the files (from the package root) it loaded.
 */
async function gzipBytes(removal: Removal = {}, keepNames = true): Promise<{ bytes: number; loaded: Set<string> }> {
  const bySpecifier = new Map(packageEntries().map((entry) => [entry.specifier, join(repoRoot, entry.source)]));
  const loaded = new Set<string>();
  const plugin: Plugin = {
    name: "remove-feature",
    setup(builder) {
      builder.onResolve({ filter: /^@eventflows\/core(\/.*)?$/ }, (args) => ({ path: bySpecifier.get(args.path) }));
      builder.onLoad({ filter: /\.ts$/ }, (args) => {
        const file = relative(repoRoot, args.path);
        loaded.add(file);
        const stub = removal.stubs?.[file];
        if (stub !== undefined) return { contents: completeStub(readFileSync(args.path, "utf8"), stub), loader: "ts" };
        const transform = removal.transforms?.[file];
        if (transform === undefined) return undefined;
        return { contents: transform(readFileSync(args.path, "utf8")), loader: "ts" };
      });
    },
  };
  const result = await build({
    ...WRANGLER_LIKE,
    keepNames,
    entryPoints: [WORKER],
    absWorkingDir: templateDir,
    write: false,
    logLevel: "error",
    plugins: [plugin],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("bundling the Worker produced no JavaScript");
  return { bytes: gzipSync(output.contents).byteLength, loaded };
}

/** A stub or transform of a file the Worker no longer loads (moved, renamed) would remove nothing, silently. */
function assertApplies(what: string, removal: Removal, bundled: ReadonlySet<string>): void {
  const stale = [...Object.keys(removal.stubs ?? {}), ...Object.keys(removal.transforms ?? {})].filter(
    (file) => !bundled.has(file),
  );
  if (stale.length > 0) throw new Error(`${what}: the Worker does not bundle ${stale.join(", ")} any more`);
}

/**
 * The stub with every value the original module exports that it does not define itself, as a
 * function that does nothing: the package's barrels re-export them, and esbuild refuses a missing one.
 */
function completeStub(original: string, stub: string): string {
  const exported = (text: string) =>
    new Set(
      [...text.matchAll(/^export (?:abstract )?(?:async )?(?:function\*?|const|let|class) (\w+)/gm)].map(
        (match) => match[1] as string,
      ),
    );
  const defined = exported(stub);
  const missing = [...exported(original)].filter((name) => !defined.has(name));
  return [stub, ...missing.map((name) => `export const ${name}: any = () => undefined;`)].join("\n");
}

function syntaxTree(source: string): ts.SourceFile {
  return ts.createSourceFile("module.ts", source, ts.ScriptTarget.ES2022, true);
}

/** The top-level function `name` with its body replaced by `body`. */
function withBody(name: string, body: string): Transform {
  return (source) => {
    const tree = syntaxTree(source);
    const found = tree.statements.find(
      (statement): statement is ts.FunctionDeclaration =>
        ts.isFunctionDeclaration(statement) && statement.name?.text === name,
    );
    if (found?.body === undefined) throw new Error(`no function ${name} to remove`);
    return `${source.slice(0, found.body.getStart(tree))}{ ${body} }${source.slice(found.body.end)}`;
  };
}

function replacing(from: string, to: string): Transform {
  return (source) => {
    if (!source.includes(from)) throw new Error(`"${from}" is not in the source any more`);
    return source.replace(from, to);
  };
}

function chain(...transforms: Transform[]): Transform {
  return (source) => transforms.reduce((text, transform) => transform(text), source);
}

const isText = (node: ts.Node) =>
  ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node);

/** Every issue's `message`, every error's text arguments and every `super(...)` text argument emptied. */
function withoutMessages(source: string): string {
  const tree = syntaxTree(source);
  const spans: [number, number][] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && node.name.getText(tree) === "message" && isText(node.initializer)) {
      spans.push([node.initializer.getStart(tree), node.initializer.end]);
      return;
    }
    const texts =
      (ts.isNewExpression(node) && /Error$/.test(node.expression.getText(tree))) ||
      (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword)
        ? (node.arguments ?? [])
        : [];
    for (const argument of texts) if (isText(argument)) spans.push([argument.getStart(tree), argument.end]);
    ts.forEachChild(node, visit);
  };
  visit(tree);
  let out = source;
  for (const [start, end] of spans.sort((a, b) => b[0] - a[0])) out = `${out.slice(0, start)}""${out.slice(end)}`;
  return out;
}

const FEED: Removal = {
  stubs: {
    "adapters/dynamodb/commit-log.ts": `export class CommitLog { constructor(..._: any[]) {} }`,
    // The classification the append keeps without the feed, as group-commit.ts has it.
    "adapters/dynamodb/group-commit.ts": `import { AwsServiceError } from "./client.js";
export class GroupCommitter { constructor(..._: any[]) {} }
export function isDefinitiveFailure(error: any): boolean {
  return error instanceof AwsServiceError && (error.attempts === 0 || (error.attempts === 1 && !error.retryable && (error.status ?? 0) < 500));
}`,
  },
  transforms: {
    "adapters/dynamodb/event-store.ts": replacing(
      "const feed = options.globalFeed ?? true;",
      "const feed = false as boolean;",
    ),
  },
};

const TELEMETRY: Removal = {
  stubs: {
    "src/telemetry/metrics.ts": "",
    "src/telemetry/spans.ts": `export const SpanKind: any = {};
export const withActiveSpan = (_span: any, fn: any) => fn();
export const inSpan = (_t: any, _n: any, _k: any, _a: any, fn: any) => fn();`,
    "src/telemetry/propagation.ts": "",
    "src/telemetry/tracer.ts": "",
    "src/telemetry/slow-paths.ts": "",
    "src/telemetry/consumer-spans.ts": `export const processEvent = (_t: any, _e: any, _s: any, _n: any, handle: any) => handle();`,
    "src/telemetry/failures.ts": "",
    "src/telemetry/otel-global.ts": `export const runWithSpan = (_span: any, fn: any, _parent?: any, ...args: any[]) => fn(...args);`,
    "src/telemetry/config.ts": `export const telemetryConfig = () => ({ tracing: false, slowStoreCallMs: false as const });`,
  },
};

const LOGGING: Removal = {
  stubs: {
    "src/logging/library-logger.ts": `const quiet = { debug() {}, info() {}, warn() {}, error() {} };
export const getLogger = () => quiet;
export const eventFields = () => ({});`,
  },
};

const SIGNING: Removal = {
  stubs: {
    "adapters/aws/signing.ts": `export class SigV4Signer { constructor(..._: any[]) {} sign(_method: string, headers: any) { return headers; } }`,
  },
};

/** The client reduced to one signed POST per call: no configuration checks, retries, budget, timeouts or error mapping. */
const AWS_CLIENT: Removal = {
  stubs: {
    "adapters/aws/json-client.ts": `import { amzDate, SigV4Signer } from "./signing.js";
export class AwsJsonClient {
  readonly timeoutMs = 15000; readonly endpoint: string; readonly #env: any; readonly #signer: SigV4Signer;
  constructor(readonly service: any, options: any = {}) {
    this.#env = options.env ?? {};
    this.endpoint = options.endpoint ?? this.#env.AWS_ENDPOINT_URL_DYNAMODB;
    this.#signer = new SigV4Signer(this.endpoint, service.signingName, this.#env.AWS_REGION);
  }
  async send(operation: string, input: unknown): Promise<any> {
    const body = JSON.stringify(input);
    const credentials = { accessKeyId: this.#env.AWS_ACCESS_KEY_ID, secretAccessKey: this.#env.AWS_SECRET_ACCESS_KEY };
    const headers = this.#signer.sign("POST", { "x-amz-target": "DynamoDB_20120810." + operation }, body, credentials, amzDate(Date.now()));
    const response = await fetch(this.endpoint, { method: "POST", headers, body });
    const data = await response.json();
    if (!response.ok) throw new Error(data.__type);
    return data;
  }
}`,
    "adapters/aws/errors.ts": `export class AwsServiceError extends Error { serviceCode = ""; cancellationReasons: any[] = []; attempts = 0; retryable = false; status?: number; }`,
    "adapters/aws/retry.ts": `export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));`,
    "adapters/aws/config.ts": "",
  },
};

/** The error classes as bare subclasses with a code: no fields, no message of their own. */
const ERROR_CLASSES: Removal = {
  stubs: {
    "src/errors.ts": `const BRAND = Symbol.for("eventflows.error");
export class EventFlowsError extends Error { constructor(readonly code: string) { super(); } get [BRAND]() { return true; } }
export const ErrorCode: any = { Concurrency: "CONCURRENCY_CONFLICT", EventCorrupt: "EVENT_CORRUPT" };
export class ConcurrencyError extends EventFlowsError { constructor(..._: any[]) { super("CONCURRENCY_CONFLICT"); } }
export class ValidationError extends EventFlowsError { constructor(..._: any[]) { super("VALIDATION_FAILED"); } }
export class PayloadTooLargeError extends EventFlowsError { constructor(..._: any[]) { super("PAYLOAD_TOO_LARGE"); } }
export class ServiceError extends EventFlowsError { constructor(..._: any[]) { super("SERVICE_ERROR"); } }
export class EventCorruptError extends EventFlowsError { constructor(..._: any[]) { super("EVENT_CORRUPT"); } }
export class StreamDeletedError extends EventFlowsError { constructor(..._: any[]) { super("STREAM_DELETED"); } }
export class StreamDeletionNotSupportedError extends EventFlowsError { constructor(..._: any[]) { super("STREAM_DELETION_NOT_SUPPORTED"); } }
export const isEventFlowsError = (error: unknown) => error instanceof EventFlowsError;
export const isConcurrencyError = (error: unknown) => error instanceof ConcurrencyError;`,
  },
};

/** The shared check helpers answer "fine", and the option, event, JSON and call checks are skipped. */
const CHECKS: Removal = {
  transforms: {
    "src/internal/validate.ts": chain(
      withBody("nameIssues", "return [];"),
      withBody("isName", "return true;"),
      withBody("assertStreamId", ""),
      withBody("assertNonNegativeInteger", ""),
      withBody("assertPositiveInteger", ""),
      withBody("assertDelayMs", ""),
      withBody("functionIssues", "return [];"),
      withBody("assertFunction", ""),
      withBody("objectIssues", "return [];"),
      withBody("assertObject", ""),
      withBody("kindOf", 'return "";'),
    ),
    "src/internal/json.ts": chain(
      withBody("assertMaxJsonDepth", ""),
      withBody("jsonIssues", "return [];"),
      withBody("isFlatJson", "return true;"),
    ),
    "src/events/envelope.ts": withBody("metadataIssues", "return [];"),
    "src/event-store/event-store.ts": chain(
      withBody("storeOptionIssues", "return [];"),
      withBody("assertExpectedVersion", ""),
      withBody("assertRaw", ""),
      withBody("assertReadStreamOptions", ""),
    ),
    "src/event-store/stream-deletion.ts": chain(
      withBody("assertUserStream", ""),
      withBody("assertAppendableStream", ""),
      withBody("assertDeletionMode", ""),
    ),
    "adapters/aws/json-client.ts": chain(
      withBody("requestBody", "return JSON.stringify(input);"),
      withBody("sendOptionIssues", "return [];"),
    ),
    "adapters/aws/config.ts": chain(
      withBody("assertService", ""),
      withBody("credentialIssues", "return [];"),
      withBody("assertString", ""),
    ),
    "adapters/aws/retry.ts": withBody("positiveIntegerIssue", "return [];"),
    "adapters/dynamodb/client.ts": withBody("assertClient", ""),
  },
};

const SUBSCRIPTIONS: Removal = {
  transforms: {
    "src/event-store/event-store.ts": replacing(
      "return startSubscription(source, options as SubscribeToAllOptions, register, expand);",
      "return [source, register, expand] as never;",
    ),
  },
};

/** Several removals as one; a module one of them stubs is not transformed by another. */
function together(...removals: Removal[]): Removal {
  const stubs: Record<string, string> = {};
  const transforms: Record<string, Transform> = {};
  for (const removal of removals) {
    Object.assign(stubs, removal.stubs);
    for (const [file, transform] of Object.entries(removal.transforms ?? {})) {
      const before = transforms[file];
      transforms[file] = before === undefined ? transform : chain(before, transform);
    }
  }
  for (const file of Object.keys(stubs)) delete transforms[file];
  return { stubs, transforms };
}

/** The message text of every file of the Worker's own (the library's files it bundles). */
async function withoutAnyMessage(): Promise<Removal> {
  const bundle = await bundleWorkerTemplate(WORKER);
  const files = bundle.files.map(([file]) => file).filter((file) => /^(src|adapters)\/.*\.ts$/.test(file));
  return { transforms: Object.fromEntries(files.map((file) => [file, withoutMessages])) };
}

/** What the features cost of the Worker's gzipped bytes: each removed in turn, then all at once. */
export interface FeatureCosts {
  readonly whole: number;
  readonly features: readonly (readonly [what: string, bytes: number])[];
  /** The bytes all of the features cost together, and the bytes the Worker has left without them. */
  readonly all: number;
  readonly left: number;
  /** What wrangler's keepNames costs of the whole Worker, and of what is left without the features. */
  readonly keepNames: number;
  readonly keepNamesLeft: number;
}

export async function featureCosts(): Promise<FeatureCosts> {
  const features: [string, Removal][] = [
    ["the AWS client's configuration, retries, budget, timeouts and error mapping (one signed POST kept)", AWS_CLIENT],
    ["telemetry: spans, metrics, trace propagation, slow-call checks, the OpenTelemetry registry", TELEMETRY],
    ["argument checks: options, events, JSON, calls", CHECKS],
    ["the feed: the commit log and group commits (globalFeed off)", FEED],
    ["subscribeToAll: the subscription loop, its options, consumer spans", SUBSCRIPTIONS],
    ["signing: SigV4 and its SHA-256 and HMAC", SIGNING],
    ["message text: issues' and errors'", await withoutAnyMessage()],
    ["logging and redaction: the library logger, the JSON logger", LOGGING],
    ["the error classes: their fields and message templates", ERROR_CLASSES],
  ];
  const { bytes: whole, loaded } = await gzipBytes();
  for (const [what, removal] of features) assertApplies(what, removal, loaded);
  const costs: [string, number][] = [];
  for (const [what, removal] of features) costs.push([what, whole - (await gzipBytes(removal)).bytes]);
  const all = together(...features.map(([, removal]) => removal));
  const left = (await gzipBytes(all)).bytes;
  return {
    whole,
    features: costs,
    all: whole - left,
    left,
    keepNames: whole - (await gzipBytes({}, false)).bytes,
    keepNamesLeft: left - (await gzipBytes(all, false)).bytes,
  };
}

if (import.meta.main) {
  const costs = await featureCosts();
  console.log(`DynamoDB Worker (one append): ${costs.whole} bytes gzipped; what each feature costs of it:`);
  for (const [what, bytes] of costs.features) console.log(`  ${String(bytes).padStart(6)}  ${what}`);
  console.log(`  ${String(costs.all).padStart(6)}  all of them at once, which leaves ${costs.left}`);
  console.log(`wrangler's keepNames: ${costs.keepNames} of the whole Worker, ${costs.keepNamesLeft} of what is left`);
}
