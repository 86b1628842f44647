/**
 * Our own Lambda runtime client: the loop a Node function runs inside a Lambda execution
 * environment, speaking the Runtime API (AWS "Custom runtime API", 2018-06-01) to RIE:
 *   GET  /2018-06-01/runtime/invocation/next             waits for an event (long poll)
 *   POST /2018-06-01/runtime/invocation/{id}/response    the handler's result
 *   POST /2018-06-01/runtime/invocation/{id}/error       the handler threw
 *   POST /2018-06-01/runtime/init/error                  the module could not load
 * It stands in for AWS's `aws-lambda-ric` from npm, whose native part (a bundled curl and
 * aws-lambda-cpp, built by autotools and cmake at install) does not build on these machines.
 * Like Lambda's Node runtime it loads the handler module once (the cold start: module-level code
 * runs here), then calls the exported function once per event with `(event, context)`.
 *
 * Not run directly: test/lambda/run.ts bundles it to bootstrap.mjs; RIE starts
 * `node bootstrap.mjs` with `_HANDLER=<file>.<export>` and `LAMBDA_TASK_ROOT`.
 */
import { Agent, request } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function call(
  method: "GET" | "POST",
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `http://${api}/2018-06-01/runtime${path}`,
      { method, agent, headers: body === undefined ? headers : { ...headers, "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Lambda's error shape: what the invoker receives as the function error. */
function errorBody(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({ errorType: e.name, errorMessage: e.message, stackTrace: (e.stack ?? "").split("\n") });
}

type Handler = (event: unknown, context: LambdaContext) => unknown;

interface LambdaContext {
  readonly awsRequestId: string;
  readonly invokedFunctionArn: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

async function loadHandler(): Promise<Handler> {
  const spec = process.env._HANDLER ?? "";
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) throw new Error(`_HANDLER must be <module>.<export>, got ${JSON.stringify(spec)}`);
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const module = (await import(pathToFileURL(join(root, `${spec.slice(0, dot)}.mjs`)).href)) as Record<string, unknown>;
  const handler = module[spec.slice(dot + 1)];
  if (typeof handler !== "function") throw new Error(`${spec} is not an exported function`);
  return handler as Handler;
}

function header(reply: Reply, name: string): string {
  const value = reply.headers[name];
  return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
}

async function main(): Promise<void> {
  if (api === undefined) throw new Error("AWS_LAMBDA_RUNTIME_API is not set: run this under RIE or Lambda");
  let handler: Handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    await call("POST", "/init/error", errorBody(error), {
      "lambda-runtime-function-error-type": "Runtime.ImportModuleError",
    });
    throw error;
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    if (next.status !== 200) throw new Error(`GET /invocation/next answered ${next.status}: ${next.body}`);
    const id = header(next, "lambda-runtime-aws-request-id");
    const deadline = Number(header(next, "lambda-runtime-deadline-ms"));
    const trace = header(next, "lambda-runtime-trace-id");
    if (trace !== "") process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const context: LambdaContext = {
      awsRequestId: id,
      invokedFunctionArn: header(next, "lambda-runtime-invoked-function-arn"),
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "",
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? "$LATEST",
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "",
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? "",
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? "",
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let outcome: { path: string; body: string; headers: Record<string, string> };
    try {
      const result = await handler(next.body === "" ? {} : JSON.parse(next.body), context);
      outcome = { path: `/invocation/${id}/response`, body: JSON.stringify(result ?? null), headers: {} };
    } catch (error) {
      const type = error instanceof Error ? error.name : "Error";
      outcome = {
        path: `/invocation/${id}/error`,
        body: errorBody(error),
        headers: { "lambda-runtime-function-error-type": type },
      };
    }
    const posted = await call("POST", outcome.path, outcome.body, outcome.headers);
    if (posted.status !== 202)
      console.error(`[runtime-client] POST ${outcome.path} answered ${posted.status}: ${posted.body}`);
  }
}

main().catch((error) => {
  console.error("[runtime-client] fatal", error);
  process.exit(1);
});
