/**
 * Test support for the examples' end-to-end tests: starts an example with its one command (`bun
 * examples/ecommerce/main.ts`, `bun examples/task-management/dev.ts`) as its own process, on a free
 * port, and talks to it over HTTP. Test-only code: Node APIs are fine here.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Another base URL than the one the app printed (another tenant's path, say). */
  readonly base?: string;
}

export interface RunningApp {
  /** The API's base URL, as the app printed it: `listening on <url>`. */
  readonly url: string;
  /** What the process printed, for a failing test to show. */
  readonly output: string[];
  call(path: string, init?: CallOptions): Promise<Reply>;
  stop(): Promise<void>;
}

export interface Reply {
  readonly status: number;
  readonly contentType: string | null;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked by the tests
  readonly body: any;
}

export function startShop(env: Record<string, string>): Promise<RunningApp> {
  return startExample(join(import.meta.dirname, "main.ts"), env);
}

export async function startExample(
  script: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<RunningApp> {
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the shop did not start:\n${output.join("")}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /listening on (http:\/\/\S+)/.exec(output.join(""));
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    // "close", not "exit": "exit" can come before the child's last output has been read, and the
    // error would then lack what the shop printed (a flaky start-up test did).
    child.once("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`the shop exited (${code}) before listening:\n${output.join("")}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url,
    output,
    async call(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
      if (init.body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(`${init.base ?? url}${path}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        contentType: response.headers.get("content-type"),
        headers: response.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
    },
    async stop() {
      child.kill("SIGTERM");
      const killed = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killed);
    },
  };
}

/** Asks until `done` holds of the reply (a read model or a saga catching up), or gives up. */
export async function eventually(
  ask: () => Promise<Reply>,
  done: (reply: Reply) => boolean,
  timeoutMs = 15_000,
): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await ask();
    if (done(reply) || Date.now() > deadline) return reply;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
