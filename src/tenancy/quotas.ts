import { type Issue, ValidationError } from "../errors.js";
import { TenantQuotaExceededError } from "./errors.js";

/**
 * Per-tenant limits on appends, counted by each tenant's store in fixed windows. They bound what one
 * tenant can do to a shared backend; they are per process (each instance counts its own appends). A
 * stream's deletion, restore or truncation counts as an append of one event (its `$stream-*` event).
 */
export interface TenantQuotas {
  /** The window the per-window limits count in, in ms. Defaults to 60,000. */
  readonly windowMs?: number;
  /** Appends a tenant may make per window. */
  readonly appendsPerWindow?: number;
  /** Events a tenant may append per window. */
  readonly eventsPerWindow?: number;
  /** Events one append may carry. */
  readonly eventsPerAppend?: number;
}

/** One tenant's counters: a fixed window that restarts at the first append after it ends. */
export class QuotaCounter {
  readonly #tenant: string;
  readonly #quotas: TenantQuotas;
  readonly #windowMs: number;
  readonly #now: () => number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #appends = 0;
  #events = 0;

  constructor(tenant: string, quotas: TenantQuotas, now: () => number = Date.now) {
    assertQuotas(quotas);
    this.#tenant = tenant;
    this.#quotas = quotas;
    this.#windowMs = quotas.windowMs ?? 60_000;
    this.#now = now;
  }

  /**
   * Counts an append of `events` events, or refuses it without counting it. Answers the window it
   * was counted in, for {@link QuotaCounter.giveBack}.
   * @throws {TenantQuotaExceededError} the append would go over a limit.
   */
  take(events: number): number {
    const { appendsPerWindow, eventsPerWindow, eventsPerAppend } = this.#quotas;
    if (eventsPerAppend !== undefined && events > eventsPerAppend) {
      throw new TenantQuotaExceededError(this.#tenant, "eventsPerAppend", eventsPerAppend, 0);
    }
    // More events than a whole window allows: no wait fixes it either (no retry time, no Retry-After).
    if (eventsPerWindow !== undefined && events > eventsPerWindow) {
      throw new TenantQuotaExceededError(this.#tenant, "eventsPerWindow", eventsPerWindow, 0);
    }
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#appends = 0;
      this.#events = 0;
    }
    const retryAfterMs = this.#windowStart + this.#windowMs - now;
    if (appendsPerWindow !== undefined && this.#appends + 1 > appendsPerWindow) {
      throw new TenantQuotaExceededError(this.#tenant, "appendsPerWindow", appendsPerWindow, retryAfterMs);
    }
    if (eventsPerWindow !== undefined && this.#events + events > eventsPerWindow) {
      throw new TenantQuotaExceededError(this.#tenant, "eventsPerWindow", eventsPerWindow, retryAfterMs);
    }
    this.#appends += 1;
    this.#events += events;
    return this.#windowStart;
  }

  /**
   * Uncounts an append of `events` events that `take` counted in `window` and that the store then
   * refused as invalid (nothing written). An append counted in a window that has ended since is not
   * given back: the counters it went into are gone.
   */
  giveBack(events: number, window: number): void {
    if (window !== this.#windowStart) return;
    this.#appends = Math.max(0, this.#appends - 1);
    this.#events = Math.max(0, this.#events - events);
  }
}

function assertQuotas(quotas: TenantQuotas): void {
  const issues = quotaIssues(quotas);
  if (issues.length > 0) throw new ValidationError("Invalid tenant quotas", issues);
}

const QUOTA_KEYS = ["windowMs", "appendsPerWindow", "eventsPerWindow", "eventsPerAppend"] as const;

/**
 * What is wrong with a tenant's quotas: they must be a plain object (or `undefined`: no limits) whose
 * limits are positive integers, and that names no other key. Anything else (`null`, a number, a
 * string, a misspelt limit) is refused rather than read as no limits at all.
 */
export function quotaIssues(quotas: unknown): Issue[] {
  if (quotas === undefined) return [];
  // Not a plain object: an array, or the promise of an async quota function, whose limits would go unread.
  const prototype = typeof quotas === "object" && quotas !== null ? Object.getPrototypeOf(quotas) : undefined;
  if (prototype !== Object.prototype && prototype !== null) {
    return [{ path: [], message: "quotas must be an object of limits (windowMs, appendsPerWindow, ...)" }];
  }
  const issues: Issue[] = [];
  for (const key of QUOTA_KEYS) {
    const value = (quotas as TenantQuotas)[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      issues.push({ path: [key], message: `${key} must be a positive integer` });
    }
  }
  // A misspelt limit (appendsPerMinute) would otherwise leave the tenant with no limit at all.
  for (const key of Object.keys(quotas as object)) {
    if (!(QUOTA_KEYS as readonly string[]).includes(key)) {
      issues.push({ path: [key], message: `not a quota: use ${QUOTA_KEYS.join(", ")}` });
    }
  }
  return issues;
}
