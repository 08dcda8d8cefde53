/**
 * The deploy program (deploy/index.ts) under Pulumi's mocks, with the real deploy/Pulumi.dev.yaml
 * and deploy/Pulumi.prod.yaml.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { PolicyDocument } from "../../components/policies";
import {
  DEPLOY_PROJECT,
  DeployConfig,
  deployConfigFromPulumi,
  parseDeployConfig,
} from "../../deploy/config";
import { deployPermissionPolicy } from "../../deploy/permissionPolicy";
import { PRE_RUN_COMMANDS } from "../../deploy/settings";
import { deployTrustPolicy, PULUMI_OIDC_URL } from "../../deploy/trustPolicy";
import {
  Evaluation,
  loadStackConfig,
  MOCK_ACCOUNT_ID,
  PROJECT_ROOT,
  RecordedResource,
} from "../../offline/engine";
import { evaluatedDeployStack, evaluatedStack } from "../../testing/evaluations";
import { assumeRole, deploymentSubject, PULUMI_PROVIDER_ARN } from "./simulate";

const DEPLOY_ROOT = path.join(PROJECT_ROOT, "deploy");

const T = {
  oidcProvider: "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  settings: "pulumiservice:index:DeploymentSettings",
  getOidcProvider: "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider",
} as const;

function only(resources: RecordedResource[], type: string): RecordedResource {
  const found = resources.filter((r) => r.type === type);
  assert.equal(found.length, 1, `expected one ${type}, found ${found.length}`);
  return found[0];
}

describe("deploy program", () => {
  it("is its own project, run with ts-node from deploy/ with an explicit entry point", () => {
    const project = parseYaml(fs.readFileSync(path.join(DEPLOY_ROOT, "Pulumi.yaml"), "utf8"));
    assert.equal(project.name, DEPLOY_PROJECT);
    // Without `main`, Pulumi would run the package.json's main: the job program.
    assert.equal(project.main, "index.ts");
    assert.ok(fs.existsSync(path.join(DEPLOY_ROOT, project.main)));
    assert.deepEqual(project.runtime, { name: "nodejs", options: { typescript: true } });
    // Pulumi's ts-node reads tsconfig.json from the program's folder: the repository's settings.
    const tsconfig = JSON.parse(fs.readFileSync(path.join(DEPLOY_ROOT, "tsconfig.json"), "utf8"));
    assert.equal(tsconfig.extends, "../tsconfig.json");
  });

  const expected: Record<string, { branch: string; createsProvider: boolean }> = {
    dev: { branch: "main", createsProvider: true },
    prod: { branch: "release", createsProvider: false },
  };

  for (const [stack, { branch, createsProvider }] of Object.entries(expected)) {
    describe(`stack ${stack}`, function () {
      this.timeout(60_000);
      let evaluation: Evaluation;
      let resources: RecordedResource[];
      let config: DeployConfig;

      before(async () => {
        const raw = loadStackConfig(stack, DEPLOY_ROOT);
        config = parseDeployConfig(deployConfigFromPulumi(raw), stack);
        evaluation = await evaluatedDeployStack(stack);
        resources = evaluation.resources;
      });

      it(`${createsProvider ? "creates" : "looks up"} the account's Pulumi OIDC provider, and declares one role, its policy and the settings`, () => {
        assert.deepEqual(
          resources
            .filter((r) => r.custom)
            .map((r) => `${r.type} ${r.name}`)
            .sort(),
          [
            ...(createsProvider ? [`${T.oidcProvider} pulumi-cloud-oidc`] : []),
            `${T.role} transient-jobs-deploy-${stack}`,
            `${T.rolePolicy} transient-jobs-deploy-${stack}`,
            `${T.settings} ${stack}-deployment-settings`,
          ].sort(),
        );
        const lookups = evaluation.calls.filter((c) => c.token === T.getOidcProvider);
        if (createsProvider) {
          const provider = only(resources, T.oidcProvider);
          assert.deepEqual(provider.inputs, {
            url: PULUMI_OIDC_URL,
            clientIdLists: [config.organization],
          });
          // Other deploy stacks of the account trust it too.
          assert.equal(provider.retainOnDelete, true);
          assert.equal(lookups.length, 0);
        } else {
          assert.deepEqual(
            lookups.map((c) => c.inputs),
            [{ url: PULUMI_OIDC_URL }],
          );
        }
      });

      it(`deploys ${stack} on pushes to ${branch}, previews pull requests, installs with npm ci`, () => {
        const settings = only(resources, T.settings).inputs as Record<string, any>;
        const role = only(resources, T.role);
        assert.deepEqual(settings, {
          organization: "acme",
          project: "transient-jobs",
          stack,
          sourceContext: { git: { branch: `refs/heads/${branch}`, repoDir: "." } },
          github: {
            repository: "acme/transient-jobs",
            deployCommits: true,
            previewPullRequests: true,
            pullRequestTemplate: false,
          },
          operationContext: {
            preRunCommands: PRE_RUN_COMMANDS,
            options: { skipInstallDependencies: true, shell: "bash" },
            oidc: {
              aws: {
                roleARN: role.state.arn,
                sessionName: `pulumi-deploy-transient-jobs-${stack}`,
                duration: "1h",
              },
            },
          },
        });
        assert.ok(PRE_RUN_COMMANDS.some((c) => /^npm ci\b/.test(c)));
        assert.match(String(role.state.arn), /^arn:aws:iam::\d{12}:role\/transient-jobs-deploy-/);
      });

      it("writes the role's permissions before the settings can trigger a deployment", () => {
        const settings = only(resources, T.settings);
        assert.ok(settings.dependencies?.includes(only(resources, T.rolePolicy).urn));
      });

      it("lets only this stack's deployments assume the role", () => {
        const role = only(resources, T.role);
        const trust = JSON.parse(String(role.inputs.assumeRolePolicy)) as PolicyDocument;
        assert.deepEqual(
          trust,
          deployTrustPolicy({
            oidcProviderArn: PULUMI_PROVIDER_ARN,
            organization: "acme",
            project: "transient-jobs",
            stack,
          }),
        );
        for (const other of Object.keys(expected)) {
          const token = { aud: "acme", sub: deploymentSubject("acme", "transient-jobs", other) };
          assert.equal(
            assumeRole(trust, token),
            other === stack ? "Allowed" : "ImplicitlyDenied",
            `a deployment of ${other} assuming ${stack}'s role`,
          );
        }
        assert.ok(Number(role.inputs.maxSessionDuration) >= 3600);
      });

      it("grants the role the stack's permissions, without deletion of retained data in prod", () => {
        const policy = JSON.parse(String(only(resources, T.rolePolicy).inputs.policy));
        assert.equal(
          only(resources, T.rolePolicy).inputs.role,
          `${only(resources, T.role).name}-id`,
        );
        assert.deepEqual(
          policy,
          deployPermissionPolicy({
            partition: "aws",
            accountId: MOCK_ACCOUNT_ID,
            environment: stack,
            retainData: stack === "prod",
          }),
        );
      });

      it("exports the stack it deploys and the role", () => {
        assert.deepEqual(Object.keys(evaluation.outputs).sort(), [
          "branch",
          "deployRoleArn",
          "deploymentSettingsStack",
          "jobStack",
          "pulumiOidcProviderArn",
        ]);
        assert.equal(evaluation.outputs.jobStack, `acme/transient-jobs/${stack}`);
        assert.equal(evaluation.outputs.branch, branch);
        assert.equal(evaluation.outputs.pulumiOidcProviderArn, PULUMI_PROVIDER_ARN);
      });
    });
  }

  it("keeps Pulumi Cloud out of the job program: its stacks preview without a Pulumi token", async function () {
    this.timeout(120_000);
    for (const stack of Object.keys(expected)) {
      const { evaluation } = await evaluatedStack(stack);
      const cloud = evaluation.resources.filter((r) => r.type.startsWith("pulumiservice:"));
      assert.deepEqual(cloud, []);
      assert.ok(!evaluation.calls.some((c) => c.token.startsWith("pulumiservice:")));
    }
  });
});
