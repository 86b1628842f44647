/**
 * The access hooks of the scenario's server (test/live/scenario.ts), one copy for every runtime's
 * harness (Node, workerd, Deno): the user from `scenarioToken`, else 401; "guest" may not watch Secret (403).
 */
import type { LiveAuthorize } from "../../adapters/hono/index.js";
import { ForbiddenError, UnauthorizedError } from "../../adapters/http/index.js";
import { scenarioToken } from "./scenario.js";

export const scenarioAuth = ({ request }: { readonly request: Request }): { userId: string } => {
  const user = scenarioToken(request);
  if (user === null) throw new UnauthorizedError();
  return { userId: user };
};

export const scenarioAuthorize: LiveAuthorize = (principal, { filter }) => {
  if (principal?.userId === "guest" && (filter.categories ?? []).includes("Secret")) throw new ForbiddenError();
  return true;
};
