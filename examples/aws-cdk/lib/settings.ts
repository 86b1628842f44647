/**
 * Security settings the CDK stack and the Terraform example share (terraform.test.ts checks the HCL
 * against them). No CDK import here, so the Terraform test needs no CDK.
 */

export interface ApiThrottle {
  /** Steady requests per second across the stage. */
  readonly rateLimit: number;
  /** Requests allowed in a burst. */
  readonly burstLimit: number;
}

export const DEFAULT_THROTTLE: ApiThrottle = { rateLimit: 50, burstLimit: 100 };

/** One JSON access log line per request: who, what, the outcome, and why an authorizer or integration refused. */
export const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  method: "$context.httpMethod",
  routeKey: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  authorizerError: "$context.authorizer.error",
  integrationError: "$context.integrationErrorMessage",
} as const;

/**
 * What DynamoDB needs of a customer-managed key on behalf of a caller of the table, as CDK's
 * `grantReadWriteData` grants it, spelled out (no wildcard) and allowed only through DynamoDB.
 */
export const tableKeyActions = [
  "kms:Decrypt",
  "kms:DescribeKey",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
] as const;
