import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import { type Issue, ValidationError } from "../errors.js";
import { type EventStore, isEventStore } from "../event-store/event-store.js";
import { functionIssues, unknownKeyIssues } from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import type { SnapshotStore } from "../snapshot/snapshot-store.js";
import { UnknownTenantError } from "./errors.js";
import { QuotaCounter, quotaIssues, type TenantQuotas } from "./quotas.js";
import { TenantEventStore } from "./tenant-event-store.js";
import { type TenantId, tenantId } from "./tenant-id.js";

/** What a tenant's factory makes: its event store, and any other stores the application uses (more fields are kept). */
export interface TenantStores {
  readonly eventStore: EventStore;
  readonly snapshotStore?: SnapshotStore;
  readonly checkpointStore?: CheckpointStore;
}

/** A tenant's stores as handed out: the event store wrapped to stamp and check the tenant. */
export type ScopedStores<S extends TenantStores> = Omit<S, "eventStore"> & { readonly eventStore: TenantEventStore };

/** One tenant, resolved: its id, its stores and the services built over them. */
export interface TenantScope<S extends TenantStores = TenantStores, V = undefined> {
  readonly tenant: TenantId;
  readonly stores: ScopedStores<S>;
  readonly services: V;
}

export interface TenancyOptions<S extends TenantStores, V = undefined> {
  /**
   * Makes one tenant's stores: where the isolation strategy is chosen (an instance, a database, a
   * table, a schema or a key prefix per tenant). Called once per tenant while it stays cached.
   */
  readonly stores: (tenant: TenantId) => S | Promise<S>;
  /**
   * Builds what handlers use (buses, repositories) over the tenant's stores as handed out, so that
   * handler code never names a tenant: it only ever sees that tenant's stores.
   */
  readonly services?: (scope: { readonly tenant: TenantId; readonly stores: ScopedStores<S> }) => V | Promise<V>;
  /** Whether the application serves this tenant; `false` refuses it with an `UnknownTenantError`. Defaults to every valid id. */
  readonly knows?: (tenant: TenantId) => boolean | Promise<boolean>;
  /**
   * Tenants kept at once; the least recently used one beyond it is dropped and its stores and
   * services closed (those with a `close()`), when a new tenant's scope is made (a refused tenant evicts
   * none, a scope still being made is not evicted). Keep it above the tenants active at the same time.
   * Defaults to 1,000.
   */
  readonly maxTenants?: number;
  /** Per-tenant limits on appends, the same for all or per tenant (`undefined`: none for that tenant). */
  readonly quotas?: TenantQuotas | ((tenant: TenantId) => TenantQuotas | undefined);
}

/** The tenant -> stores mapping `tenancy()` makes. */
export interface Tenancy<S extends TenantStores = TenantStores, V = undefined> {
  /**
   * The tenant's scope, made on first use and cached.
   * @throws {InvalidTenantError} not a tenant id.
   * @throws {UnknownTenantError} `knows` said no.
   */
  forTenant(tenant: string): Promise<TenantScope<S, V>>;
  /** Tenants cached now. */
  readonly size: number;
  /**
   * Drops a tenant from the cache and closes its stores and services.
   * @throws {InvalidTenantError} not a tenant id (the promise rejects).
   */
  evict(tenant: string): Promise<void>;
  /** Drops every tenant, closing their stores and services. */
  close(): Promise<void>;
}

const DEFAULT_MAX_TENANTS = 1_000;

/**
 * Owns the mapping from a tenant to its stores: made by `options.stores`, wrapped so that every
 * event carries the tenant and no event of another tenant is ever returned, cached with a bound.
 */
export function tenancy<S extends TenantStores, V = undefined>(options: TenancyOptions<S, V>): Tenancy<S, V> {
  const issues = tenancyIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid tenancy options", issues);
  const maxTenants = options.maxTenants ?? DEFAULT_MAX_TENANTS;
  // Insertion order is recency: a hit is moved to the end, the first entry is the least recently used.
  const cache = new Map<TenantId, Promise<TenantScope<S, V>>>();
  // Tenants whose scope is made: only they take a place, and only they are evicted (a caller waiting
  // for a scope still being made must not be handed it closed).
  const made = new Set<TenantId>();

  const make = async (tenant: TenantId): Promise<TenantScope<S, V>> => {
    if (options.knows !== undefined && !(await options.knows(tenant))) throw new UnknownTenantError(tenant);
    // The quotas first: invalid ones are refused before any store (a pool, a connection) is made.
    const quotas = typeof options.quotas === "function" ? options.quotas(tenant) : options.quotas;
    const quota = quotas === undefined ? undefined : new QuotaCounter(tenant, quotas);
    const made = await options.stores(tenant);
    if (!isEventStore((made as Partial<TenantStores> | null | undefined)?.eventStore)) {
      // Nothing to wrap: close what the factory made (it is not cached, so nothing else would).
      await closeAll(tenant, typeof made === "object" && made !== null ? Object.values(made) : []);
      throw new ValidationError("Invalid tenant stores", [
        { path: ["eventStore"], message: "the stores factory must return { eventStore } with an event store" },
      ]);
    }
    const stores = { ...made, eventStore: new TenantEventStore(tenant, made.eventStore, quota) } as ScopedStores<S>;
    let services: V;
    try {
      services = (options.services === undefined ? undefined : await options.services({ tenant, stores })) as V;
    } catch (error) {
      // Not cached, so nothing else would ever close the stores just made: close them now.
      await closeScope({ tenant, stores, services: undefined });
      throw error;
    }
    return { tenant, stores, services };
  };

  const drop = async (tenant: TenantId): Promise<void> => {
    const entry = cache.get(tenant);
    if (entry === undefined) return;
    cache.delete(tenant);
    made.delete(tenant);
    const scope = await entry.catch(() => undefined);
    if (scope !== undefined) await closeScope(scope);
  };

  return {
    forTenant(value) {
      let tenant: TenantId;
      try {
        tenant = tenantId(value);
      } catch (error) {
        return Promise.reject(error);
      }
      const cached = cache.get(tenant);
      if (cached !== undefined) {
        cache.delete(tenant);
        cache.set(tenant, cached);
        return cached;
      }
      const entry = make(tenant);
      cache.set(tenant, entry);
      entry.then(
        // Only a scope made takes a place: a refused tenant (unknown, a failing factory) evicting a
        // served one would close the stores its requests still hold, for a tenant that never came in.
        () => {
          if (cache.get(tenant) !== entry) return;
          made.add(tenant);
          for (const oldest of cache.keys()) {
            if (made.size > maxTenants && oldest !== tenant && made.has(oldest)) void drop(oldest);
          }
        },
        // A failed factory is not cached: the next request tries again.
        () => {
          if (cache.get(tenant) === entry) cache.delete(tenant);
        },
      );
      return entry;
    },
    get size() {
      return cache.size;
    },
    evict(value) {
      try {
        return drop(tenantId(value));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    async close() {
      await Promise.all([...cache.keys()].map(drop));
    },
  };
}

const TENANCY_OPTIONS = [
  "stores",
  "services",
  "knows",
  "maxTenants",
  "quotas",
] as const satisfies readonly (keyof TenancyOptions<TenantStores>)[];

/**
 * What is wrong with the options, found when `tenancy()` is called rather than as a TypeError at the
 * first request: the callbacks must be functions, and quotas given as an object valid ones.
 */
function tenancyIssues(options: Partial<Record<keyof TenancyOptions<TenantStores>, unknown>>): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options must be an object" }];
  const issues: Issue[] = [
    // A misspelt key was dropped and its default taken: `maxTenant: 10` kept 1,000 tenants open.
    ...unknownKeyIssues(options, TENANCY_OPTIONS),
    ...functionIssues(options.stores, "stores", true),
    ...functionIssues(options.services, "services"),
    ...functionIssues(options.knows, "knows"),
  ];
  const maxTenants = options.maxTenants ?? DEFAULT_MAX_TENANTS;
  if (typeof maxTenants !== "number" || !Number.isSafeInteger(maxTenants) || maxTenants < 1) {
    issues.push({ path: ["maxTenants"], message: "maxTenants must be a positive integer" });
  }
  if (typeof options.quotas !== "function") {
    for (const issue of quotaIssues(options.quotas)) issues.push({ ...issue, path: ["quotas", ...issue.path] });
  }
  return issues;
}

/** Closes what a scope holds that can be closed, once each; a failing close is logged, never thrown. */
async function closeScope(scope: TenantScope<TenantStores, unknown>): Promise<void> {
  await closeAll(scope.tenant, [scope.services, ...Object.values(scope.stores), scope.stores.eventStore.inner]);
}

async function closeAll(tenant: TenantId, closable: readonly unknown[]): Promise<void> {
  const seen = new Set<unknown>();
  for (const item of closable) {
    if (typeof item !== "object" || item === null || seen.has(item)) continue;
    seen.add(item);
    const close = (item as { close?: unknown }).close;
    if (typeof close !== "function") continue;
    try {
      await close.call(item);
    } catch (error) {
      getLogger().error("closing an evicted tenant's store failed", { tenant, error });
    }
  }
}
