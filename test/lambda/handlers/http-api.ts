/**
 * The HTTP API function: `createHttpApiHandler` from the package over a command and a query bus,
 * with valibot schemas for the types it exposes. Its handlers echo what reached them (payload and
 * metadata), so the runner sees what the adapter made of a documented API Gateway event.
 */
import * as v from "valibot";
import { createHttpApiHandler } from "../../../adapters/lambda/index.js";
import { CommandBus, ConcurrencyError, type MessageMetadata, QueryBus } from "../../../src/index.js";

type Echo = { payload: unknown; metadata: MessageMetadata | undefined };
type Commands = {
  AddItem: { payload: { sku: string; quantity: number }; result: Echo };
  Stale: { payload: Record<string, never>; result: undefined };
  Crash: { payload: Record<string, never>; result: undefined };
  Forget: { payload: Record<string, never>; result: undefined };
  Internal: { payload: Record<string, never>; result: undefined };
};
type Queries = { FindItems: { payload: { tag: string[]; limit: number }; result: { payload: unknown } } };

const commands = new CommandBus<Commands>();
const queries = new QueryBus<Queries>();

commands.register("AddItem", (payload, message) => ({ payload, metadata: message?.metadata }));
// A version conflict from the domain: a 409 problem.
commands.register("Stale", () => {
  throw new ConcurrencyError("Cart-1", 3, 4);
});
// An unexpected failure whose message must not reach the client.
commands.register("Crash", () => {
  throw new Error("secret-connection-string-do-not-leak");
});
// Nothing to return: 204.
commands.register("Forget", () => undefined);
// Registered but given no schema below: not reachable over HTTP.
commands.register("Internal", () => undefined);
queries.register("FindItems", (payload) => ({ payload }));

const empty = v.object({});

export const handler = createHttpApiHandler({
  commands: {
    bus: commands,
    schemas: {
      AddItem: v.object({ sku: v.string(), quantity: v.number() }),
      Stale: empty,
      Crash: empty,
      Forget: empty,
    },
  },
  queries: { bus: queries, schemas: { FindItems: v.object({ tag: v.array(v.string()), limit: v.number() }) } },
  bodyLimit: 1024,
  // What the raw event carried, passed on as an application would: its cookies and a joined header.
  metadata: (event) => ({
    cookies: (event.cookies ?? []).join("; "),
    forwardedFor: event.headers?.["x-forwarded-for"] ?? "",
  }),
  // The runner asserts the client's view of a 500; nothing to log here.
  onError: () => {},
});
