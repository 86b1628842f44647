/**
 * `bun examples/ecommerce/main.ts`: serves the shop over HTTP. The backend is chosen by the
 * environment: `SHOP_DYNAMODB_TABLE` set means DynamoDB, with EventBridge (`SHOP_EVENT_BUS`, "shop"
 * by default); else `EVENTFLOWS_PG_URL` set means PostgreSQL; otherwise everything is in memory.
 *   PORT                 the port to listen on (3000; 0 picks a free one)
 *   PAYMENT_TIMEOUT_MS   how long the saga waits for a payment answer (15 minutes)
 *   SAGA_TIMER_MS        how often due saga timeouts are looked for (1000)
 *   SHOP_USERS           JSON `{ "<token>": { "userId": "…", "role": "admin" | "customer" } }`
 */

import * as v from "valibot";
import { createShop } from "./app.js";
import type { User } from "./auth.js";
import { awsBackend } from "./aws-backend.js";
import { type Backend, inMemoryBackend, postgresBackend } from "./backends.js";

const env = process.env;
const DEMO_USERS: Record<string, User> = {
  "admin-token": { userId: "admin", role: "admin" },
  "ada-token": { userId: "ada", role: "customer" },
  "bob-token": { userId: "bob", role: "customer" },
};

const Users = v.record(
  // What a client can send in `Authorization: Bearer <token>` and the auth hook reads back.
  v.pipe(
    v.string(),
    v.minLength(16, "a token of at least 16 characters"),
    v.regex(/^[\x21-\x7e]+$/, "a token of visible ASCII characters, no spaces"),
  ),
  v.object({ userId: v.pipe(v.string(), v.minLength(1)), role: v.picklist(["admin", "customer"]) }),
);

function users(): Record<string, User> {
  if (env.SHOP_USERS === undefined) return DEMO_USERS;
  const parsed = v.safeParse(Users, JSON.parse(env.SHOP_USERS));
  if (!parsed.success) throw new Error(`SHOP_USERS: ${parsed.issues.map((issue) => issue.message).join("; ")}`);
  return parsed.output;
}

/** A whole number from `min` to `max`: the bounds the library (or the socket) takes, checked before anything starts. */
const number = (name: string, fallback: number, min: number, max: number) => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${env[name]}`);
  }
  return value;
};

// Read first: a value the saga runtime or the socket refuses stopped the shop half started (a timer of 0),
// or one past the saga's bound left every order "placed" with its stock held.
const settings = {
  paymentTimeoutMs: number("PAYMENT_TIMEOUT_MS", 15 * 60_000, 1, 2_147_483_647_000),
  timerIntervalMs: number("SAGA_TIMER_MS", 1_000, 1, 2_147_483_647),
  port: number("PORT", 3000, 0, 65_535),
};

async function chooseBackend(): Promise<Backend> {
  const table = env.SHOP_DYNAMODB_TABLE;
  if (table !== undefined && table !== "") return awsBackend(table, env.SHOP_EVENT_BUS || "shop");
  const url = env.EVENTFLOWS_PG_URL;
  if (url !== undefined && url !== "") return postgresBackend(url, env.EVENTFLOWS_PG_SCHEMA);
  return inMemoryBackend();
}

const shopUsers = users();
const backend = await chooseBackend();
const shop = await createShop(backend, {
  users: shopUsers,
  paymentTimeoutMs: settings.paymentTimeoutMs,
  timerIntervalMs: settings.timerIntervalMs,
});
await shop.start();
const server = Bun.serve({ port: settings.port, fetch: shop.fetch });
console.log(`shop listening on http://localhost:${server.port}/api (${backend.name})`);
if (env.SHOP_USERS === undefined) console.log("demo tokens: admin-token (admin), ada-token and bob-token (customers)");

async function shutdown() {
  await server.stop();
  await shop.stop();
  await backend.close();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
