/**
 * Tenancy on the HTTP routes: the caller's tenant is derived from the principal the auth hook
 * returned, and the request runs against that tenant's scope (its stores and the services built
 * over them), so handlers never read a tenant from the request themselves.
 */
import type { AnyTenantScope, AuthRequest, Principal, TenancyRoutes } from "./dispatcher-options.js";
import { ForbiddenError, UnauthorizedError } from "./errors.js";

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
