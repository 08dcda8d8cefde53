/**
 * transient-jobs-deploy: push-to-deploy for one stack of transient-jobs, kept out of the job
 * program so the job stacks preview without a Pulumi Cloud token. Declares the account's OIDC
 * identity provider for Pulumi Cloud (or looks it up), a deploy role that only that stack's
 * deployments can assume and that can manage only that stack's resources, and the stack's
 * Pulumi Deployments settings. Run by hand: `cd deploy && pulumi up` (see "Deploying" in README.md).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import { policyJson } from "../components/policyJson";
import { PROJECT } from "../config";
import { deployConfigFromPulumi, durationSeconds, parseDeployConfig } from "./config";
import { deployPermissionPolicy } from "./permissionPolicy";
import { deploymentSettingsArgs } from "./settings";
import { deployTrustPolicy, PULUMI_OIDC_URL } from "./trustPolicy";

const config = parseDeployConfig(
  deployConfigFromPulumi(pulumi.runtime.allConfig()),
  pulumi.getStack(),
);

const oidcProviderArn: pulumi.Output<string> = config.createOidcProvider
  ? new aws.iam.OpenIdConnectProvider(
      "pulumi-cloud-oidc",
      { url: PULUMI_OIDC_URL, clientIdLists: [config.organization] },
      // Other deploy stacks of the account, and Pulumi ESC, may trust it too.
      { retainOnDelete: true },
    ).arn
  : aws.iam.getOpenIdConnectProviderOutput({ url: PULUMI_OIDC_URL }).arn;

const partition = aws.getPartitionOutput().partition;
const accountId = aws.getCallerIdentityOutput().accountId;

// Not named "tj-…": the role must fall outside the job stacks' names it may manage.
const role = new aws.iam.Role(`transient-jobs-deploy-${config.jobStack}`, {
  description: `Pulumi Deployments of ${config.organization}/${PROJECT}/${config.jobStack}`,
  assumeRolePolicy: oidcProviderArn.apply((arn) =>
    JSON.stringify(
      deployTrustPolicy({
        oidcProviderArn: arn,
        organization: config.organization,
        project: PROJECT,
        stack: config.jobStack,
      }),
    ),
  ),
  maxSessionDuration: Math.max(3600, durationSeconds(config.sessionDuration) ?? 3600),
});

// Inline: the document is larger than a managed policy may be (6,144 characters).
const permissions = new aws.iam.RolePolicy(`transient-jobs-deploy-${config.jobStack}`, {
  role: role.id,
  policy: policyJson(deployPermissionPolicy, {
    partition,
    accountId,
    environment: config.jobStack,
    retainData: config.retainData,
  }),
});

const settings = new pulumiservice.DeploymentSettings(
  `${config.jobStack}-deployment-settings`,
  deploymentSettingsArgs(config, role.arn),
  // A deployment triggered right away must find the role's permissions in place.
  { dependsOn: [permissions] },
);

/** The stack deployed, from where, and as whom. */
export const jobStack = `${config.organization}/${PROJECT}/${config.jobStack}`;
export const branch = config.branch;
export const deployRoleArn = role.arn;
export const pulumiOidcProviderArn = oidcProviderArn;
export const deploymentSettingsStack = settings.stack;
