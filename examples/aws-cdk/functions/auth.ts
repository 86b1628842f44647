/**
 * The api function's own auth hook, behind API Gateway's authorizer: API Gateway verifies the
 * caller (a JWT's signature, issuer, audience and expiry, or an IAM signature) and passes what it
 * verified in `requestContext.authorizer`; this hook turns that into the principal commands and
 * queries run as, and refuses a request that no authorizer vouched for (a route deployed without
 * one, a direct invocation) before anything runs. Keep it as the one place that reads the claims.
 */
import { PROBLEM_CONTENT_TYPE, problemFor, problemHeaders, UnauthorizedError } from "../../../adapters/http/index.js";
import type { ApiGatewayProxyEventV2, HttpApiHandler } from "../../../adapters/lambda/index.js";

/** Who is calling: `userId` goes into every command's and query's metadata. */
export interface Caller {
  readonly userId: string;
  /** How API Gateway verified the caller. */
  readonly verifiedBy: "jwt" | "iam";
}

/** The verified caller: the JWT's `sub` claim, else the IAM caller's ARN. */
export function callerOf(event: ApiGatewayProxyEventV2): Caller {
  const authorizer = event.requestContext.authorizer;
  const subject = authorizer?.jwt?.claims?.sub;
  if (typeof subject === "string" && subject !== "") return { userId: subject, verifiedBy: "jwt" };
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === "string" && arn !== "") return { userId: arn, verifiedBy: "iam" };
  throw new UnauthorizedError("The request carries no caller verified by API Gateway", { challenge: "Bearer" });
}

/** Runs `handler` only for requests with a verified caller; others get a 401 problem. */
export function requireVerifiedCaller(handler: HttpApiHandler): HttpApiHandler {
  return async (event, context) => {
    try {
      callerOf(event);
    } catch (error) {
      const details = problemFor(error);
      return {
        statusCode: details.status,
        headers: { ...problemHeaders(error, details), "content-type": PROBLEM_CONTENT_TYPE },
        body: JSON.stringify(details),
      };
    }
    return handler(event, context);
  };
}
