/**
 * The auth hook: every command and query must carry `Authorization: Bearer <API_TOKEN>`. Swap it
 * for your own (a JWT check, Cloudflare Access) and return the caller as a Principal, whose userId
 * then reaches the command's metadata.
 */
import { type AuthHook, UnauthorizedError } from "@eventflows/core/hono";
import { ConfigurationError, type Env } from "./config.js";

const encoder = new TextEncoder();

/**
 * The API token the Worker was deployed with. Refuses everyone rather than serve an open API when the
 * secret was forgotten; readiness asks it too, so such a deployment is not reported ready.
 * @throws {ConfigurationError} no `API_TOKEN` secret.
 */
export function apiTokenOf(env: Env | undefined): string {
  const token = env?.API_TOKEN;
  if (token === undefined || token === "") throw new ConfigurationError("API_TOKEN is not set");
  return token;
}

export const bearerToken: AuthHook = async ({ request, context }) => {
  const expected = apiTokenOf(context.env as Env | undefined);
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (match === null) throw new UnauthorizedError("Send Authorization: Bearer <token>");
  if (!(await sameSecret(match[1] as string, expected))) throw new UnauthorizedError("The token is not valid");
  return true;
};

/**
 * Compares digests, not the strings: the time taken then says nothing about how much of a guess
 * matched, and tokens of different lengths compare like any others.
 */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] as number) ^ (y[i] as number);
  return difference === 0;
}
