import * as assert from "node:assert/strict";
import * as path from "node:path";
import {
  DeployConfigError,
  deployConfigFromPulumi,
  durationSeconds,
  parseDeployConfig,
} from "../../deploy/config";
import { loadStackConfig, PROJECT_ROOT } from "../../offline/engine";

const DEPLOY_ROOT = path.join(PROJECT_ROOT, "deploy");

const valid = (overrides: Record<string, unknown> = {}) => ({
  organization: "acme",
  repository: "acme/transient-jobs",
  branch: "main",
  ...overrides,
});

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseDeployConfig(raw, "dev");
  } catch (error) {
    assert.ok(error instanceof DeployConfigError, `expected DeployConfigError, got ${error}`);
    return error.problems;
  }
  assert.fail("config was accepted");
}

describe("parseDeployConfig", () => {
  const bad: Array<[string, Record<string, unknown>, string]> = [
    [
      "missing organization",
      { repository: "acme/transient-jobs", branch: "main" },
      "transient-jobs-deploy:organization: (missing) is invalid: expected string, received undefined",
    ],
    [
      "organization with capitals",
      valid({ organization: "Acme" }),
      'transient-jobs-deploy:organization: "Acme" must be lowercase, as in app.pulumi.com/<org>',
    ],
    [
      "organization with a wildcard",
      valid({ organization: "acme*" }),
      'transient-jobs-deploy:organization: "acme*" is not a valid Pulumi organization name',
    ],
    [
      "repository without owner",
      valid({ repository: "transient-jobs" }),
      'transient-jobs-deploy:repository: "transient-jobs" is not a GitHub repository ("owner/name")',
    ],
    [
      "branch given as a ref",
      valid({ branch: "refs/heads/main" }),
      'transient-jobs-deploy:branch: "refs/heads/main" is not a branch name',
    ],
    [
      "branch pattern",
      valid({ branch: "release/*" }),
      'transient-jobs-deploy:branch: "release/*" is not a branch name',
    ],
    [
      "job stack with a colon",
      valid({ jobStack: "prod:x" }),
      'transient-jobs-deploy:jobStack: "prod:x" is not a valid stack name',
    ],
    [
      "repo dir outside the repository",
      valid({ repoDir: "../elsewhere" }),
      'transient-jobs-deploy:repoDir: "../elsewhere" must be a folder inside the repository',
    ],
    [
      "session longer than AWS allows",
      valid({ sessionDuration: "13h" }),
      'transient-jobs-deploy:sessionDuration: "13h" is not a duration from 15m to 12h',
    ],
    [
      "session in seconds as a number",
      valid({ sessionDuration: 3600 }),
      "transient-jobs-deploy:sessionDuration: 3600 is invalid: expected string, received number",
    ],
    [
      "empty path filter list",
      valid({ paths: [] }),
      "transient-jobs-deploy:paths: [] is too small: expected array to have >=1 items",
    ],
    [
      "misspelt key",
      valid({ deployCommit: true }),
      "transient-jobs-deploy:deployCommit: unknown key; check the spelling against deploy/Pulumi.yaml",
    ],
  ];
  for (const [title, raw, expected] of bad) {
    it(`rejects ${title}`, () => {
      const problems = problemsOf(raw);
      assert.ok(
        problems.some((p) => p.startsWith(expected)),
        `expected a problem starting with\n  ${expected}\ngot\n  ${problems.join("\n  ")}`,
      );
    });
  }

  it("applies documented defaults; the job stack defaults to the deploy stack", () => {
    assert.deepEqual(parseDeployConfig(valid(), "dev"), {
      organization: "acme",
      repository: "acme/transient-jobs",
      branch: "main",
      jobStack: "dev",
      repoDir: ".",
      deployCommits: true,
      previewPullRequests: true,
      createOidcProvider: true,
      retainData: false,
      sessionDuration: "1h",
    });
    assert.equal(parseDeployConfig(valid(), "prod").retainData, true);
    assert.equal(parseDeployConfig(valid({ retainData: false }), "prod").retainData, false);
  });

  it("reads the shipped deploy stacks: dev deploys main, prod deploys release", () => {
    const read = (stack: string) =>
      parseDeployConfig(deployConfigFromPulumi(loadStackConfig(stack, DEPLOY_ROOT)), stack);
    const dev = read("dev");
    const prod = read("prod");
    assert.deepEqual(
      [dev.jobStack, dev.branch, dev.createOidcProvider, dev.retainData],
      ["dev", "main", true, false],
    );
    assert.deepEqual(
      [prod.jobStack, prod.branch, prod.createOidcProvider, prod.retainData],
      ["prod", "release", false, true],
    );
    assert.equal(dev.organization, prod.organization);
    assert.equal(dev.repository, prod.repository);
  });
});

describe("durationSeconds", () => {
  for (const [text, seconds] of [
    ["1h", 3600],
    ["1h30m", 5400],
    ["45m", 2700],
    ["90s", 90],
    ["", undefined],
    ["1d", undefined],
    ["30m1h", undefined],
  ] as const) {
    it(`${JSON.stringify(text)} is ${seconds}`, () => assert.equal(durationSeconds(text), seconds));
  }
});
