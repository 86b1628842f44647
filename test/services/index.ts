/**
 * The services the test command starts. Each entry starts (or reuses) one service and returns the
 * environment variables that point tests at it. An environment variable the user already set
 * (EVENTFLOWS_PG_URL, AWS_ENDPOINT_URL_DYNAMODB, …) wins: the service is then not started.
 */
import { startDynamoDb } from "./dynamodb.ts";
import { startMoto } from "./moto.ts";
import { startPostgres } from "./postgres.ts";

export interface ServiceHandle {
  readonly name: string;
  /** Variables for tests: merged into the environment of every test process. */
  readonly env: Readonly<Record<string, string>>;
  /** Stops what this run started; a reused or external service is left running. */
  stop(): Promise<void>;
}

export type ServiceStarter = () => Promise<ServiceHandle>;

/** Registered services, started in this order. */
export const services: Readonly<Record<string, ServiceStarter>> = {
  dynamodb: startDynamoDb,
  moto: startMoto,
  postgres: startPostgres,
};

/** Starts every service; if one fails, stops those already started and rethrows (never skip). */
export async function startServices(names: readonly string[] = Object.keys(services)): Promise<ServiceHandle[]> {
  const started: ServiceHandle[] = [];
  try {
    for (const name of names) {
      const start = services[name];
      if (start === undefined) throw new Error(`unknown service ${name}`);
      const handle = await start();
      started.push(handle);
      Object.assign(process.env, handle.env);
    }
    return started;
  } catch (error) {
    await stopServices(started);
    throw error;
  }
}

export async function stopServices(handles: readonly ServiceHandle[]): Promise<void> {
  for (const handle of [...handles].reverse()) {
    await handle.stop().catch((error) => console.error(`[test services] stopping ${handle.name} failed`, error));
  }
}
