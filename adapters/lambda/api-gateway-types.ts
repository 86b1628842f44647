/**
 * The API Gateway HTTP API event and result for Lambda proxy integrations, payload format 2.0,
 * typed from AWS's documentation ("Create AWS Lambda proxy integrations for HTTP APIs in API
 * Gateway"). Written here so users need no `@types/aws-lambda`.
 */

/** What API Gateway sends a Lambda function for one HTTP request (payload format 2.0). */
export interface ApiGatewayProxyEventV2 {
  readonly version: "2.0";
  /** `"$default"` or the matched route, e.g. `"POST /commands/{type}"`. */
  readonly routeKey: string;
  /** The path without the stage mapping of a custom domain. */
  readonly rawPath: string;
  /** The query string without `?`, exactly as sent. */
  readonly rawQueryString: string;
  readonly cookies?: readonly string[];
  /** Lower-case names; duplicate headers are joined with commas. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Duplicate parameters are joined with commas; absent when the query string is empty. */
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  /** Null on a Lambda function URL, which has no routes nor stages. */
  readonly pathParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly stageVariables?: Readonly<Record<string, string | undefined>> | null;
  readonly requestContext: ApiGatewayRequestContextV2;
  /** Absent without a body; base64 when `isBase64Encoded`. */
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

export interface ApiGatewayRequestContextV2 {
  readonly accountId: string;
  readonly apiId: string;
  readonly authentication?: {
    readonly clientCert?: {
      readonly clientCertPem: string;
      readonly subjectDN: string;
      readonly issuerDN: string;
      readonly serialNumber: string;
      readonly validity: { readonly notBefore: string; readonly notAfter: string };
    };
  } | null;
  readonly authorizer?: ApiGatewayAuthorizerV2;
  readonly domainName: string;
  readonly domainPrefix: string;
  readonly http: {
    readonly method: string;
    readonly path: string;
    readonly protocol: string;
    readonly sourceIp: string;
    readonly userAgent: string;
  };
  readonly requestId: string;
  readonly routeKey: string;
  readonly stage: string;
  /** e.g. `"12/Mar/2020:19:03:58 +0000"`. */
  readonly time: string;
  readonly timeEpoch: number;
}

/** What an authorizer attached: JWT claims, IAM identity, or a Lambda authorizer's context. */
export interface ApiGatewayAuthorizerV2 {
  readonly jwt?: {
    readonly claims: Readonly<Record<string, string | number | boolean | readonly string[]>>;
    readonly scopes: readonly string[] | null;
  };
  readonly iam?: {
    readonly accessKey?: string;
    readonly accountId?: string;
    readonly callerId?: string;
    /** Null unless Amazon Cognito signed the request (AWS sends the key either way). */
    readonly cognitoIdentity?: {
      readonly amr: readonly string[];
      readonly identityId: string;
      readonly identityPoolId: string;
    } | null;
    readonly principalOrgId?: string | null;
    readonly userArn?: string;
    readonly userId?: string;
  };
  readonly lambda?: Readonly<Record<string, unknown>> | null;
}

/**
 * The structured response a function returns for payload format 2.0. (API Gateway also accepts a
 * bare value and wraps it as a 200 JSON response; these handlers always return this shape.)
 */
export interface ApiGatewayProxyResultV2 {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cookies?: readonly string[];
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** The parts of the Lambda context object these handlers read. */
export interface LambdaContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
  /** Milliseconds left before Lambda stops the invocation. */
  getRemainingTimeInMillis?(): number;
}
