/**
 * The live-streams scenario on Node (bundled and run by node.test.ts): a real node:http server with
 * the live routes (SSE, and WebSocket through `ws`), clients over fetch and `ws`'s WebSocket.
 * Exits 0 when every check passed. Argument: clients per transport, events.
 */
import { Hono } from "hono";
import { loadWs, nodeUpgradeWebSocket, serveOnNode } from "./node-server.js";
import { runLiveScenario } from "./scenario.js";
import { scenarioServer } from "./scenario-access.js";

const [clients = "50", events = "1000"] = process.argv.slice(2);
const ws = await loadWs();
const { store, hub, routes } = scenarioServer(nodeUpgradeWebSocket(ws));
const app = new Hono();
app.route("/api", routes);
const { server, port } = await serveOnNode(app);
let code = 1;
try {
  await runLiveScenario({
    base: `http://127.0.0.1:${port}/api/events`,
    store,
    connections: () => hub.size,
    WebSocket: (globalThis.WebSocket ?? ws.WebSocket) as typeof WebSocket,
    clientsPerTransport: Number(clients),
    events: Number(events),
    log: (line) => console.log(`node ${process.version}: ${line}`),
  });
  code = 0;
} catch (error) {
  console.error(error);
} finally {
  await hub.close();
  server.closeAllConnections();
  server.close();
}
process.exit(code);
