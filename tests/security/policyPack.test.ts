/**
 * The CrossGuard policy pack as the Pulumi CLI runs it: `policy/index.ts` started in its own
 * process (it serves the analyzer gRPC API and prints its port, as for `pulumi preview
 * --policy-pack policy`), then every resource of the dev and prod programs, evaluated under mocks,
 * is sent to its Analyze and AnalyzeStack calls. All must pass, and each deliberately bad
 * resource must be caught with its message.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { loadConfigFile, PROJECT_ROOT, RecordedResource } from "../../offline/engine";
import { evaluatedStack, evaluatedWith } from "../../testing/evaluations";

// The protobuf modules of the engine's analyzer API (no type declarations ship with them).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerpb = require("@pulumi/pulumi/proto/analyzer_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");

/** What the pack reported for one resource. */
type Finding = [policy: string, message: string];

/** A resource as sent to the pack. */
interface Sent {
  type: string;
  name: string;
  props: Record<string, unknown>;
  urn?: string;
  propertyDependencies?: Record<string, string[]>;
}

/** JSON-safe copy: the mocks' inputs hold assets and promises the engine would have resolved. */
function plain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(value, (key, v) =>
      key === "code" || (v && typeof v.then === "function") ? undefined : v,
    ),
  );
}

function analyzerResource(message: any, sent: Sent): any {
  const urn = sent.urn ?? `urn:pulumi:test::transient-jobs::${sent.type}::${sent.name}`;
  message.setType(sent.type);
  message.setName(sent.name);
  message.setUrn(urn);
  message.setProperties(Struct.fromJavaScript(plain(sent.props) as any));
  message.setOptions(new analyzerpb.AnalyzerResourceOptions());
  return message;
}

class PolicyPackProcess {
  private child?: ChildProcess;
  private client: any;

  /** Starts `policy/index.ts` the way the CLI's policy host does and connects to it. */
  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ["-r", require.resolve("ts-node/register/transpile-only"), "index.ts"],
      {
        cwd: path.join(PROJECT_ROOT, "policy"),
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, TS_NODE_PROJECT: path.join(PROJECT_ROOT, "tsconfig.json") },
      },
    );
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(() => reject(new Error(`no port within 30 s\n${stderr}`)), 30000);
      child.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /^(\d+)\s*$/m.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the policy pack exited with ${code}\n${stderr}`));
      });
    });
    this.client = new analyzerrpc.AnalyzerClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
  }

  stop(): void {
    this.client?.close();
    if (this.child?.pid !== undefined && this.child.exitCode === null) this.child.kill("SIGTERM");
  }

  private call<T>(method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) =>
      this.client[method](request, (error: Error | null, response: T) =>
        error ? reject(error) : resolve(response),
      ),
    );
  }

  private static findings(response: any): Finding[] {
    return response.getDiagnosticsList().map((d: any): Finding => {
      // The server prefixes each message with the policy's description.
      const message: string = d.getMessage();
      const prefix = `${d.getDescription()}\n`;
      return [
        d.getPolicyname(),
        message.startsWith(prefix) ? message.slice(prefix.length) : message,
      ];
    });
  }

  async info(): Promise<{ name: string; policies: Array<[string, number]> }> {
    const info: any = await this.call("getAnalyzerInfo", new Empty());
    return {
      name: info.getName(),
      policies: info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]),
    };
  }

  async analyze(sent: Sent): Promise<Finding[]> {
    const response = await this.call(
      "analyze",
      analyzerResource(new analyzerpb.AnalyzeRequest(), sent),
    );
    return PolicyPackProcess.findings(response);
  }

  async analyzeStack(resources: Sent[]): Promise<Finding[]> {
    const request = new analyzerpb.AnalyzeStackRequest();
    request.setResourcesList(
      resources.map((sent) => {
        const resource = analyzerResource(new analyzerpb.AnalyzerResource(), sent);
        for (const [key, urns] of Object.entries(sent.propertyDependencies ?? {})) {
          const deps = new analyzerpb.AnalyzerPropertyDependencies();
          deps.setUrnsList(urns);
          resource.getPropertydependenciesMap().set(key, deps);
        }
        return resource;
      }),
    );
    return PolicyPackProcess.findings(await this.call("analyzeStack", request));
  }
}

/** Inputs as `analyze` sees them; state (outputs) and id as `analyzeStack` sees them. */
const asInputs = (r: RecordedResource): Sent => ({ type: r.type, name: r.name, props: r.inputs });
const asOutputs = (r: RecordedResource): Sent => ({
  type: r.type,
  name: r.name,
  urn: r.urn,
  props: { ...r.state, id: r.id },
});

const GOOD_TEMPLATE = {
  imageId: "ami-0123456789abcdef0",
  metadataOptions: { httpEndpoint: "enabled", httpTokens: "required" },
  blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeSize: 30 } }],
};

/** Deliberately bad resources and exactly what the pack must say about each. */
const BAD: Array<[string, string, Record<string, unknown>, Finding[]]> = [
  [
    "a public-read bucket",
    "aws:s3/bucket:Bucket",
    { acl: "public-read" },
    [
      [
        "s3-no-public-bucket",
        'acl: "public-read" makes the bucket public; leave acl unset (private)',
      ],
    ],
  ],
  [
    "a bucket ACL granting AllUsers",
    "aws:s3/bucketAclV2:BucketAclV2",
    {
      accessControlPolicy: {
        grants: [
          {
            grantee: { type: "Group", uri: "http://acs.amazonaws.com/groups/global/AllUsers" },
            permission: "READ",
          },
        ],
      },
    },
    [
      [
        "s3-no-public-bucket",
        "grants: a grant to AllUsers or AuthenticatedUsers makes the bucket public",
      ],
    ],
  ],
  [
    "a bucket policy letting everyone read",
    "aws:s3/bucketPolicy:BucketPolicy",
    {
      bucket: "b",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "Public",
            Effect: "Allow",
            Principal: "*",
            Action: "s3:GetObject",
            Resource: "arn:aws:s3:::b/*",
          },
        ],
      }),
    },
    [
      [
        "s3-no-public-bucket",
        'policy statement "Public": allows everyone ("*"); name the principals',
      ],
    ],
  ],
  [
    "a half-open public access block",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    { bucket: "b", blockPublicAcls: true, blockPublicPolicy: false, ignorePublicAcls: true },
    [
      ["s3-no-public-bucket", "blockPublicPolicy: false; set it to true"],
      ["s3-no-public-bucket", "restrictPublicBuckets: null; set it to true"],
    ],
  ],
  [
    "an IMDSv1 launch template",
    "aws:ec2/launchTemplate:LaunchTemplate",
    { ...GOOD_TEMPLATE, metadataOptions: { httpEndpoint: "enabled", httpTokens: "optional" } },
    [
      [
        "ec2-imdsv2-required",
        'metadataOptions.httpTokens: "optional" allows IMDSv1; set metadataOptions: { httpTokens: "required" }',
      ],
    ],
  ],
  [
    "a launch template without metadata options",
    "aws:ec2/launchTemplate:LaunchTemplate",
    { ...GOOD_TEMPLATE, metadataOptions: undefined },
    [
      [
        "ec2-imdsv2-required",
        'metadataOptions.httpTokens: null allows IMDSv1; set metadataOptions: { httpTokens: "required" }',
      ],
    ],
  ],
  [
    "a launch template with an unencrypted volume and an SSH key",
    "aws:ec2/launchTemplate:LaunchTemplate",
    {
      ...GOOD_TEMPLATE,
      keyName: "ops",
      blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 30 } }],
    },
    [
      ["ebs-encrypted-volumes", 'blockDeviceMappings[0].ebs.encrypted: null; set it to "true"'],
      [
        "ec2-no-ssh-key",
        'keyName: "ops" installs an SSH key; remove it (instances take no logins)',
      ],
    ],
  ],
  [
    "a launch template leaving the root volume to the AMI",
    "aws:ec2/launchTemplate:LaunchTemplate",
    { ...GOOD_TEMPLATE, blockDeviceMappings: [] },
    [
      [
        "ebs-encrypted-volumes",
        'blockDeviceMappings: no EBS volume is declared, so the AMI\'s snapshot decides encryption; declare the root volume with ebs.encrypted: "true"',
      ],
    ],
  ],
  [
    "an instance with IMDSv1 and an unencrypted root volume",
    "aws:ec2/instance:Instance",
    { ami: "ami-1", instanceType: "t3.micro", rootBlockDevice: { encrypted: false } },
    [
      [
        "ec2-imdsv2-required",
        'metadataOptions.httpTokens: null allows IMDSv1; set metadataOptions: { httpTokens: "required" }',
      ],
      [
        "ebs-encrypted-volumes",
        "rootBlockDevice.encrypted: false; set rootBlockDevice: { encrypted: true }",
      ],
    ],
  ],
  [
    "an unencrypted EBS volume",
    "aws:ebs/volume:Volume",
    { availabilityZone: "eu-west-1a", size: 10 },
    [["ebs-encrypted-volumes", "encrypted: null; set it to true"]],
  ],
  [
    "a security group open to the internet on SSH",
    "aws:ec2/securityGroup:SecurityGroup",
    {
      ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }],
      egress: [],
    },
    [
      [
        "ec2-no-inbound-from-anywhere",
        "ingress[0]: allows 0.0.0.0/0 on tcp 22-22; the job instances take no inbound traffic",
      ],
      [
        "ec2-no-inbound-rules",
        "ingress: 1 rule(s); job instances accept no inbound traffic (they pull work and push results), remove them",
      ],
    ],
  ],
  [
    "an IPv6 ingress rule from anywhere",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" },
    [
      [
        "ec2-no-inbound-from-anywhere",
        "ingress[0]: allows ::/0 on tcp 443-443; the job instances take no inbound traffic",
      ],
      [
        "ec2-no-inbound-rules",
        "ingress: 1 rule(s); job instances accept no inbound traffic (they pull work and push results), remove them",
      ],
    ],
  ],
  [
    "a role policy allowing s3:*",
    "aws:iam/rolePolicy:RolePolicy",
    {
      role: "r",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "Everything", Effect: "Allow", Action: ["s3:*"], Resource: "*" }],
      }),
    },
    [
      [
        "iam-no-wildcard-actions",
        'policy statement "Everything": allows the wildcard action "s3:*"; list the actions it needs',
      ],
    ],
  ],
  [
    "a managed policy allowing *, and NotAction",
    "aws:iam/policy:Policy",
    {
      policy: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: "*", Resource: "*" },
          { Effect: "Allow", NotAction: "iam:*", Resource: "*" },
        ],
      },
    },
    [
      [
        "iam-no-wildcard-actions",
        'policy statement 0: allows the wildcard action "*"; list the actions it needs',
      ],
      [
        "iam-no-wildcard-actions",
        "policy statement 1: Allow with NotAction grants every other action; list the actions it needs",
      ],
    ],
  ],
  [
    "the broad managed policy CallbackFunction attaches without a role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonEC2FullAccess" },
    [
      [
        "iam-no-broad-managed-policies",
        "policyArn: arn:aws:iam::aws:policy/AmazonEC2FullAccess is far broader than any role here needs; write a least-privilege policy in components/policies.ts (and give every CallbackFunction an explicit role)",
      ],
    ],
  ],
];

describe("the policy pack (policy/index.ts over the analyzer gRPC API)", function () {
  this.timeout(120000);
  const pack = new PolicyPackProcess();

  before(async () => pack.start());
  after(() => pack.stop());

  it("serves the transient-jobs pack with every rule mandatory", async () => {
    const info = await pack.info();
    assert.equal(info.name, "transient-jobs");
    const MANDATORY = 1;
    assert.deepEqual(info.policies, [
      ["s3-no-public-bucket", MANDATORY],
      ["ec2-imdsv2-required", MANDATORY],
      ["ebs-encrypted-volumes", MANDATORY],
      ["ec2-no-ssh-key", MANDATORY],
      ["ec2-no-inbound-from-anywhere", MANDATORY],
      ["ec2-no-inbound-rules", MANDATORY],
      ["iam-no-wildcard-actions", MANDATORY],
      ["iam-no-broad-managed-policies", MANDATORY],
      ["s3-buckets-block-public-access", MANDATORY],
    ]);
  });

  // examples/real-jobs.yaml: the jobs' own statements and managed policies pass the pack too.
  for (const stack of ["dev", "prod", "real-jobs"]) {
    it(`passes every resource of the ${stack} program, one by one and as a stack`, async () => {
      const { evaluation } =
        stack === "real-jobs"
          ? await evaluatedWith(
              "dev",
              loadConfigFile(path.join(PROJECT_ROOT, "examples", "real-jobs.yaml")),
            )
          : await evaluatedStack(stack);
      const resources = evaluation.resources;
      // The rules must have something to look at, or passing means nothing.
      for (const type of [
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/role:Role",
      ]) {
        assert.ok(
          resources.some((r) => r.type === type),
          `no ${type} in the ${stack} program`,
        );
      }
      const failures: string[] = [];
      for (const resource of resources) {
        for (const [policy, message] of await pack.analyze(asInputs(resource))) {
          failures.push(`${resource.type} ${resource.name}: ${policy}: ${message}`);
        }
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(await pack.analyzeStack(resources.map(asOutputs)), []);
    });
  }

  for (const [title, type, props, expected] of BAD) {
    it(`catches ${title}`, async () => {
      assert.deepEqual(await pack.analyze({ type, name: "bad", props }), expected);
    });
  }

  it("catches a bucket without a public access block, and one whose block is incomplete", async () => {
    const { evaluation } = await evaluatedStack("dev");
    const outputs = evaluation.resources.map(asOutputs);
    // The results bucket and, with the codebuild builder, each image's source bucket.
    const buckets = outputs.filter((r) => r.type === "aws:s3/bucket:Bucket");
    assert.ok(buckets.some((b) => b.name.endsWith("-results")));
    const withoutBlock = outputs.filter(
      (r) => r.type !== "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    );
    const expected = buckets.map((bucket) => [
      "s3-buckets-block-public-access",
      `bucket ${bucket.name}: has no BucketPublicAccessBlock with all four flags true; add one (components/resultsBucket.ts does)`,
    ]);
    assert.deepEqual(await pack.analyzeStack(withoutBlock), expected);
    const weakened = outputs.map((r) =>
      r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
        ? { ...r, props: { ...r.props, restrictPublicBuckets: false } }
        : r,
    );
    assert.deepEqual(await pack.analyzeStack(weakened), expected);
  });

  it("matches a block to its bucket by property dependency, as the engine reports it", async () => {
    const bucket: Sent = {
      type: "aws:s3/bucket:Bucket",
      name: "b",
      urn: "urn:pulumi:dev::transient-jobs::aws:s3/bucket:Bucket::b",
      props: { bucket: "b-123", arn: "arn:aws:s3:::b-123" },
    };
    const block: Sent = {
      type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      name: "b-public-access",
      props: {
        bucket: "unknown-in-preview",
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
    };
    assert.deepEqual(
      await pack.analyzeStack([
        bucket,
        { ...block, propertyDependencies: { bucket: [bucket.urn!] } },
      ]),
      [],
    );
    assert.equal((await pack.analyzeStack([bucket, block])).length, 1);
  });
});
