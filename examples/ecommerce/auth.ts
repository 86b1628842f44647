/**
 * The auth hook: a bearer token names a user and a role. Customers place orders and read their
 * own; only admins list products and receive stock. Swap `users` for your identity provider (a JWT
 * check); the hook's contract stays: return the caller, or throw 401/403.
 */
import { type AuthHook, ForbiddenError, UnauthorizedError } from "@eventflows/core/hono";

export interface User {
  readonly userId: string;
  readonly role: "admin" | "customer";
}

const ADMIN_ONLY = new Set(["ListProduct", "ReceiveStock"]);

/** Tokens are kept by their SHA-256 digest: a lookup takes the same time whatever part of a guess matched. */
export async function bearerAuth(users: Readonly<Record<string, User>>): Promise<AuthHook> {
  const byDigest = new Map<string, User>();
  for (const [token, user] of Object.entries(users)) byDigest.set(await digest(token), user);
  return async ({ request, kind, type }) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "");
    if (match === null) throw new UnauthorizedError("Send Authorization: Bearer <token>");
    const user = byDigest.get(await digest(match[1] as string));
    if (user === undefined)
      throw new UnauthorizedError("The token is not valid", { challenge: 'Bearer error="invalid_token"' });
    if (kind === "command" && ADMIN_ONLY.has(type) && user.role !== "admin") {
      throw new ForbiddenError(`${type} needs the admin role`);
    }
    return { userId: user.userId, metadata: { role: user.role } };
  };
}

async function digest(token: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
