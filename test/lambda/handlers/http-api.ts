/**
 * The HTTP API function: `createHttpApiHandler` from the package over a command and a query bus,
 * behind a named stage ("/prod"). Its handlers echo what reached them (payload and metadata), so
 * the runner sees what the adapter made of a documented API Gateway event.
 */
import { createHttpApiHandler } from "../../../adapters/lambda/index.js";
import { CommandBus, ConcurrencyError, type MessageMetadata, QueryBus } from "../../../src/index.js";

type Echo = { payload: unknown; metadata: MessageMetadata | undefined };
type Commands = {
  AddItem: { payload: unknown; result: Echo };
  Stale: { payload: unknown; result: undefined };
  Crash: { payload: unknown; result: undefined };
  Forget: { payload: unknown; result: undefined };
};
type Queries = { FindItems: { payload: unknown; result: { payload: unknown } } };

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
queries.register("FindItems", (payload) => ({ payload }));

export const handler = createHttpApiHandler({
  commands,
  queries,
  basePath: "/prod",
  bodyLimit: 1024,
  // What the raw event carried, passed on as an application would: its cookies and a joined header.
  metadata: (event) => ({
    cookies: (event.cookies ?? []).join("; "),
    forwardedFor: event.headers?.["x-forwarded-for"] ?? "",
  }),
  // The runner asserts the client's view of a 500; nothing to log here.
  onError: () => {},
});
