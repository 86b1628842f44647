/**
 * One Lambda function under RIE: `aws-lambda-rie node bootstrap.mjs` on a free loopback port, its
 * handler named by `_HANDLER`, invoked through RIE's endpoint
 * (POST /2015-03-31/functions/function/invocations) one event at a time, as Lambda does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort, portOpen, waitFor } from "../services/common.ts";

export interface FunctionOptions {
  readonly rie: string;
  readonly node: string;
  /** Where bootstrap.mjs and the handler modules are (LAMBDA_TASK_ROOT). */
  readonly taskRoot: string;
  /** `<module>.<export>`, e.g. "http-api.handler". */
  readonly handler: string;
  /** AWS_LAMBDA_FUNCTION_TIMEOUT, in seconds. */
  readonly timeoutSeconds: number;
  /** The function's environment variables. */
  readonly env: Readonly<Record<string, string>>;
}

export interface Invocation {
  /** RIE's HTTP status (200 for function errors too, as Lambda's Invoke API). */
  readonly status: number;
  readonly body: string;
  /** Client-side round trip of the invoke request, in ms. */
  readonly ms: number;
}

export interface LambdaFunction {
  readonly name: string;
  invoke(event: unknown): Promise<Invocation>;
  /** Everything RIE and the runtime wrote (START/END/REPORT lines, the function's console). */
  logs(): string;
  stop(): Promise<void>;
}

export async function startFunction(options: FunctionOptions): Promise<LambdaFunction> {
  const port = await freePort();
  // RIE's Runtime API (what the runtime client talks to) defaults to 127.0.0.1:9001: a port of its
  // own per function, so functions can run side by side.
  const runtimeApiPort = await freePort();
  const name = options.handler.split(".")[0] ?? options.handler;
  let output = "";
  const child: ChildProcess = spawn(
    options.rie,
    [
      "--runtime-interface-emulator-address",
      `127.0.0.1:${port}`,
      "--runtime-api-address",
      `127.0.0.1:${runtimeApiPort}`,
      options.node,
      join(options.taskRoot, "bootstrap.mjs"),
    ],
    {
      cwd: options.taskRoot,
      // Its own process group, so that stop() ends RIE and the runtime it started together.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        LAMBDA_TASK_ROOT: options.taskRoot,
        _HANDLER: options.handler,
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(options.timeoutSeconds),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1024",
        LOG_LEVEL: "info",
        ...options.env,
      },
    },
  );
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      return;
    }
    await gone;
  };
  try {
    await waitFor(
      `RIE for ${name}`,
      async () => {
        if (exited) throw new Error(`RIE exited: ${output}`);
        return portOpen(port);
      },
      10_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`RIE did not start for ${name}: ${error instanceof Error ? error.message : error}\n${output}`);
  }
  return {
    name,
    logs: () => output,
    stop,
    async invoke(event) {
      const started = performance.now();
      const response = await fetch(url, { method: "POST", body: JSON.stringify(event) });
      const body = await response.text();
      return { status: response.status, body, ms: performance.now() - started };
    },
  };
}
