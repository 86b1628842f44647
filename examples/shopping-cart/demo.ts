/**
 * The demo's scenario, as data: which commands were sent and how each ended, the conflicts the
 * retry absorbed, every event in the store, and what the read model answers. `main.ts` prints it;
 * `main.test.ts` checks it.
 */

import { type ExecutionStats, type Issue, isEventFlowsError } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { createShop, type ShopOptions } from "./app.js";
import type { ShopCommands } from "./commands.js";
import type { CartEnvelope, CartView } from "./read-model.js";

export type CommandOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly error: { readonly name: string; readonly code: string; readonly message: string };
      readonly issues: readonly Issue[];
    };

export interface CommandRecord {
  readonly type: keyof ShopCommands;
  readonly payload: unknown;
  readonly note?: string;
  readonly outcome: CommandOutcome;
}

export interface ConflictRecord {
  readonly command: string;
  readonly streamId: string;
  readonly expectedVersion: number | string;
  readonly actualVersion: number;
}

export interface DemoReport {
  /** What keeps the events: "in-memory", or the SQLite file's description. */
  readonly storeName: string;
  /** Events the store held before this run (a SQLite file from earlier runs), replayed into the read model. */
  readonly earlierEvents: number;
  readonly commands: readonly CommandRecord[];
  readonly conflicts: readonly ConflictRecord[];
  /** Every event the shop stored: its store holds only Cart streams. */
  readonly events: readonly CartEnvelope[];
  readonly carts: readonly CartView[];
  readonly openCarts: readonly CartView[];
  readonly commandStats: readonly ExecutionStats[];
  readonly log: readonly string[];
}

export interface DemoOptions {
  /** Makes the event store (see `createShop`); the default keeps everything in memory. */
  readonly store?: ShopOptions["store"];
  /** How the report names that store. */
  readonly storeName?: string;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const commands: CommandRecord[] = [];
  const conflicts: ConflictRecord[] = [];
  const log: string[] = [];
  const shop = createShop({
    ...(options.store === undefined ? {} : { store: options.store }),
    logger: {
      info: (message, fields) => log.push(`${message} in ${fields?.durationMs} ms`),
      error: (message, fields) => log.push(`${message}: ${fields?.error}`),
    },
    onConflict: (message, error) =>
      conflicts.push({
        command: message.type,
        streamId: error.streamId,
        expectedVersion: error.expectedVersion,
        actualVersion: error.actualVersion,
      }),
  });

  async function send<T extends keyof ShopCommands & string>(
    type: T,
    payload: ShopCommands[T]["payload"],
    note?: string,
  ): Promise<ShopCommands[T]["result"] | undefined> {
    // One correlation id per shopping session: every event the session causes carries it.
    const options = { metadata: { correlationId: session } };
    try {
      const result = await shop.commands.execute(type, payload, options);
      commands.push({ type, payload, note, outcome: { ok: true, result } });
      return result;
    } catch (error) {
      if (!isEventFlowsError(error)) throw error;
      const issues = (error as { issues?: readonly Issue[] }).issues ?? [];
      const { name, code, message } = error;
      commands.push({ type, payload, note, outcome: { ok: false, error: { name, code, message }, issues } });
      return undefined;
    }
  }

  // A store kept from earlier runs: the read model is rebuilt from its events before anything new.
  let earlierEvents = 0;
  for await (const event of shop.store.readAll<CartEnvelope>()) {
    shop.readModel.apply(event);
    earlierEvents += 1;
  }

  let session = "session-ada";
  const opened = await send("OpenCart", { customerId: "ada" });
  if (opened === undefined) throw new Error("the demo could not open a cart");
  const { cartId } = opened;
  await send("AddItem", { cartId, sku: "TEA-001", quantity: 2 });
  // Two devices add to the same cart at once: both load version 2, one saves first, and the other's
  // save fails with ConcurrencyError. retryOnConcurrency reloads and runs it again.
  await Promise.all([
    send("AddItem", { cartId, sku: "MUG-002", quantity: 1 }, "sent concurrently"),
    send("AddItem", { cartId, sku: "BIS-004", quantity: 3 }, "sent concurrently"),
  ]);
  await send("RemoveItem", { cartId, sku: "BIS-004" });
  // Untrusted input, as an HTTP body would bring it: the validation middleware rejects it before the
  // handler runs, with every problem listed.
  const untrusted = JSON.parse('{ "cartId": "not-a-cart", "sku": "tea", "quantity": 0 }');
  await send("AddItem", untrusted, "untrusted input");
  await send("CheckOut", { cartId });
  // A rule of the domain: nothing goes into a checked-out cart.
  await send("AddItem", { cartId, sku: "POT-003", quantity: 1 }, "after checkout");

  session = "session-grace";
  const other = await send("OpenCart", { customerId: "grace" });
  if (other !== undefined) await send("AddItem", { cartId: other.cartId, sku: "POT-003", quantity: 1 });

  return {
    storeName: options.storeName ?? "in-memory",
    earlierEvents,
    commands,
    conflicts,
    events: await collect(shop.store.readAll<CartEnvelope>()),
    carts: await shop.queries.execute("ListCarts", {}),
    openCarts: await shop.queries.execute("ListCarts", { status: "open" }),
    commandStats: shop.commands.stats(),
    log,
  };
}

const money = (cents: number) => `$${(cents / 100).toFixed(2)}`;
const json = (value: unknown) => JSON.stringify(value);

/** The report as the lines `bun run demo` prints. */
export function formatReport(report: DemoReport): string[] {
  const lines = [
    `EventFlows shopping-cart demo: ${report.storeName} event store, in-memory event bus, command and query buses`,
    "",
  ];
  if (report.earlierEvents > 0) {
    lines.push(`${report.earlierEvents} event(s) from earlier runs, replayed into the read model`, "");
  }
  lines.push(`Commands sent (${report.commands.length})`);
  for (const { type, payload, note, outcome } of report.commands) {
    const label = `${type} ${json(payload)}${note === undefined ? "" : ` (${note})`}`;
    if (outcome.ok) {
      lines.push(`  ok    ${label} -> ${json(outcome.result)}`);
      continue;
    }
    lines.push(`  error ${label} -> ${outcome.error.name} [${outcome.error.code}]`);
    if (outcome.issues.length === 0) lines.push(`          ${outcome.error.message}`);
    for (const issue of outcome.issues)
      lines.push(`          ${issue.path.join(".") || "(payload)"}: ${issue.message}`);
  }
  lines.push("", `Concurrency conflicts retried by retryOnConcurrency (${report.conflicts.length})`);
  for (const c of report.conflicts) {
    lines.push(`  ${c.command} on ${c.streamId}: expected version ${c.expectedVersion}, found ${c.actualVersion}`);
  }
  lines.push("", `Events stored, in global order (${report.events.length})`);
  for (const e of report.events) {
    lines.push(`  #${e.globalPosition} ${e.streamId} v${e.version} ${e.type} ${json(e.data)}`);
    lines.push(`      correlation ${e.metadata.correlationId}, caused by command ${e.metadata.causationId}`);
  }
  lines.push("", "Read model (ListCarts)");
  for (const cart of report.carts) {
    lines.push(
      `  ${cart.cartId} ${cart.customerId}: ${cart.status}, ${cart.itemCount} item(s), ${money(cart.totalCents)}, at v${cart.version}`,
    );
    for (const line of cart.lines) lines.push(`      ${line.quantity} x ${line.sku} at ${money(line.unitPriceCents)}`);
  }
  lines.push(`  open carts: ${report.openCarts.map((cart) => cart.customerId).join(", ") || "none"}`);
  lines.push("", "Command bus stats");
  for (const s of report.commandStats) lines.push(`  ${s.type}: ${s.executions} executed, ${s.failures} failed`);
  lines.push("", "Log (the logging middleware, one line per command)");
  for (const line of report.log) lines.push(`  ${line}`);
  return lines;
}
