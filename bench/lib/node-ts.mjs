/** `node --import ./bench/lib/node-ts.mjs bench/x.bench.ts`: runs a bench's TypeScript on Node 20 (see node-ts-hooks.mjs). */
import { register } from "node:module";

register("./node-ts-hooks.mjs", import.meta.url);
