/**
 * The server side of the scenario (test/live/scenario.ts), one copy for every runtime's harness
 * (Node, workerd, Deno): its store, hub and live routes, with access hooks that take the user from
 * `scenarioToken`, else 401, and refuse "guest" the Secret category (403).
 */
import { type LiveAuthorize, liveRoutes, type UpgradeWebSocket } from "../../adapters/hono/index.js";
import { ForbiddenError, UnauthorizedError } from "../../adapters/http/index.js";
import { InMemoryEventStore, LiveHub } from "../../src/index.js";
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

/** A store and its hub, and the live routes over them that each harness mounts at /api. */
export function scenarioServer(upgradeWebSocket?: UpgradeWebSocket) {
  const store = new InMemoryEventStore();
  const hub = new LiveHub({ store, pollIntervalMs: 50 });
  const routes = liveRoutes({
    hub,
    ...(upgradeWebSocket === undefined ? {} : { upgradeWebSocket }),
    heartbeatMs: 500,
    auth: scenarioAuth,
    authorize: scenarioAuthorize,
  });
  return { store, hub, routes };
}
