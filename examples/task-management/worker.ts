/**
 * The Worker: `/projects/<project>/api/…` goes to that project's Durable Object, which serves the
 * commands, queries, health probes and OpenAPI document; anything else is a problem+json 404.
 *
 *   POST /projects/:project/api/commands/:type   CreateTask, RenameTask, AssignTask, StartTask, …
 *   GET  /projects/:project/api/queries/GetBoard
 *   GET  /projects/:project/api/openapi.json
 */
import { problem, problemResponse } from "@eventflows/core/hono";
import { PROJECT_HEADER } from "./project-object.js";

export { ProjectObject } from "./project-object.js";

interface Env {
  readonly PROJECTS: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(request: Request): Promise<Response> };
  };
}

const PROJECT_PATH = /^\/projects\/([a-z0-9][a-z0-9-]{0,62})\/api(\/.*)?$/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = PROJECT_PATH.exec(new URL(request.url).pathname);
    if (match === null) return problemResponse(problem(404, "NOT_FOUND", "Use /projects/<project>/api/…"));
    const project = match[1] as string;
    const forwarded = new Request(request);
    forwarded.headers.set(PROJECT_HEADER, project); // the object trusts it: only this Worker reaches it
    return env.PROJECTS.get(env.PROJECTS.idFromName(project)).fetch(forwarded);
  },
};
