/**
 * The api function's own auth hook, behind API Gateway's authorizer: API Gateway verifies the
 * caller (a JWT's signature, issuer, audience and expiry, or an IAM signature) and passes what it
 * verified in `requestContext.authorizer`; this hook turns that into the principal commands and
 * queries run as, and refuses a request that no authorizer vouched for (a route deployed without
 * one, a direct invocation) before anything runs. Keep it as the one place that reads the claims.
 */
import { type AuthHook, type Principal, UnauthorizedError } from "../../../adapters/http/index.js";
import type { ApiGatewayProxyEventV2, HttpApiRequestContext } from "../../../adapters/lambda/index.js";

/** Who is calling: `userId` goes into every command's and query's metadata. */
export interface Caller {
  readonly userId: string;
  /** How API Gateway verified the caller. */
  readonly verifiedBy: "jwt" | "iam";
}

/**
 * The verified caller: the JWT's `sub` claim, else a Cognito identity pool's identity id (its users all
 * sign as one role session, so they share that session's ARN), else the IAM caller's ARN.
 */
export function callerOf(event: ApiGatewayProxyEventV2): Caller {
  const authorizer = event.requestContext.authorizer;
  const subject = authorizer?.jwt?.claims?.sub;
  if (typeof subject === "string" && subject !== "") return { userId: subject, verifiedBy: "jwt" };
  const identity = authorizer?.iam?.cognitoIdentity?.identityId;
  if (typeof identity === "string" && identity !== "") return { userId: identity, verifiedBy: "iam" };
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === "string" && arn !== "") return { userId: arn, verifiedBy: "iam" };
  throw new UnauthorizedError("The request carries no caller verified by API Gateway", { challenge: "Bearer" });
}

/**
 * The handler's auth hook: the verified caller becomes the principal (its `userId` reaches every
 * command's metadata and scopes idempotency keys; `verifiedBy` goes into the metadata too); a request
 * without one is refused with a 401 problem before anything runs.
 */
export const verifiedCallerAuth: AuthHook<HttpApiRequestContext> = ({ context }): Principal => {
  const caller = callerOf(context.event);
  return { userId: caller.userId, metadata: { verifiedBy: caller.verifiedBy } };
};
