import { ErrorCodeRegistry, EventFlowsError, type EventFlowsErrorOptions, hasCode } from "../errors.js";

/** Stable codes of the tenancy errors: branch on these, not on messages. */
export const TenancyErrorCode = ErrorCodeRegistry.tenancy;

/**
 * A value that is not a tenant id (see `tenantId()`): refused before any store is made for it. The
 * message says what a tenant id is, never echoes the value (it may come from a token).
 */
export class InvalidTenantError extends EventFlowsError {
  override readonly name = "InvalidTenantError";
  constructor(reason: string, options?: EventFlowsErrorOptions) {
    super(TenancyErrorCode.InvalidTenant, `Not a tenant id: ${reason}`, options);
  }
}

/** The tenant is a well-formed id that the application does not serve (its `knows` check said no). */
export class UnknownTenantError extends EventFlowsError {
  override readonly name = "UnknownTenantError";
  constructor(
    readonly tenant: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(TenancyErrorCode.UnknownTenant, `Tenant "${tenant}" is not served here`, options);
  }
}

/**
 * A tenant's store met an event that is not that tenant's (its `tenantId` metadata differs or is
 * missing): a misconfigured backend, or data written around the tenancy layer. Nothing of that event
 * is returned. The message names the reading tenant and the operation, never the other tenant.
 */
export class TenantIsolationError extends EventFlowsError {
  override readonly name = "TenantIsolationError";
  constructor(
    readonly tenant: string,
    readonly operation: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      TenancyErrorCode.Isolation,
      `Tenant "${tenant}" was refused an event of another tenant during ${operation}: check its store's isolation`,
      options,
    );
  }
}

/** Which per-tenant limit an append went over (see `TenantQuotas`). */
export type TenantQuotaLimit = "appendsPerWindow" | "eventsPerWindow" | "eventsPerAppend";

/**
 * An append went over one of its tenant's quotas: nothing was written. `retryAfterMs` says when the
 * window frees up (0 when no wait fixes it: over `eventsPerAppend`, or more events than `eventsPerWindow`
 * in one append). The HTTP routes answer 429, with `Retry-After` unless `retryAfterMs` is 0.
 */
export class TenantQuotaExceededError extends EventFlowsError {
  override readonly name = "TenantQuotaExceededError";
  constructor(
    readonly tenant: string,
    readonly limit: TenantQuotaLimit,
    readonly max: number,
    readonly retryAfterMs: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      TenancyErrorCode.QuotaExceeded,
      limit === "eventsPerAppend"
        ? `Tenant "${tenant}" may append at most ${max} events at once`
        : retryAfterMs === 0
          ? `Tenant "${tenant}" may append at most ${max} events per window: this append alone has more`
          : `Tenant "${tenant}" is over its quota of ${max} ${limit === "appendsPerWindow" ? "appends" : "events"} per window; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
      options,
    );
  }
}

export const isInvalidTenantError = (error: unknown): error is InvalidTenantError =>
  hasCode(error, TenancyErrorCode.InvalidTenant);
export const isUnknownTenantError = (error: unknown): error is UnknownTenantError =>
  hasCode(error, TenancyErrorCode.UnknownTenant);
export const isTenantIsolationError = (error: unknown): error is TenantIsolationError =>
  hasCode(error, TenancyErrorCode.Isolation);
export const isTenantQuotaExceededError = (error: unknown): error is TenantQuotaExceededError =>
  hasCode(error, TenancyErrorCode.QuotaExceeded);
