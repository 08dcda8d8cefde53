/**
 * IAM decisions for the deploy role's policies, by @cloud-copilot/iam-simulate (AWS's evaluation
 * logic: principals, actions, resources, StringEquals/StringLike/ArnLike conditions).
 */
import { runSimulation, runUnsafeSimulation } from "../../testing/iamSimulator";
import { PolicyDocument } from "../../components/policies";
import { PULUMI_OIDC_ISSUER } from "../../deploy/trustPolicy";
import { MOCK_ACCOUNT_ID } from "../../offline/engine";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

/** The account's IAM OIDC provider for Pulumi Cloud, as the deploy program's mocks return it. */
export const PULUMI_PROVIDER_ARN = `arn:aws:iam::${MOCK_ACCOUNT_ID}:oidc-provider/${PULUMI_OIDC_ISSUER}`;

/** A token's claims, as Pulumi Deployments issues them. */
export interface PulumiToken {
  aud: string;
  sub: string;
}

/** The `sub` claim of a Pulumi Deployments token (format from Pulumi's OIDC docs). */
export function deploymentSubject(
  org: string,
  project: string,
  stack: string,
  operation = "update",
): string {
  return `pulumi:deploy:org:${org}:project:${project}:stack:${stack}:operation:${operation}:scope:write`;
}

/**
 * Whether `trustPolicy` lets the holder of `token` call `action` (by default
 * sts:AssumeRoleWithWebIdentity through Pulumi's provider) on the role.
 *
 * The validated `runSimulation` keeps only the condition keys AWS's service reference lists for
 * the action, and Pulumi's issuer is not among them (it would drop `api.pulumi.com/oidc:sub` and
 * deny everything), so this runs the same engine without that filter. The trust policy is passed
 * pre-validated so the engine can name it in its analysis.
 */
export function assumeRole(
  trustPolicy: PolicyDocument,
  token: PulumiToken,
  request: { principal?: string; action?: string } = {},
): Decision {
  return runUnsafeSimulation(
    {
      request: {
        principal: request.principal ?? PULUMI_PROVIDER_ARN,
        action: request.action ?? "sts:AssumeRoleWithWebIdentity",
        resource: {
          resource: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/transient-jobs-deploy`,
          accountId: MOCK_ACCOUNT_ID,
        },
        contextVariables: {
          [`${PULUMI_OIDC_ISSUER}:aud`]: token.aud,
          [`${PULUMI_OIDC_ISSUER}:sub`]: token.sub,
        },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: {
        __validated: true,
        policyDocument: trustPolicy,
        metadata: { name: "trust" },
        errors: [],
      },
    },
    {},
  );
}

/**
 * The decision on one request by the deploy role (identity policy `policy`), with full
 * validation: an unknown action, a resource that is not of the action's types, or a context key
 * the action does not support fails the test instead of quietly denying. A KMS key is usable
 * only as far as its key policy (`resourcePolicy`) lets IAM policies grant it.
 */
export async function decide(
  policy: PolicyDocument,
  action: string,
  resource: string,
  contextVariables: Record<string, string | string[]> = {},
  resourcePolicy?: PolicyDocument,
): Promise<Decision> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/transient-jobs-deploy-prod`,
        action,
        resource: { resource, accountId: MOCK_ACCOUNT_ID },
        contextVariables,
      },
      identityPolicies: [{ name: "deploy", policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === "error") {
    throw new Error(
      `cannot simulate ${action} on ${resource}: ${JSON.stringify(response.errors).slice(0, 600)}`,
    );
  }
  if (response.resultType !== "single") {
    throw new Error(`${action} on ${resource}: expected one resource, got a wildcard result`);
  }
  if (response.result.ignoredContextKeys?.length) {
    throw new Error(
      `${action} on ${resource} ignores context keys ${response.result.ignoredContextKeys.join(", ")}`,
    );
  }
  return response.overallResult as Decision;
}
