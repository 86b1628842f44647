/**
 * Tenancy on the HTTP routes: the caller's tenant is derived from the principal the auth hook
 * returned, and the request runs against that tenant's scope (its stores and the services built
 * over them), so handlers never read a tenant from the request themselves.
 */
import type { Tenancy, TenantScope, TenantStores } from "../../src/index.js";
import type { AuthRequest, Principal } from "./dispatcher-options.js";
import { ForbiddenError, UnauthorizedError } from "./errors.js";

// biome-ignore lint/suspicious/noExplicitAny: the services are the application's; routes only pass them on
export type AnyTenantScope = TenantScope<TenantStores, any>;

export interface TenancyRoutes<X = unknown> {
  /** The tenants and their stores: `tenancy()` of the core. */
  // biome-ignore lint/suspicious/noExplicitAny: any application's stores and services
  readonly tenants: Tenancy<any, any>;
  /**
   * The caller's tenant, from the principal the auth hook returned (a claim of its token, say).
   * `undefined` refuses the request: 401 without a principal, 403 with one. Never take it from
   * what the caller sends unchecked (a header, the path): that lets any caller pick a tenant.
   */
  readonly tenantOf: (
    principal: Principal | undefined,
    request: AuthRequest<X>,
  ) => string | undefined | Promise<string | undefined>;
}

/**
 * The caller's tenant scope.
 * @throws {UnauthorizedError} no principal and no tenant.
 * @throws {ForbiddenError} a principal without a tenant.
 * @throws {InvalidTenantError} `tenantOf` gave something that is not a tenant id (403).
 * @throws {UnknownTenantError} a tenant the application does not serve (403).
 */
export async function tenantScope<X>(
  routes: TenancyRoutes<X>,
  principal: Principal | undefined,
  request: AuthRequest<X>,
): Promise<AnyTenantScope> {
  const tenant = await routes.tenantOf(principal, request);
  if (tenant === undefined) {
    if (principal === undefined) throw new UnauthorizedError("Authentication is required to know the tenant");
    throw new ForbiddenError("This caller belongs to no tenant");
  }
  return routes.tenants.forTenant(tenant);
}
