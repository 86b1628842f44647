/** The shared HTTP behaviour suite run through the Hono routes, mounted under `/api` of an app. */
import { Hono } from "hono";
import { httpBehaviourSuite } from "../http/behaviour-suite.fixture.test.ts";
import { type EventFlowsRoutesOptions, eventFlowsRoutes } from "./index.js";

httpBehaviourSuite("Hono routes", (options) => {
  const app = new Hono().route("/api", eventFlowsRoutes(options as EventFlowsRoutesOptions));
  return (request) => {
    const url = new URL(request.url);
    return Promise.resolve(app.fetch(new Request(`${url.origin}/api${url.pathname}${url.search}`, request)));
  };
});
