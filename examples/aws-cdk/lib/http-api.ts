/**
 * The HTTP API in front of the api function, closed by default: every route needs an authorizer
 * (IAM unless a JWT issuer is configured), the stage throttles, and every request is logged.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer, HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { ACCESS_LOG_FIELDS, type ApiThrottle } from "./settings.js";

/**
 * Who may call the API. `iam`: callers sign requests with SigV4 and need `execute-api:Invoke` on the
 * API (for services and back offices). `jwt`: an OpenID Connect identity provider (Cognito, Auth0,
 * Entra ID, Okta, Keycloak…) issues the tokens; API Gateway checks signature, issuer, audience and
 * expiry before the function runs, and the function reads the verified claims.
 */
export type ApiAuthorization =
  | { readonly kind: "iam" }
  | {
      readonly kind: "jwt";
      /** The `iss` of the tokens, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC`. */
      readonly issuer: string;
      /** Accepted `aud` (or Cognito `client_id`) values: at least one. */
      readonly audience: readonly string[];
      /** Scopes a token needs for the command routes (API Gateway checks `scope`/`scp`). */
      readonly commandScopes?: readonly string[];
      /** Scopes a token needs for the query routes. */
      readonly queryScopes?: readonly string[];
    };

export interface SecuredHttpApiProps {
  readonly handler: IFunction;
  readonly authorization: ApiAuthorization;
  readonly throttle: ApiThrottle;
  readonly removalPolicy: RemovalPolicy;
}

export function securedHttpApi(scope: Construct, props: SecuredHttpApiProps): { api: HttpApi; accessLogs: LogGroup } {
  const { authorization } = props;
  if (authorization.kind === "jwt" && (authorization.issuer === "" || authorization.audience.length === 0)) {
    throw new Error("a JWT authorizer needs an issuer and at least one audience");
  }
  const authorizer: IHttpRouteAuthorizer =
    authorization.kind === "jwt"
      ? new HttpJwtAuthorizer("JwtAuthorizer", authorization.issuer, { jwtAudience: [...authorization.audience] })
      : new HttpIamAuthorizer();
  const api = new HttpApi(scope, "HttpApi", {
    description: "EventFlows commands and queries",
    createDefaultStage: false,
    defaultAuthorizer: authorizer,
  });
  const accessLogs = new LogGroup(scope, "ApiAccessLogs", {
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: props.removalPolicy,
  });
  new HttpStage(scope, "DefaultStage", {
    httpApi: api,
    stageName: "$default",
    autoDeploy: true,
    throttle: { ...props.throttle },
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
    },
  });
  const integration = new HttpLambdaIntegration("ApiIntegration", props.handler);
  const scopes = (list: readonly string[] | undefined) =>
    authorization.kind === "jwt" && list !== undefined && list.length > 0 ? { authorizationScopes: [...list] } : {};
  api.addRoutes({
    path: "/commands/{type}",
    methods: [HttpMethod.POST],
    integration,
    ...scopes(authorization.kind === "jwt" ? authorization.commandScopes : undefined),
  });
  api.addRoutes({
    path: "/queries/{type}",
    methods: [HttpMethod.GET, HttpMethod.POST],
    integration,
    ...scopes(authorization.kind === "jwt" ? authorization.queryScopes : undefined),
  });
  return { api, accessLogs };
}
