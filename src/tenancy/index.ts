export {
  InvalidTenantError,
  isInvalidTenantError,
  isTenantIsolationError,
  isTenantQuotaExceededError,
  isUnknownTenantError,
  TenancyErrorCode,
  TenantIsolationError,
  TenantQuotaExceededError,
  type TenantQuotaLimit,
  UnknownTenantError,
} from "./errors.js";
export { QuotaCounter, type TenantQuotas } from "./quotas.js";
export {
  type ScopedStores,
  type Tenancy,
  type TenancyOptions,
  type TenantScope,
  type TenantStores,
  tenancy,
} from "./tenancy.js";
export { TENANT_METADATA_KEY, TenantEventStore } from "./tenant-event-store.js";
export { isTenantId, MAX_TENANT_ID_LENGTH, type TenantId, tenantId, tenantIdentifier } from "./tenant-id.js";
