/**
 * One role for every tenant's data in the shared table (stores made with `tenant`, `<tenant>#` key
 * prefixes): the API function assumes it per request with a session tag `tenant=<id>` (STS
 * `AssumeRole` + `TagSession`), and DynamoDB then refuses any request of that session that names a
 * partition key outside `<id>#` (`dynamodb:LeadingKeys`, adapters/dynamodb/iam.ts
 * `dynamoDbTenantStatement`). A bug in the application's tenant handling then meets IAM, not
 * another tenant's events. The tag must be a tenant id the application derived from the verified
 * caller; the trust policy requires it on every session.
 */

import type { IPrincipal } from "aws-cdk-lib/aws-iam";
import { Effect, PolicyStatement, Role, SessionTagsPrincipal } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { dynamoDbTenantStatement } from "../../../adapters/dynamodb/iam.ts";
import { tableKeyActions } from "./settings.js";

/** The session tag that names the tenant, and the policy variable that reads it. */
export const TENANT_TAG = "tenant";

export interface TenantDataRoleOptions {
  readonly tableArn: string;
  /** The table's customer-managed key, when it has one. */
  readonly keyArn: string | undefined;
  readonly region: string;
  /** Who may assume it (the API function's role). */
  readonly assumedBy: IPrincipal;
}

export function tenantDataRole(scope: Construct, options: TenantDataRoleOptions): Role {
  const role = new Role(scope, "TenantDataRole", {
    assumedBy: new SessionTagsPrincipal(options.assumedBy),
    description: "One tenant's items of the EventFlows table, the tenant named by the session tag",
  });
  // Every session names its tenant: without the tag the LeadingKeys condition has no prefix to match.
  role.assumeRolePolicy?.addStatements(
    new PolicyStatement({
      effect: Effect.DENY,
      principals: [options.assumedBy],
      actions: ["sts:AssumeRole", "sts:TagSession"],
      conditions: { Null: { [`aws:RequestTag/${TENANT_TAG}`]: "true" } },
    }),
  );
  role.addToPolicy(
    PolicyStatement.fromJson(
      dynamoDbTenantStatement({
        tableArn: options.tableArn,
        tenant: `\${aws:PrincipalTag/${TENANT_TAG}}`,
        stores: ["eventStore", "snapshotStore", "readModelStore"],
      }),
    ),
  );
  if (options.keyArn !== undefined) {
    role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...tableKeyActions],
        resources: [options.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `dynamodb.${options.region}.amazonaws.com` } },
      }),
    );
  }
  return role;
}
