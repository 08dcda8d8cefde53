/**
 * Who may assume the deploy role: Pulumi Deployments of exactly one organization, project and
 * stack, authenticated by an OIDC token from Pulumi Cloud. Pure, so tests can simulate it.
 *
 * Pulumi Deployments tokens (https://www.pulumi.com/docs/deployments/guides/oidc/aws/ and
 * https://www.pulumi.com/docs/deployments/guides/oidc/#custom-claims):
 * - issuer `https://api.pulumi.com/oidc`;
 * - `aud`: the Pulumi organization's name;
 * - `sub`: `pulumi:deploy:org:<org>:project:<project>:stack:<stack>:operation:<operation>:scope:write`.
 */
import { PolicyDocument } from "../components/policies";

/** Issuer URL of Pulumi Cloud's OIDC tokens, as registered with IAM. */
export const PULUMI_OIDC_URL = "https://api.pulumi.com/oidc";

/** The issuer as IAM names it in condition keys (`<issuer>:aud`, `<issuer>:sub`): no scheme. */
export const PULUMI_OIDC_ISSUER = "api.pulumi.com/oidc";

/** Whose deployments may assume the role. */
export interface DeploymentIdentity {
  organization: string;
  project: string;
  stack: string;
}

/** Inputs of {@link deployTrustPolicy}. */
export interface DeployTrustPolicyInputs extends DeploymentIdentity {
  /** ARN of the account's IAM OIDC identity provider for {@link PULUMI_OIDC_URL}. */
  oidcProviderArn: string;
}

/**
 * The `sub` pattern of one stack's deployments, any operation (preview, update, refresh,
 * destroy). The `:` after the stack name keeps `prod` from matching a stack `prod-2`.
 * @throws Error if a part contains a character that would widen the pattern or shift its fields.
 */
export function deploymentSubjectPattern({
  organization,
  project,
  stack,
}: DeploymentIdentity): string {
  for (const [what, value] of Object.entries({ organization, project, stack })) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
      throw new Error(
        `${what} ${JSON.stringify(value)} cannot appear in an OIDC subject condition: use letters, digits, ".", "_" and "-" only`,
      );
    }
  }
  return `pulumi:deploy:org:${organization}:project:${project}:stack:${stack}:*`;
}

/**
 * Trust policy of the deploy role: `sts:AssumeRoleWithWebIdentity` through Pulumi Cloud's OIDC
 * provider, for tokens whose audience is the organization and whose subject is one stack of one
 * project. A deployment of another stack, project or organization is denied.
 */
export function deployTrustPolicy(inputs: DeployTrustPolicyInputs): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PulumiDeploymentsOfOneStack",
        Effect: "Allow",
        Principal: { Federated: inputs.oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: { [`${PULUMI_OIDC_ISSUER}:aud`]: inputs.organization },
          StringLike: { [`${PULUMI_OIDC_ISSUER}:sub`]: deploymentSubjectPattern(inputs) },
        },
      },
    ],
  };
}
