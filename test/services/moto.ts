import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, ensureDir, freePort, portOpen, ServiceStartError, spawnService, withLock } from "./common.ts";
import type { ServiceHandle } from "./index.ts";
import { ensurePythonTool, type PythonTool, pythonToolPath } from "./python-tool.ts";

export const MOTO_VERSION = "5.2.5";
const motoTool: PythonTool = {
  name: "moto",
  requirement: `moto[server]==${MOTO_VERSION}`,
  version: MOTO_VERSION,
  executable: "moto_server",
};
const motoServer = pythonToolPath(motoTool);
const stateFile = join(cacheDir, "services", "moto.json");
const startLock = join(cacheDir, "services", "moto.lock");

export interface MotoEndpoints {
  readonly events: string;
  readonly sqs: string;
}

interface MotoState {
  readonly port: number;
  readonly pid: number;
  readonly version: string;
}

/**
 * The starter the test command runs. Honours the endpoint variables; otherwise starts a server for
 * this run and stops it at the end.
 */
export async function startMoto(): Promise<ServiceHandle> {
  const fromEnv = endpointsFromEnv();
  if (fromEnv.events !== undefined && fromEnv.sqs !== undefined) {
    return { name: "moto", env: { AWS_ENDPOINT_URL_EVENTS: fromEnv.events, AWS_ENDPOINT_URL_SQS: fromEnv.sqs }, stop };
  }
  const { url, pid } = await launch();
  return {
    name: "moto",
    env: { AWS_ENDPOINT_URL_EVENTS: fromEnv.events ?? url, AWS_ENDPOINT_URL_SQS: fromEnv.sqs ?? url },
    stop: async () => killGroup(pid),
  };
}

/**
 * What integration tests and benchmarks call: the endpoints from the environment (the test command
 * sets them), or else a server started for this developer run and reused by later test files
 * through a state file in .cache/services/.
 */
export async function ensureMoto(): Promise<MotoEndpoints> {
  const fromEnv = endpointsFromEnv();
  if (fromEnv.events !== undefined && fromEnv.sqs !== undefined) return { events: fromEnv.events, sqs: fromEnv.sqs };
  const url = await withLock("moto", startLock, async () => {
    const reused = await reusable();
    if (reused !== undefined) return `http://127.0.0.1:${reused.port}`;
    const started = await launch();
    ensureDir(join(cacheDir, "services"));
    writeFileSync(stateFile, JSON.stringify({ port: started.port, pid: started.pid, version: MOTO_VERSION }));
    return started.url;
  });
  return { events: fromEnv.events ?? url, sqs: fromEnv.sqs ?? url };
}

function endpointsFromEnv(): { events: string | undefined; sqs: string | undefined } {
  const pick = (name: string) => {
    const value = process.env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  return { events: pick("AWS_ENDPOINT_URL_EVENTS"), sqs: pick("AWS_ENDPOINT_URL_SQS") };
}

async function stop(): Promise<void> {}

async function reusable(): Promise<MotoState | undefined> {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as MotoState;
    if (state.version !== MOTO_VERSION) return undefined;
    if (!(await portOpen(state.port))) return undefined;
    return (await isMoto(`http://127.0.0.1:${state.port}`)) ? state : undefined;
  } catch {
    return undefined;
  }
}

// The dashboard page, not data.json: that one dumps every resource and grows with each test run.
// Generous timeout: on a loaded machine a slow answer must not pass for a dead server.
async function isMoto(url: string): Promise<boolean> {
  const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(10_000) });
  const page = await response.text();
  return response.ok && /moto/i.test(page);
}

async function launch(): Promise<{ url: string; port: number; pid: number }> {
  await ensurePythonTool(motoTool);
  const port = await freePort();
  // moto needs no privileges and keeps everything in memory, so it runs as the current user.
  const child = spawnService(motoServer, ["-H", "127.0.0.1", "-p", String(port)], { asServiceUser: false });
  const pid = child.pid;
  if (pid === undefined) throw new ServiceStartError("moto", `could not spawn ${motoServer}`);
  const url = `http://127.0.0.1:${port}`;
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      throw new ServiceStartError("moto", `moto_server exited with code ${exited} (run ${motoServer} to see why)`);
    }
    if ((await portOpen(port)) && (await isMoto(url).catch(() => false))) break;
    if (Date.now() > deadline) {
      killGroup(pid);
      throw new ServiceStartError("moto", `moto ${MOTO_VERSION} on port ${port} not ready after 60s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, port, pid };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}

/** Credentials moto accepts (it checks none); tests pass them explicitly, never from the environment. */
export const MOTO_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;
export const MOTO_REGION = "us-east-1";

export interface MotoAwsOptions {
  readonly region: string;
  readonly credentials: typeof MOTO_CREDENTIALS;
  readonly endpoint: string;
}

/** Client options for EventBridge and SQS on the running moto. */
export async function motoAwsOptions(): Promise<{ events: MotoAwsOptions; sqs: MotoAwsOptions }> {
  const endpoints = await ensureMoto();
  const base = { region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
  return { events: { ...base, endpoint: endpoints.events }, sqs: { ...base, endpoint: endpoints.sqs } };
}

interface JsonCaller {
  send<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T>;
}

export interface BusWithQueues {
  readonly eventBusName: string;
  readonly eventsQueueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/**
 * Makes what the EventBridge tests and benchmarks need, uniquely named: a custom bus, a rule that
 * sends every event of `source` on it to an SQS queue, and a second queue for dead letters.
 */
export async function createBusWithQueues(
  events: JsonCaller,
  sqs: JsonCaller,
  options: { readonly source: string; readonly prefix?: string },
): Promise<BusWithQueues> {
  const name = `${options.prefix ?? "ef"}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const eventBusName = `${name}-bus`;
  await events.send("CreateEventBus", { Name: eventBusName });
  const { QueueUrl: eventsQueueUrl } = await sqs.send<{ QueueUrl: string }>("CreateQueue", {
    QueueName: `${name}-events`,
    Attributes: { VisibilityTimeout: "30" },
  });
  const { QueueUrl: deadLetterQueueUrl } = await sqs.send<{ QueueUrl: string }>("CreateQueue", {
    QueueName: `${name}-dlq`,
  });
  const { Attributes } = await sqs.send<{ Attributes: { QueueArn: string } }>("GetQueueAttributes", {
    QueueUrl: eventsQueueUrl,
    AttributeNames: ["QueueArn"],
  });
  await events.send("PutRule", {
    Name: `${name}-to-queue`,
    EventBusName: eventBusName,
    EventPattern: JSON.stringify({ source: [options.source] }),
    State: "ENABLED",
  });
  await events.send("PutTargets", {
    Rule: `${name}-to-queue`,
    EventBusName: eventBusName,
    Targets: [{ Id: "queue", Arn: Attributes.QueueArn }],
  });
  return { eventBusName, eventsQueueUrl, deadLetterQueueUrl };
}

/** Receives every message currently in a queue (deleting them), up to `limit`. */
export async function drainQueue(
  sqs: JsonCaller,
  queueUrl: string,
  limit = 100_000,
): Promise<{ MessageId: string; Body: string; MessageAttributes?: Record<string, { StringValue?: string }> }[]> {
  const all: { MessageId: string; Body: string; ReceiptHandle: string }[] = [];
  for (let empty = 0; empty < 2 && all.length < limit; ) {
    const { Messages = [] } = await sqs.send<{
      Messages?: { MessageId: string; Body: string; ReceiptHandle: string }[];
    }>("ReceiveMessage", {
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageAttributeNames: ["All"],
    });
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    all.push(...Messages);
    await sqs.send("DeleteMessageBatch", {
      QueueUrl: queueUrl,
      Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
    });
  }
  return all;
}
