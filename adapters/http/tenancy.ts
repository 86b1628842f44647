/**
 * Tenancy on the HTTP routes: the caller's tenant is derived from the principal the auth hook
 * returned, and the request runs against that tenant's scope (its stores and the services built
 * over them), so handlers never read a tenant from the request themselves.
 */
import { type Issue, unknownKeyIssues } from "../../src/index.js";
import type { AnyTenantScope, AuthRequest, Principal, TenancyRoutes } from "./dispatcher-options.js";
import { configurationFault, ForbiddenError, UnauthorizedError } from "./errors.js";

/**
 * What is wrong with a `tenancy` option, checked when the routes are built: without `tenants` (a
 * `tenancy()`) and a `tenantOf` function, every request would fail with a TypeError (500).
 */
export function tenancyIssues(tenancy: unknown): Issue[] {
  if (tenancy === undefined) return [];
  const routes = tenancy as Partial<TenancyRoutes> | null;
  if (
    typeof routes !== "object" ||
    routes === null ||
    typeof routes.tenantOf !== "function" ||
    typeof routes.tenants?.forTenant !== "function"
  ) {
    return [{ path: ["tenancy"], message: "tenancy needs tenants (a tenancy()) and a tenantOf function" }];
  }
  return unknownKeyIssues(routes, ["tenants", "tenantOf"], ["tenancy"]);
}

/**
 * The caller's tenant scope.
 * @throws {UnauthorizedError} no principal and no tenant (`undefined` or `null`).
 * @throws {ForbiddenError} a principal without a tenant.
 * @throws {InvalidTenantError} `tenantOf` gave something that is not a tenant id (403).
 * @throws {UnknownTenantError} a tenant the application does not serve (403).
 * @throws {ServiceError} the scope could not be made: what tenancy() or the factory refused (500).
 */
export async function tenantScope<X>(
  routes: TenancyRoutes<X>,
  principal: Principal | undefined,
  request: AuthRequest<X>,
): Promise<AnyTenantScope> {
  const tenant = await routes.tenantOf(principal, request);
  // null is no tenant too (a token's claim set to null, read from JSON): refused as such, not as an invalid id.
  if (tenant === undefined || tenant === null) {
    if (principal === undefined) throw new UnauthorizedError("Authentication is required to know the tenant");
    throw new ForbiddenError("This caller belongs to no tenant");
  }
  // What tenancy() or the factory refuses (its answer, its quotas, a store's options) is the application's setup.
  return routes.tenants.forTenant(tenant).catch((error: unknown) => {
    throw configurationFault(error, "tenancy", "making the tenant's scope");
  });
}
