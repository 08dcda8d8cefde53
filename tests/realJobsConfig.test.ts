/**
 * Config of real jobs: secrets, the job's own policies and images built elsewhere. Each rule is a
 * row: the job's extra keys in, the exact problem lines out.
 */
import * as assert from "node:assert/strict";
import {
  configWarnings,
  declaredParameterProblems,
  parseStackConfig,
  RawStackConfig,
  StackConfigError,
} from "../config";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const job = (overrides: Record<string, unknown> = {}) => ({
  schedule: "cron(0 6 * * ? *)",
  instanceTypes: ["t3.medium"],
  ...overrides,
});
const stack = (overrides: Record<string, unknown>): RawStackConfig => ({
  regions: ["eu-west-1"],
  jobs: { backup: job(overrides) },
});

function problemsOf(raw: RawStackConfig): string[] {
  try {
    parseStackConfig(raw, "dev");
  } catch (error) {
    assert.ok(error instanceof StackConfigError, `expected StackConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("config was accepted");
}

const K = "transient-jobs:jobs.backup";

describe("config: a job's secrets", () => {
  it("accepts Parameter Store and Secrets Manager references, by name or ARN, with a JSON key", () => {
    const secrets = {
      DB_PASSWORD: "ssm:/backup/db-password",
      API_TOKEN: "secretsmanager:backup/api#token",
      PARTNER_KEY: "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner/key-AbC123#key",
    };
    const config = parseStackConfig(stack({ secrets }), "dev");
    assert.deepEqual(config.jobs[0].secrets, secrets);
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    [
      "a reference of no known kind",
      { secrets: { DB_PASSWORD: "vault:/db" } },
      [
        `${K}.secrets.DB_PASSWORD: "vault:/db" is not a secret reference: use ssm:/<parameter path>, secretsmanager:<secret name>[#<json key>] or a Secrets Manager secret ARN arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>[#<json key>]`,
      ],
    ],
    [
      "a parameter name that is not fully qualified",
      { secrets: { DB_PASSWORD: "ssm:db-password" } },
      [
        `${K}.secrets.DB_PASSWORD: "ssm:db-password" is not a Parameter Store reference: use ssm:/<path>/<name> (a fully qualified parameter name: letters, digits and . - _ /, starting with "/")`,
      ],
    ],
    [
      "a JSON key with characters a command line would need quoted",
      { secrets: { API_TOKEN: "secretsmanager:api#a key" } },
      [
        `${K}.secrets.API_TOKEN: "secretsmanager:api#a key" has an invalid JSON key "a key": use 1-128 letters, digits, "_", "." or "-"`,
      ],
    ],
    [
      "a secret named like a reserved variable",
      { secrets: { RUN_ID: "ssm:/x" } },
      [
        `${K}.secrets.RUN_ID: "RUN_ID" is reserved; the init script sets RUN_ID, RESULTS_BUCKET, RESULTS_PREFIX, AWS_REGION, SCRATCH_DIR, CHECKPOINT_URI, ATTEMPT`,
      ],
    ],
    [
      "a secret that is also a parameter",
      { parameters: { DB_PASSWORD: "x" }, secrets: { DB_PASSWORD: "ssm:/db" } },
      [
        `${K}.secrets.DB_PASSWORD: "DB_PASSWORD" is also a parameter; a variable comes from one place: remove it from parameters or from secrets`,
      ],
    ],
  ];
  for (const [title, overrides, expected] of cases) {
    it(`refuses ${title}`, () => assert.deepEqual(problemsOf(stack(overrides)), expected));
  }
});

describe("config: a job's own policies", () => {
  it("accepts managed policies and statements, and keeps them as given", () => {
    const policies = {
      managed: ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
      statements: [
        {
          Sid: "ReadPartnerDrop",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:ListBucket"],
          Resource: ["arn:aws:s3:::partner-drop", "arn:aws:s3:::partner-drop/*"],
          Condition: { Bool: { "aws:SecureTransport": true } },
        },
      ],
    };
    assert.deepEqual(parseStackConfig(stack({ policies }), "dev").jobs[0].policies, policies);
  });

  const statement = (overrides: Record<string, unknown>) => ({
    policies: {
      statements: [
        { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*", ...overrides },
      ],
    },
  });
  const cases: [string, Record<string, unknown>, string[]][] = [
    [
      "a wildcard action",
      statement({ Action: ["s3:GetObject", "s3:*"] }),
      [
        `${K}.policies.statements[0].Action[1]: "s3:*" is a wildcard action: list the actions the job needs (the policy pack refuses wildcards)`,
      ],
    ],
    [
      "the everything action",
      statement({ Action: "*" }),
      [
        `${K}.policies.statements[0].Action: "*" is a wildcard action: list the actions the job needs (the policy pack refuses wildcards)`,
      ],
    ],
    [
      "NotAction",
      statement({ Action: undefined, NotAction: "iam:CreateUser" }),
      [
        `${K}.policies.statements[0].Action: (missing) is required: set it to a string`,
        `${K}.policies.statements[0].NotAction: "iam:CreateUser" is not allowed: NotAction grants every action it does not name; list the actions under Action`,
      ],
    ],
    [
      "a malformed resource ARN",
      statement({ Resource: "arn:aws:s3:partner-drop" }),
      [
        `${K}.policies.statements[0].Resource: "arn:aws:s3:partner-drop" is not a resource ARN ("arn:<partition>:<service>:<region>:<account>:<resource>") or "*"`,
      ],
    ],
    [
      "an administrator-like managed policy",
      { policies: { managed: ["arn:aws:iam::aws:policy/AdministratorAccess"] } },
      [
        `${K}.policies.managed[0]: "arn:aws:iam::aws:policy/AdministratorAccess" is an administrator-like managed policy, far broader than a job needs (the policy pack refuses it); attach a narrower policy or write statements`,
      ],
    ],
    [
      "a malformed managed policy ARN",
      { policies: { managed: ["arn:aws:iam::12345:policy/x"] } },
      [
        `${K}.policies.managed[0]: "arn:aws:iam::12345:policy/x" is not a managed policy ARN (e.g. "arn:aws:iam::123456789012:policy/read-reports" or "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")`,
      ],
    ],
    [
      "more managed policies than IAM attaches to a role",
      {
        policies: {
          managed: Array.from({ length: 11 }, (_, i) => `arn:aws:iam::123456789012:policy/p${i}`),
        },
      },
      [
        `${K}.policies.managed: ${JSON.stringify(Array.from({ length: 11 }, (_, i) => `arn:aws:iam::123456789012:policy/p${i}`)).slice(0, 77)}... must list at most 10 policies (IAM's quota of managed policies per role)`,
      ],
    ],
  ];
  for (const [title, overrides, expected] of cases) {
    it(`refuses ${title}`, () => assert.deepEqual(problemsOf(stack(overrides)), expected));
  }
});

describe("config: images built elsewhere", () => {
  it("accepts an ECR image of another account and region, and a public image", () => {
    const config = parseStackConfig(
      {
        regions: ["eu-west-1"],
        jobs: {
          analysis: job({
            imageUri: `210987654321.dkr.ecr.us-east-1.amazonaws.com/team/analysis@${DIGEST}`,
          }),
          public: job({ imageUri: "public.ecr.aws/docker/library/python:3.12" }),
        },
      },
      "dev",
    );
    assert.deepEqual(
      config.jobs.map((j) => j.imageUri),
      [
        `210987654321.dkr.ecr.us-east-1.amazonaws.com/team/analysis@${DIGEST}`,
        "public.ecr.aws/docker/library/python:3.12",
      ],
    );
  });

  it("refuses a build context and an image together", () => {
    assert.deepEqual(problemsOf(stack({ image: "job-image", imageUri: "public.ecr.aws/a/b:1" })), [
      `${K}.imageUri: "public.ecr.aws/a/b:1" is set and so is image "job-image"; a job runs either an image built from its build context (image) or one built elsewhere (imageUri): remove one`,
    ]);
  });

  it("refuses an image without its registry", () => {
    assert.deepEqual(problemsOf(stack({ imageUri: "python:3.12" })), [
      `${K}.imageUri: "python:3.12" is not an image reference: use <registry host>/<repository>[:<tag>][@sha256:<digest>], with the registry named (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/job@sha256:…, public.ecr.aws/org/job:1.2, docker.io/library/python:3.12)`,
    ]);
  });

  it("warns about a mutable tag, not about a digest", () => {
    const config = parseStackConfig(
      {
        regions: ["eu-west-1"],
        jobs: {
          tagged: job({ imageUri: "public.ecr.aws/team/job:latest" }),
          pinned: job({ imageUri: `public.ecr.aws/team/job:1.2@${DIGEST}` }),
          built: job(),
        },
      },
      "dev",
    );
    assert.deepEqual(configWarnings(config), [
      `transient-jobs:jobs.tagged.imageUri: "public.ecr.aws/team/job:latest" names a mutable tag: each run pulls whatever it points to then; pin the image by digest (…@sha256:<digest>) for repeatable runs`,
    ]);
  });

  it("checks no parameters.json for an image built elsewhere", () => {
    const config = parseStackConfig(
      stack({ imageUri: "public.ecr.aws/team/job:1", parameters: { UNDECLARED: "1" } }),
      "dev",
    );
    const read: string[] = [];
    const problems = declaredParameterProblems(config.jobs, (file) => {
      read.push(file);
      return JSON.stringify({});
    });
    assert.deepEqual([problems, read], [[], []]);
  });
});
