/**
 * Pulumi Deployments settings of one job stack, as a pure function of the deploy config: where
 * the program comes from, what triggers a deployment, how dependencies are installed, and which
 * AWS role the deployment assumes through OIDC.
 */
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import { PROJECT } from "../config";
import { DeployConfig } from "./config";

/**
 * Commands run before every operation, in the job program's folder. Dependencies are installed
 * from the lockfile (`npm ci`), not resolved anew: the job program pins `@pulumi/pulumi`, and the
 * default install step would run `npm install`.
 */
export const PRE_RUN_COMMANDS = ["node --version && npm --version", "npm ci --no-audit --no-fund"];

/** Name of the AWS session a deployment opens (shown in CloudTrail). */
export function sessionName(config: DeployConfig): string {
  return `pulumi-deploy-${PROJECT}-${config.jobStack}`.slice(0, 64);
}

/**
 * Arguments of the job stack's `DeploymentSettings`.
 * @param roleArn the deploy role the deployment assumes with its OIDC token.
 */
export function deploymentSettingsArgs(
  config: DeployConfig,
  roleArn: pulumi.Input<string>,
): pulumiservice.DeploymentSettingsArgs {
  return {
    organization: config.organization,
    project: PROJECT,
    stack: config.jobStack,
    ...(config.agentPoolId ? { agentPoolId: config.agentPoolId } : {}),
    sourceContext: {
      git: { branch: `refs/heads/${config.branch}`, repoDir: config.repoDir },
    },
    // The deprecated `github` block rather than `vcs`: with `vcs`, push-to-deploy silently stops
    // firing (pulumi/pulumi-pulumiservice#754).
    github: {
      repository: config.repository,
      deployCommits: config.deployCommits,
      previewPullRequests: config.previewPullRequests,
      pullRequestTemplate: false,
      ...(config.paths ? { paths: config.paths } : {}),
    },
    operationContext: {
      preRunCommands: PRE_RUN_COMMANDS,
      options: { skipInstallDependencies: true, shell: "bash" },
      oidc: {
        aws: {
          roleARN: roleArn,
          sessionName: sessionName(config),
          duration: config.sessionDuration,
        },
      },
    },
  };
}
