/**
 * The auth hook: `Authorization: Bearer <token>`, the token one of the `USERS` secret's (JSON:
 * `{ "<token>": "<userId>" }`). The user id reaches every command's metadata, and the events record
 * who did what. Swap it for your identity provider (Cloudflare Access, a JWT check).
 */
import { type AuthHook, UnauthorizedError } from "@eventflows/core/hono";

/** Tokens are kept by their SHA-256 digest: a lookup takes the same time whatever part of a guess matched. */
export async function bearerAuth(users: Readonly<Record<string, string>>): Promise<AuthHook> {
  const byDigest = new Map<string, string>();
  for (const [token, userId] of Object.entries(users)) byDigest.set(await digest(token), userId);
  return async ({ request }) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "");
    if (match === null) throw new UnauthorizedError("Send Authorization: Bearer <token>");
    const userId = byDigest.get(await digest(match[1] as string));
    if (userId === undefined)
      throw new UnauthorizedError("The token is not valid", { challenge: 'Bearer error="invalid_token"' });
    return { userId };
  };
}

async function digest(token: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
