/**
 * Runs the Pulumi program offline, under Pulumi's official unit-test mocks, and records every
 * resource it declares. Used by `npm run plan` and by the infrastructure tests: no Pulumi CLI,
 * no plugins, no AWS account.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { NAME_RULES, nameProblem, nameRuleOf, physicalName } from "../lib/resourceNames";
import { instanceTypeNameProblem, splitInstanceType } from "../lib/instanceTypes";
import { EC2_SERVICE_CODE, PRICING_API_REGIONS } from "../lib/priceList";
import {
  buildEnvironmentProblem,
  IMAGE_BUILD_TYPE,
  IMAGE_DIGEST_PATTERN,
  s3SourceLocationProblem,
  TIMEOUT_RANGE,
} from "../lib/codeBuild";
import { knownStacks, PROJECT_ROOT } from "./stacks";

export { knownStacks, PROJECT_ROOT };

/** Account id the mocks report. */
export const MOCK_ACCOUNT_ID = "123456789012";

/** One registered resource, as the engine would see it. */
export interface RecordedResource {
  urn: string;
  /** Physical id the mock assigned (e.g. `lt-…` for a launch template). */
  id: string;
  type: string;
  name: string;
  /** URN of the parent resource, if any. */
  parent?: string;
  /** `true` for custom (cloud) resources, `false` for components. */
  custom: boolean;
  /** Region of the explicit AWS provider the resource was registered with, if any. */
  providerRegion?: string;
  /** Inputs as the provider would receive them (Outputs resolved). */
  inputs: Record<string, unknown>;
  /** URNs the resource waits for (explicit `dependsOn`, components expanded, and its inputs'). */
  dependencies?: string[];
  /** The `retainOnDelete` option: deleting it from the program leaves it in the cloud. */
  retainOnDelete?: boolean;
  /** State returned by the mock, i.e. inputs plus computed attributes. */
  state: Record<string, unknown>;
}

/** One data-source call, e.g. the default-VPC lookup. */
export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
  providerRegion?: string;
}

/** Everything one offline run produced. */
export interface Evaluation {
  resources: RecordedResource[];
  calls: RecordedCall[];
  /** The stack outputs (the program's exports). */
  outputs: Record<string, unknown>;
  /** How the Lambda closures were turned into code (see {@link EvaluationOptions.closures}). */
  closures: ClosureCode;
}

/**
 * `serialized`: by Pulumi's closure serializer, as `pulumi up` does. `placeholder`: each Lambda
 * gets {@link PLACEHOLDER_CLOSURE} instead, for the evaluations that vary config the closures'
 * code does not depend on (regions, names) and read no code: serializing takes about half of an
 * evaluation.
 */
export type ClosureCode = "serialized" | "placeholder";

/** The code of every Lambda closure in a `placeholder` evaluation: it refuses to run. */
export const PLACEHOLDER_CLOSURE =
  'exports.handler = async () => { throw new Error("this offline evaluation did not serialize its closures"); };\n';

/** How to evaluate a program; every field has the default `pulumi up` behaves like. */
export interface EvaluationOptions {
  /** The entry module, without extension (default `index.ts` of the project). */
  program?: string;
  /** The `name` in the program's `Pulumi.yaml`: the config namespace `new pulumi.Config()` reads. */
  project?: string;
  /** Default `serialized`. */
  closures?: ClosureCode;
}

/** A stack or project file that is not valid YAML; the message is one line: file:line:column. */
export class StackFileError extends Error {}

/** Parses a YAML file, turning a syntax error into one line naming the file, line and column. */
function readYaml(file: string): unknown {
  try {
    return parseYaml(fs.readFileSync(file, "utf8"));
  } catch (error) {
    const { linePos, message } = error as {
      linePos?: Array<{ line: number; col: number }>;
      message: string;
    };
    if (!linePos) throw error;
    const [{ line, col }] = linePos;
    const reason = message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new StackFileError(`${path.basename(file)}:${line}:${col}: ${reason}`);
  }
}

/**
 * Reads `Pulumi.<stack>.yaml` (and the defaults of `Pulumi.yaml`) into Pulumi's flat config map:
 * `namespace:key` → string, with non-string values JSON-encoded, as the CLI passes them.
 */
export function loadStackConfig(stack: string, root = PROJECT_ROOT): Record<string, string> {
  const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFile)) {
    throw new Error(
      `stack "${stack}" has no ${path.basename(stackFile)}; known stacks: ${knownStacks(root).join(", ")}`,
    );
  }
  return loadConfigFile(stackFile, root);
}

/**
 * Reads a stack file of any name (e.g. `examples/real-jobs.yaml`) with the defaults of the
 * project's `Pulumi.yaml`, as {@link loadStackConfig} does for `Pulumi.<stack>.yaml`.
 */
export function loadConfigFile(stackFile: string, root = PROJECT_ROOT): Record<string, string> {
  const project = readYaml(path.join(root, "Pulumi.yaml")) as {
    name: string;
    config?: Record<string, { default?: unknown; value?: unknown }>;
  };
  const encode = (value: unknown): string =>
    typeof value === "string" ? value : JSON.stringify(value);
  const config: Record<string, string> = {};
  for (const [key, declaration] of Object.entries(project.config ?? {})) {
    const value = declaration?.value ?? declaration?.default;
    if (value !== undefined)
      config[key.includes(":") ? key : `${project.name}:${key}`] = encode(value);
  }
  const stackConfig =
    (readYaml(stackFile) as { config?: Record<string, unknown> } | null)?.config ?? {};
  for (const [key, value] of Object.entries(stackConfig)) {
    if (value && typeof value === "object" && "secure" in (value as object)) {
      throw new Error(
        `${key} is a secret; secrets cannot be decrypted offline: override it in the test`,
      );
    }
    config[key] = encode(value);
  }
  return config;
}

const shortHash = (text: string, length = 17): string =>
  createHash("sha256").update(text).digest("hex").slice(0, length);

/** Resource inputs and call arguments as the mock receives them (already deserialized). */
type MockInputs = Record<string, string | undefined>;

/**
 * Raised when the program declares a name AWS would refuse, or a resource type whose name rules
 * the engine does not know; `problems` holds one line per resource.
 */
export class ResourceNameError extends Error {
  constructor(readonly problems: string[]) {
    super(`Names AWS would refuse:\n  ${problems.join("\n  ")}`);
    this.name = "ResourceNameError";
  }
}

/**
 * Raised when the program declares a resource AWS would refuse for what it is, not its name
 * (e.g. a CodeBuild environment whose image does not run on its machine type).
 */
export class ResourceRefusedError extends Error {
  constructor(readonly problems: string[]) {
    super(`Resources AWS would refuse:\n  ${problems.join("\n  ")}`);
    this.name = "ResourceRefusedError";
  }
}

/** ECR's image tag rule (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html). */
const ECR_TAG = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$/;

const timeoutProblem = (what: string, minutes: unknown, max: number = TIMEOUT_RANGE.max) =>
  typeof minutes === "number" &&
  Number.isInteger(minutes) &&
  minutes >= TIMEOUT_RANGE.min &&
  minutes <= max
    ? undefined
    : `${what} ${JSON.stringify(minutes)} is not a whole number of minutes from ${TIMEOUT_RANGE.min} to ${max}`;

/**
 * What CodeBuild, S3 and StartBuild would refuse in the inputs of the build resources
 * (CreateProject: https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html;
 * StartBuild: https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html).
 */
export function buildResourceProblems(type: string, inputs: Record<string, unknown>): string[] {
  const problems: (string | undefined)[] = [];
  if (type === "aws:codebuild/project:Project") {
    const environment = (inputs.environment ?? {}) as Record<string, unknown>;
    problems.push(buildEnvironmentProblem(environment));
    problems.push(timeoutProblem("buildTimeout", inputs.buildTimeout));
    // QueuedTimeoutInMinutes: 5-480.
    problems.push(timeoutProblem("queuedTimeout", inputs.queuedTimeout, 480));
    const source = (inputs.source ?? {}) as Record<string, unknown>;
    if (source.type === "S3" && !String(source.location ?? "").endsWith("/")) {
      problems.push(s3SourceLocationProblem(String(source.location)));
    }
    if (!/^arn:[^:]+:iam::\d{12}:role\//.test(String(inputs.serviceRole))) {
      problems.push(`serviceRole "${inputs.serviceRole}" is not an IAM role ARN`);
    }
  }
  if (type === "aws:cloudwatch/eventRule:EventRule") {
    problems.push(eventPatternProblem(inputs.eventPattern));
  }
  if (type === "aws:s3/bucketObjectv2:BucketObjectv2") {
    const key = String(inputs.key ?? "");
    if (key === "" || Buffer.byteLength(key) > 1024) {
      problems.push(`object key "${key}" must be 1-1024 bytes`);
    }
  }
  if (type === IMAGE_BUILD_TYPE) {
    problems.push(s3SourceLocationProblem(String(inputs.sourceLocation)));
    problems.push(timeoutProblem("timeoutInMinutesOverride", inputs.timeoutMinutes));
    const project = nameRuleOf("aws:codebuild/project:Project")!;
    problems.push(nameProblem(project, String(inputs.projectName)));
    if (!ECR_TAG.test(String(inputs.imageTag))) {
      problems.push(`image tag "${inputs.imageTag}" is not a valid ECR tag`);
    }
  }
  return problems.filter((p): p is string => p !== undefined);
}

/**
 * Instance tag keys an instance with tags in its metadata may carry: letters, digits and
 * `+ - = . , _ : @`, not `.`, `..` or `_index`; others fail the launch
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html).
 */
export function metadataTagKeyProblem(key: string): string | undefined {
  return /^[A-Za-z0-9+\-=.,_:@]+$/.test(key) && ![".", "..", "_index"].includes(key)
    ? undefined
    : `instance tag key ${JSON.stringify(key)} breaks the rule of tags in instance metadata (letters, digits and + - = . , _ : @; not ".", ".." or "_index"): RunInstances would fail`;
}

/** What RunInstances would refuse of the instances a launch template describes. */
export function launchTemplateProblems(type: string, inputs: Record<string, unknown>): string[] {
  if (type !== "aws:ec2/launchTemplate:LaunchTemplate") return [];
  const metadata = (inputs.metadataOptions ?? {}) as Record<string, unknown>;
  if (metadata.instanceMetadataTags !== "enabled") return [];
  const specs = (inputs.tagSpecifications ?? []) as { resourceType?: string; tags?: object }[];
  return specs
    .filter((spec) => spec.resourceType === "instance")
    .flatMap((spec) => Object.keys(spec.tags ?? {}))
    .map(metadataTagKeyProblem)
    .filter((p): p is string => p !== undefined);
}

/**
 * Why PutRule would refuse an event pattern, or undefined: a pattern is a JSON object whose every
 * field matches an array of values (or of matchers) or is a nested object of such fields, and
 * never empty (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html).
 */
export function eventPatternProblem(pattern: unknown): string | undefined {
  let parsed: unknown;
  try {
    parsed = typeof pattern === "string" ? JSON.parse(pattern) : pattern;
  } catch {
    return `event pattern ${JSON.stringify(pattern)} is not JSON`;
  }
  const check = (value: unknown, at: string): string | undefined => {
    if (Array.isArray(value)) {
      return value.length === 0 ? `event pattern field ${at} matches an empty list` : undefined;
    }
    if (typeof value !== "object" || value === null) {
      return `event pattern field ${at} is ${JSON.stringify(value)}; a pattern's values must be lists, e.g. ["terminated"]`;
    }
    const entries = Object.entries(value);
    if (entries.length === 0) return `event pattern ${at || "(top)"} is an empty object`;
    for (const [key, inner] of entries) {
      const problem = check(inner, at ? `${at}.${key}` : key);
      if (problem) return problem;
    }
    return undefined;
  };
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return "an event pattern must be a JSON object";
  }
  return check(parsed, "");
}

/**
 * EventBridge rule targets AWS would leave undelivered: a Lambda target needs a statement in the
 * function's resource policy for `events.amazonaws.com` with the rule's ARN as source
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html); without
 * it, every event fails to invoke.
 */
export function eventTargetProblems(resources: readonly RecordedResource[]): string[] {
  const rules = resources.filter((r) => r.type === "aws:cloudwatch/eventRule:EventRule");
  const functions = resources.filter((r) => r.type === "aws:lambda/function:Function");
  const permissions = resources.filter((r) => r.type === "aws:lambda/permission:Permission");
  const problems: string[] = [];
  for (const target of resources.filter(
    (r) => r.type === "aws:cloudwatch/eventTarget:EventTarget",
  )) {
    const fn = functions.find((f) => f.state.arn === target.inputs.arn);
    if (!fn) continue;
    const rule = rules.find((r) => r.state.name === target.inputs.rule);
    const allowed = permissions.some(
      (p) =>
        (p.inputs.function === fn.state.name || p.inputs.function === fn.state.arn) &&
        p.inputs.principal === "events.amazonaws.com" &&
        p.inputs.action === "lambda:InvokeFunction" &&
        rule !== undefined &&
        p.inputs.sourceArn === rule.state.arn,
    );
    if (!allowed) {
      problems.push(
        `aws:cloudwatch/eventTarget:EventTarget "${target.name}": function ${String(fn.state.name)} has no permission for events.amazonaws.com from rule ${String(target.inputs.rule)}; EventBridge could not invoke it`,
      );
    }
  }
  return problems;
}

/** Types that exist only in Pulumi: they have no cloud name to check. */
const isPulumiOnly = (type: string): boolean =>
  type === "pulumi:pulumi:Stack" || type.startsWith("transient-jobs:");

/**
 * The physical name a resource gets, as Pulumi and the AWS provider would assign it (see
 * lib/resourceNames.ts), and why AWS would refuse it, if it would. The random part of an
 * auto-name is a hash of the logical name, so evaluations are reproducible.
 */
function physicalNameOf(
  type: string,
  name: string,
  inputs: MockInputs,
): { field?: string; physical: string; problem?: string } {
  const fallback = `${name}-${shortHash(name, 7)}`;
  if (isPulumiOnly(type)) return { physical: fallback };
  const entry = NAME_RULES[type];
  if (!entry) {
    return {
      physical: fallback,
      problem: `${type} "${name}": the offline engine has no AWS name rule for this type; add its name field, length limit and characters (with the AWS doc) to NAME_RULES in lib/resourceNames.ts, or mark it unnamed`,
    };
  }
  if (!("field" in entry)) return { physical: fallback };
  const explicit = inputs[entry.field];
  const physical = physicalName(entry, name, explicit, shortHash(name, 7));
  const problem = nameProblem(entry, physical);
  return {
    field: entry.field,
    physical,
    problem: problem && `${type} "${name}": name "${physical}" ${problem}`,
  };
}

/** Computed attributes a real provider would return, for the resource types the program uses. */
function computedState(
  type: string,
  name: string,
  inputs: MockInputs,
  region: string,
  physical: string,
): Record<string, unknown> {
  const account = MOCK_ACCOUNT_ID;
  switch (type) {
    case "aws:s3/bucket:Bucket":
      return { bucket: physical, arn: `arn:aws:s3:::${physical}` };
    case "aws:ecr/repository:Repository":
      return {
        name: physical,
        arn: `arn:aws:ecr:${region}:${account}:repository/${physical}`,
        repositoryUrl: `${account}.dkr.ecr.${region}.amazonaws.com/${physical}`,
      };
    case "awsx:ecr:Image":
      return { imageUri: `${inputs.repositoryUrl}@sha256:${shortHash(`${name}:image`, 64)}` };
    case "aws:codebuild/project:Project":
      return { name: physical, arn: `arn:aws:codebuild:${region}:${account}:project/${physical}` };
    case "aws:s3/bucketObjectv2:BucketObjectv2":
      return { etag: shortHash(`${inputs.bucket}/${inputs.key}`, 32), versionId: shortHash(name) };
    case IMAGE_BUILD_TYPE: {
      // What a finished build exports: the digest of what it pushed, a function of what it built.
      const imageDigest = `sha256:${shortHash(`${inputs.sourceLocation}:${inputs.buildSettings}`, 64)}`;
      if (!IMAGE_DIGEST_PATTERN.test(imageDigest)) throw new Error(`mock digest ${imageDigest}`);
      return {
        buildId: `${inputs.projectName}:${shortHash(`${name}:build`, 8)}-0000-4000-8000-000000000000`,
        imageDigest,
        imageUri: `${inputs.repositoryUrl}@${imageDigest}`,
      };
    }
    case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
      return {
        arn: `arn:aws:iam::${account}:oidc-provider/${String(inputs.url).replace(/^https:\/\//, "")}`,
      };
    case "aws:iam/policy:Policy":
      return { name: physical, arn: `arn:aws:iam::${account}:policy/${physical}` };
    case "aws:iam/role:Role":
      return { name: physical, arn: `arn:aws:iam::${account}:role/${physical}` };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { name: physical, arn: `arn:aws:iam::${account}:instance-profile/${physical}` };
    case "aws:ec2/launchTemplate:LaunchTemplate": {
      const id = `lt-${shortHash(name)}`;
      return { arn: `arn:aws:ec2:${region}:${account}:launch-template/${id}`, latestVersion: 1 };
    }
    case "aws:lambda/function:Function":
      return { name: physical, arn: `arn:aws:lambda:${region}:${account}:function:${physical}` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { name: physical, arn: `arn:aws:logs:${region}:${account}:log-group:${physical}` };
    case "aws:sqs/queue:Queue":
      return {
        name: physical,
        arn: `arn:aws:sqs:${region}:${account}:${physical}`,
        url: `https://sqs.${region}.amazonaws.com/${account}/${physical}`,
      };
    case "aws:sns/topic:Topic":
      return { name: physical, arn: `arn:aws:sns:${region}:${account}:${physical}` };
    case "aws:kms/key:Key": {
      const h = shortHash(`${region}${name}`, 32);
      const keyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      return { keyId, arn: `arn:aws:kms:${region}:${account}:key/${keyId}` };
    }
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { name: physical, arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${physical}` };
    case "aws:cloudwatch/eventRule:EventRule":
      return { name: physical, arn: `arn:aws:events:${region}:${account}:rule/${physical}` };
    case "aws:scheduler/scheduleGroup:ScheduleGroup":
      return {
        name: physical,
        arn: `arn:aws:scheduler:${region}:${account}:schedule-group/${physical}`,
      };
    case "aws:scheduler/schedule:Schedule":
      return {
        name: physical,
        arn: `arn:aws:scheduler:${region}:${account}:schedule/default/${physical}`,
      };
    default:
      return { arn: `arn:aws:mock:${region}:${account}:${type.split(":").pop()}/${physical}` };
  }
}

function resourceId(type: string, name: string): string {
  if (type === "aws:ec2/launchTemplate:LaunchTemplate") return `lt-${shortHash(name)}`;
  if (type === "aws:ec2/securityGroup:SecurityGroup") return `sg-${shortHash(name)}`;
  return `${name}-id`;
}

/** The zones of every region under the mocks: `<region>a`, `<region>b`, `<region>c`. */
export const MOCK_ZONE_LETTERS: readonly string[] = ["a", "b", "c"];

/** The id of the default VPC's default subnet of `<region><letter>` (what getSubnets lists). */
export function defaultSubnetId(region: string, letter: string): string {
  return `subnet-${shortHash(`${region}${letter}`)}`;
}

/**
 * A subnet as DescribeSubnets describes it: the default VPC's subnets (those getSubnets lists)
 * are in the default VPC (getVpc), one per zone; any other id is a subnet of the caller's own VPC
 * in a zone derived from the id.
 */
function mockSubnet(id: string, region: string): Record<string, unknown> {
  const letter = MOCK_ZONE_LETTERS.find((l) => defaultSubnetId(region, l) === id);
  if (letter) {
    return {
      id,
      vpcId: `vpc-${shortHash(region)}`,
      availabilityZone: `${region}${letter}`,
      defaultForAz: true,
    };
  }
  const derived = MOCK_ZONE_LETTERS[parseInt(shortHash(id, 4), 16) % MOCK_ZONE_LETTERS.length];
  return {
    id,
    vpcId: `vpc-${shortHash(id)}`,
    availabilityZone: `${region}${derived}`,
    defaultForAz: false,
  };
}

/**
 * Zones where the mocks pretend EC2 does not offer a type, `zone` → types; empty unless a test
 * sets it (and clears it after), to see a type that only some subnets' zones offer.
 */
export const MOCK_OFFERING_GAPS = new Map<string, Set<string>>();

interface OfferingsInputs {
  locationType?: string;
  filters?: Array<{ name: string; values: string[] }>;
}

/**
 * DescribeInstanceTypeOfferings: by EC2's name rule (lib/instanceTypes.ts), every well-formed type
 * is offered in every zone of the region (less {@link MOCK_OFFERING_GAPS}); a name no type can
 * have, such as `t3.mega`, is offered nowhere. As in EC2, filters match case-sensitively and an
 * unmatched filter value just matches nothing
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html).
 */
function mockInstanceTypeOfferings(
  inputs: OfferingsInputs,
  region: string,
): Record<string, unknown> {
  const locationType = inputs.locationType ?? "region";
  const locations: Record<string, string[]> = {
    region: [region],
    "availability-zone": MOCK_ZONE_LETTERS.map((l) => `${region}${l}`),
    "availability-zone-id": MOCK_ZONE_LETTERS.map((_, i) => `${shortHash(region, 4)}-az${i + 1}`),
  };
  if (!locations[locationType]) {
    throw new Error(
      `InvalidParameterValue: ${locationType} is not a location type (region, availability-zone, availability-zone-id, outpost)`,
    );
  }
  const filter = (name: string) => inputs.filters?.find((f) => f.name === name)?.values;
  const wanted = filter("instance-type");
  const where = filter("location");
  if (!wanted) {
    throw new Error(
      "the offline engine answers getInstanceTypeOfferings only for named instance types",
    );
  }
  const found: Array<{ instanceType: string; location: string }> = [];
  for (const type of new Set(wanted)) {
    if (instanceTypeNameProblem(type) !== undefined) continue;
    for (const location of locations[locationType]) {
      if (where && !where.includes(location)) continue;
      if (MOCK_OFFERING_GAPS.get(location)?.has(type)) continue;
      found.push({ instanceType: type, location });
    }
  }
  return {
    id: region,
    locationType,
    instanceTypes: found.map((o) => o.instanceType),
    locations: found.map((o) => o.location),
    locationTypes: found.map(() => locationType),
  };
}

interface ProductInputs {
  serviceCode?: string;
  filters?: Array<{ field: string; value: string }>;
}

/**
 * The attributes that tell EC2's Price List products apart, with the values that exist. A query
 * that leaves one out matches a product per value (the provider then fails: "not precise
 * enough"); one with a value that does not exist, or an attribute EC2 products do not have,
 * matches none.
 */
const INSTANCE_PRODUCT_VARIANTS: Readonly<Record<string, readonly string[]>> = {
  operatingSystem: ["Linux", "Windows", "RHEL", "SUSE"],
  tenancy: ["Shared", "Dedicated", "Host"],
  preInstalledSw: ["NA", "SQL Std", "SQL Web"],
  capacitystatus: ["Used", "UnusedCapacityReservation", "AllocatedCapacityReservation"],
  licenseModel: ["No License required", "Bring your own license"],
  marketoption: ["OnDemand", "CapacityBlock"],
};
const STORAGE_PRODUCT_VARIANTS: Readonly<Record<string, readonly string[]>> = {
  productFamily: ["Storage", "System Operation", "Provisioned Throughput"],
};

/** A made-up but stable on-demand price of `type` in `region`, scaled by its size. */
function mockHourlyUsd(type: string, region: string): number {
  const { size } = splitInstanceType(type)!;
  const base = 0.04 + (parseInt(shortHash(`${region}${type.split(".")[0]}`, 4), 16) % 80) / 1000;
  const n = /^(\d+)xlarge$/.exec(size)?.[1];
  const factors: Record<string, number> = {
    nano: 1 / 16,
    micro: 1 / 8,
    small: 1 / 4,
    medium: 1 / 2,
    large: 1,
    xlarge: 2,
  };
  const factor = n ? Number(n) * 2 : (factors[size] ?? 96);
  return Math.round(base * factor * 1e6) / 1e6;
}

/**
 * GetProducts through `aws.pricing.getProduct`, under the rules the provider and AWS apply
 * (lib/priceList.ts): only from a Price List region's provider, only for EC2 here, exactly one
 * product or an error, and a product JSON shaped like AWS's.
 */
function mockPriceListProduct(inputs: ProductInputs, region: string): Record<string, unknown> {
  if (!PRICING_API_REGIONS.includes(region)) {
    throw new Error(
      `reading Pricing Products: the Price List Query API has no endpoint in ${region} (only ${PRICING_API_REGIONS.join(", ")}): dial tcp: lookup api.pricing.${region}.amazonaws.com: no such host`,
    );
  }
  if (inputs.serviceCode !== EC2_SERVICE_CODE) {
    throw new Error(
      `the offline engine prices only ${EC2_SERVICE_CODE}, not ${inputs.serviceCode}`,
    );
  }
  const filters = new Map<string, string>();
  for (const f of inputs.filters ?? []) {
    if (filters.has(f.field) && filters.get(f.field) !== f.value) {
      throw new Error("Pricing product query did not return any elements");
    }
    filters.set(f.field, f.value);
  }
  const regionCode = filters.get("regionCode");
  const storage = filters.get("volumeApiName");
  const type = filters.get("instanceType");
  const variants = storage !== undefined ? STORAGE_PRODUCT_VARIANTS : INSTANCE_PRODUCT_VARIANTS;
  const known = new Set([
    "regionCode",
    ...(storage !== undefined ? ["volumeApiName"] : ["instanceType"]),
    ...Object.keys(variants),
  ]);
  let matches = 1;
  // Every region and type (or volume type) has its own products.
  if (regionCode === undefined) matches *= 30;
  if (storage === undefined && type === undefined) matches *= 500;
  for (const [field, values] of Object.entries(variants)) {
    const value = filters.get(field);
    matches *= value === undefined ? values.length : values.includes(value) ? 1 : 0;
  }
  const exists =
    [...filters.keys()].every((field) => known.has(field)) &&
    (storage === undefined || storage === "gp3") &&
    (type === undefined || instanceTypeNameProblem(type) === undefined);
  if (!exists) matches = 0;
  if (matches === 0) throw new Error("Pricing product query did not return any elements");
  if (matches > 1) {
    throw new Error(`Pricing product query not precise enough. Returned ${matches} elements`);
  }
  const where = regionCode!;
  const sku = shortHash(`${where}${type ?? storage}`, 16).toUpperCase();
  const term = `${sku}.JRTCKXETXF`;
  const usd = storage !== undefined ? 0.08 : mockHourlyUsd(type!, where);
  const product = {
    product: {
      productFamily: storage !== undefined ? "Storage" : "Compute Instance",
      attributes: Object.fromEntries([...filters.entries(), ["servicecode", EC2_SERVICE_CODE]]),
      sku,
    },
    serviceCode: EC2_SERVICE_CODE,
    terms: {
      OnDemand: {
        [sku]: {
          [term]: {
            offerTermCode: "JRTCKXETXF",
            sku,
            priceDimensions: {
              [`${term}.6YS6EN2CT7`]: {
                unit: storage !== undefined ? "GB-Mo" : "Hrs",
                pricePerUnit: { USD: usd.toFixed(10) },
                rateCode: `${term}.6YS6EN2CT7`,
              },
            },
          },
        },
      },
    },
  };
  return {
    id: sku,
    result: JSON.stringify(product),
    serviceCode: EC2_SERVICE_CODE,
    filters: inputs.filters,
  };
}

/** A metric query of `aws.cloudwatch.MetricAlarm`'s `metricQueries`, as the mock receives it. */
interface MetricQueryInputs {
  id?: string;
  expression?: string;
  returnData?: boolean;
  metric?: { metricName?: string; namespace?: string; period?: number; stat?: string };
}

/**
 * Why PutMetricAlarm would refuse an alarm's metric settings, or undefined. An alarm names one
 * metric (`metricName`, `namespace`, `period`, `statistic`) or has `Metrics` (metric math), never
 * both; of its queries (at most 20: 10 metrics, 10 expressions) exactly one returns data, the
 * watched one; ids start with a lower-case letter and are unique; an expression uses only the
 * ids of the alarm's queries. A period (the alarm's, or each metric query's) is 10, 20, 30 or a
 * multiple of 60 seconds, and period × evaluation periods is at most 7 days, or 1 day for a
 * period under an hour
 * (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-metric-alarm-request/period.html,
 * https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-metric-alarm-request/metrics.html,
 * https://boto3.amazonaws.com/v1/documentation/api/1.33.7/reference/services/cloudwatch/alarm/metrics.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
 */
export function metricAlarmProblem(inputs: Record<string, unknown>): string | undefined {
  const evaluationPeriods =
    typeof inputs.evaluationPeriods === "number" ? inputs.evaluationPeriods : 1;
  const periodProblem = (period: unknown, of: string): string | undefined => {
    if (period === undefined) return undefined;
    if (
      typeof period !== "number" ||
      !Number.isInteger(period) ||
      period <= 0 ||
      !([10, 20, 30].includes(period) || period % 60 === 0)
    ) {
      return `ValidationError: the period of ${of}, ${JSON.stringify(period)}, must be 10, 20, 30 or a multiple of 60`;
    }
    const range = period * evaluationPeriods;
    const limit = period < 3600 ? 86_400 : 604_800;
    return range > limit
      ? `ValidationError: period ${period} × ${evaluationPeriods} evaluation periods is ${range} s; at most ${limit} s ${period < 3600 ? "for a period under an hour" : ""}`.trimEnd()
      : undefined;
  };
  const queries = inputs.metricQueries as MetricQueryInputs[] | undefined;
  const single = ["metricName", "namespace", "period", "statistic", "extendedStatistic"].filter(
    (key) => inputs[key] !== undefined,
  );
  if (!queries || queries.length === 0) {
    return inputs.metricName === undefined
      ? "ValidationError: you must specify either MetricName or a Metrics array"
      : periodProblem(inputs.period, "the alarm");
  }
  if (single.length > 0) {
    return `ValidationError: with Metrics, ${single.join(", ")} cannot be set on the alarm itself`;
  }
  const withMetric = queries.filter((q) => q.metric !== undefined);
  const withExpression = queries.filter((q) => q.expression !== undefined);
  if (queries.length > 20 || withMetric.length > 10 || withExpression.length > 10) {
    return `ValidationError: ${queries.length} queries (${withMetric.length} metrics, ${withExpression.length} expressions); at most 20, 10 of each`;
  }
  const ids = queries.map((q) => q.id ?? "");
  for (const id of ids) {
    if (!/^[a-z][A-Za-z0-9_]*$/.test(id)) {
      return `ValidationError: query id "${id}" must start with a lower-case letter and hold only letters, digits and _`;
    }
  }
  if (new Set(ids).size !== ids.length) return "ValidationError: query ids must be unique";
  for (const query of queries) {
    if ((query.metric === undefined) === (query.expression === undefined)) {
      return `ValidationError: query "${query.id}" must have exactly one of MetricStat and Expression`;
    }
    if (query.metric && (!query.metric.metricName || !query.metric.period || !query.metric.stat)) {
      return `ValidationError: query "${query.id}" needs a metric name, period and stat`;
    }
    const period = periodProblem(query.metric?.period, `query "${query.id}"`);
    if (period) return period;
    for (const name of query.expression?.match(/\b[a-z][A-Za-z0-9_]*\b(?!\s*\()/g) ?? []) {
      if (!ids.includes(name)) {
        return `ValidationError: expression "${query.expression}" of query "${query.id}" uses "${name}", which is not the id of a query of the alarm`;
      }
    }
  }
  const watched = queries.filter((q) => q.returnData !== false);
  if (watched.length !== 1) {
    return `ValidationError: exactly one query must have ReturnData true (the one the alarm watches), not ${watched.length}`;
  }
  return undefined;
}

/** Periods CloudWatch aggregates over, in seconds: 1, 5, 10, 20, 30 or a multiple of 60. */
function isMetricPeriod(period: unknown): boolean {
  return (
    typeof period === "number" &&
    Number.isInteger(period) &&
    period > 0 &&
    ([1, 5, 10, 20, 30].includes(period) || period % 60 === 0)
  );
}

/**
 * Why PutDashboard would refuse a dashboard body, or undefined: JSON with a `widgets` array of
 * 0-500 widgets; each with a known `type`, `x` 0-23, `y` from 0, `width` 1-24 (and within the
 * 24-column grid), `height` 1-1000 and `properties`; a metric widget with a `region` and a
 * `metrics` array whose entries are `[namespace, metricName, dimension name, value, ...,
 * {rendering properties}]` (names and values in pairs) or `[{ expression, id }]`, with ids
 * starting with a lower-case letter and unique within the widget, and periods CloudWatch knows
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html).
 * The `.` and `...` shorthands of a metric entry, which the program does not use, are refused.
 */
export function dashboardBodyProblem(body: unknown): string | undefined {
  let parsed: unknown;
  try {
    parsed = typeof body === "string" ? JSON.parse(body) : body;
  } catch {
    return "InvalidParameterInput: the dashboard body is not JSON";
  }
  const widgets = (parsed as { widgets?: unknown })?.widgets;
  if (!Array.isArray(widgets))
    return "InvalidParameterInput: the dashboard body has no widgets array";
  if (widgets.length > 500) return `InvalidParameterInput: ${widgets.length} widgets; at most 500`;
  const types = ["metric", "text", "log", "alarm", "explorer"];
  for (const [i, widget] of widgets.entries()) {
    const w = widget as Record<string, unknown>;
    const at = `widgets[${i}]${typeof (w.properties as { title?: unknown })?.title === "string" ? ` ("${(w.properties as { title: string }).title}")` : ""}`;
    const int = (v: unknown, min: number, max: number) =>
      typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
    if (!types.includes(String(w.type)))
      return `InvalidParameterInput: ${at}: unknown type ${JSON.stringify(w.type)}`;
    if (!int(w.x, 0, 23) || !int(w.y, 0, Number.MAX_SAFE_INTEGER)) {
      return `InvalidParameterInput: ${at}: x must be 0-23 and y 0 or more`;
    }
    if (!int(w.width, 1, 24) || !int(w.height, 1, 1000)) {
      return `InvalidParameterInput: ${at}: width must be 1-24 and height 1-1000`;
    }
    if ((w.x as number) + (w.width as number) > 24) {
      return `InvalidParameterInput: ${at}: x + width is beyond the 24-column grid`;
    }
    const properties = w.properties as Record<string, unknown> | undefined;
    if (typeof properties !== "object" || properties === null) {
      return `InvalidParameterInput: ${at}: no properties`;
    }
    if (w.type !== "metric") continue;
    if (typeof properties.region !== "string")
      return `InvalidParameterInput: ${at}: a metric widget needs a region`;
    if (properties.period !== undefined && !isMetricPeriod(properties.period)) {
      return `InvalidParameterInput: ${at}: period ${JSON.stringify(properties.period)} is not 1, 5, 10, 20, 30 or a multiple of 60`;
    }
    const metrics = properties.metrics;
    if (!Array.isArray(metrics) || metrics.length === 0) {
      return `InvalidParameterInput: ${at}: a metric widget needs a metrics array`;
    }
    const ids: string[] = [];
    for (const [j, entry] of metrics.entries()) {
      const where = `${at}.metrics[${j}]`;
      if (!Array.isArray(entry) || entry.length === 0)
        return `InvalidParameterInput: ${where} is not an array`;
      const last = entry[entry.length - 1];
      const options =
        typeof last === "object" && last !== null ? (last as Record<string, unknown>) : undefined;
      const names = options ? entry.slice(0, -1) : entry;
      if (!names.every((n) => typeof n === "string" && n !== "" && n !== "." && n !== "...")) {
        return `InvalidParameterInput: ${where}: names and values must be non-empty strings`;
      }
      if (names.length === 0) {
        if (typeof options?.expression !== "string" || typeof options.id !== "string") {
          return `InvalidParameterInput: ${where}: an entry without a metric must be an expression with an id`;
        }
      } else if (names.length < 2 || names.length % 2 !== 0) {
        return `InvalidParameterInput: ${where}: expected namespace, metric name, then dimension names and values in pairs`;
      }
      if (options?.period !== undefined && !isMetricPeriod(options.period)) {
        return `InvalidParameterInput: ${where}: period ${JSON.stringify(options.period)} is not 1, 5, 10, 20, 30 or a multiple of 60`;
      }
      if (options?.id !== undefined) {
        if (typeof options.id !== "string" || !/^[a-z][A-Za-z0-9_]*$/.test(options.id)) {
          return `InvalidParameterInput: ${where}: id ${JSON.stringify(options.id)} must start with a lower-case letter`;
        }
        if (ids.includes(options.id))
          return `InvalidParameterInput: ${where}: id "${options.id}" is used twice`;
        ids.push(options.id);
      }
    }
  }
  return undefined;
}

/** NVIDIA GPU families as DescribeInstanceTypes reports them: the GPU, its memory, GPUs by size. */
const MOCK_GPU_FAMILIES: Readonly<
  Record<
    string,
    { manufacturer: string; name: string; memorySize: number; count: (size: string) => number }
  >
> = {
  g4dn: {
    manufacturer: "NVIDIA",
    name: "T4",
    memorySize: 16384,
    count: (s) => (s === "12xlarge" ? 4 : s === "metal" ? 8 : 1),
  },
  g4ad: {
    manufacturer: "AMD",
    name: "Radeon Pro V520",
    memorySize: 8192,
    count: (s) => ({ "8xlarge": 2, "16xlarge": 4 })[s] ?? 1,
  },
  g5: {
    manufacturer: "NVIDIA",
    name: "A10G",
    memorySize: 24576,
    count: (s) => ({ "12xlarge": 4, "24xlarge": 4, "48xlarge": 8 })[s] ?? 1,
  },
  g5g: {
    manufacturer: "NVIDIA",
    name: "T4g",
    memorySize: 16384,
    count: (s) => (s === "16xlarge" || s === "metal" ? 2 : 1),
  },
  g6: {
    manufacturer: "NVIDIA",
    name: "L4",
    memorySize: 22888,
    count: (s) => ({ "12xlarge": 4, "24xlarge": 4, "48xlarge": 8 })[s] ?? 1,
  },
  g6e: {
    manufacturer: "NVIDIA",
    name: "L40S",
    memorySize: 45776,
    count: (s) => ({ "12xlarge": 4, "24xlarge": 4, "48xlarge": 8 })[s] ?? 1,
  },
  p4d: { manufacturer: "NVIDIA", name: "A100", memorySize: 40960, count: () => 8 },
  p5: { manufacturer: "NVIDIA", name: "H100", memorySize: 81559, count: () => 8 },
};

/** Instance-store disks of a few types as EC2 reports them: count x size in GB. */
const MOCK_INSTANCE_DISKS: Readonly<Record<string, [number, number]>> = {
  "g4dn.xlarge": [1, 125],
  "g4dn.2xlarge": [1, 225],
  "g4dn.12xlarge": [1, 900],
  "g5.xlarge": [1, 250],
  "g5.2xlarge": [1, 450],
  "g5.12xlarge": [1, 3800],
  "g6.xlarge": [1, 250],
  "g6.2xlarge": [1, 450],
  "p4d.24xlarge": [8, 1000],
  "p5.48xlarge": [8, 3800],
  "m6id.large": [1, 118],
  "m6id.xlarge": [1, 237],
  "m6id.24xlarge": [4, 1425],
  "c6id.2xlarge": [1, 474],
  "i4i.large": [1, 468],
  "i4i.2xlarge": [1, 1875],
  "m5d.large": [1, 75],
};

/**
 * DescribeInstanceTypes of one type, as `aws.ec2.getInstanceType` returns it: its GPUs (none for
 * most families) and its instance-store disks. A type whose family has a `d` in its attributes
 * (m6id, c5d, ...) or is storage-optimized (i3, i4i, ...) has an instance store; the types above
 * carry their real sizes, others a made-up one. A name no type can have fails as EC2 does
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html).
 */
function mockInstanceType(inputs: MockInputs): Record<string, unknown> {
  const type = String(inputs.instanceType);
  const split = splitInstanceType(type);
  if (instanceTypeNameProblem(type) !== undefined || !split) {
    throw new Error(
      `InvalidInstanceType: The following supplied instance types do not exist: [${type}]`,
    );
  }
  const family = type.split(".")[0];
  const gpu = MOCK_GPU_FAMILIES[family];
  const attributes = /^[a-z]+\d+([a-z-]*)$/.exec(family)?.[1] ?? "";
  // Storage-optimized families, families with "d" (local disk), and NVIDIA GPU families but
  // Graviton's g5g have NVMe instance stores.
  const stored =
    type in MOCK_INSTANCE_DISKS ||
    /^(i|im|is|d)\d/.test(family) ||
    attributes.includes("d") ||
    (gpu !== undefined && family !== "g5g");
  const [count, size] = MOCK_INSTANCE_DISKS[type] ?? [1, 100];
  return {
    id: type,
    instanceType: type,
    gpuses: gpu
      ? [
          {
            manufacturer: gpu.manufacturer,
            name: gpu.name,
            count: gpu.count(split.size),
            memorySize: gpu.memorySize,
          },
        ]
      : [],
    instanceDisks: stored ? [{ count, size, type: "ssd" }] : [],
    instanceStorageSupported: stored,
    totalInstanceStorage: stored ? count * size : 0,
  };
}

/** Deterministic answers for the data sources the program calls, per region. */
export function callResult(
  token: string,
  inputs: MockInputs,
  region: string,
): Record<string, unknown> {
  switch (token) {
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return {
        accountId: MOCK_ACCOUNT_ID,
        arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mock`,
        userId: "MOCK",
      };
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com" };
    case "aws:index/getRegion:getRegion":
      return { name: region, region };
    case "aws:ec2/getVpc:getVpc":
      return { id: `vpc-${shortHash(region)}`, cidrBlock: "172.31.0.0/16", default: true };
    case "aws:ec2/getSubnets:getSubnets":
      return { ids: MOCK_ZONE_LETTERS.map((az) => defaultSubnetId(region, az)) };
    case "aws:ec2/getSubnet:getSubnet":
      return mockSubnet(String(inputs.id), region);
    case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
      return mockInstanceTypeOfferings(inputs as unknown as OfferingsInputs, region);
    case "aws:ec2/getInstanceType:getInstanceType":
      return mockInstanceType(inputs);
    case "aws:pricing/getProduct:getProduct":
      return mockPriceListProduct(inputs as unknown as ProductInputs, region);
    case "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": {
      const url = String(inputs.url ?? "").replace(/^https:\/\//, "");
      return {
        arn: inputs.arn ?? `arn:aws:iam::${MOCK_ACCOUNT_ID}:oidc-provider/${url}`,
        url,
        clientIdLists: [],
        thumbprintLists: [],
        tags: {},
      };
    }
    case "aws:ssm/getParameter:getParameter":
      return {
        name: inputs.name,
        value: `ami-${shortHash(`${region}${inputs.name}`)}`,
        type: "String",
      };
    case "aws:kms/getKey:getKey": {
      // DescribeKey of an AWS-managed alias answers with the key itself (and creates it on first use).
      const keyId = `${shortHash(`${region}${inputs.keyId}`, 8)}-0000-4000-8000-000000000000`;
      return {
        id: keyId,
        keyId: inputs.keyId,
        arn: `arn:aws:kms:${region}:${MOCK_ACCOUNT_ID}:key/${keyId}`,
        keyManager: "AWS",
      };
    }
    default:
      throw new Error(`the offline engine has no mock for ${token}; add one in offline/engine.ts`);
  }
}

/** The parts of Pulumi's mock monitor and its gRPC messages that the recorder reads. */
interface MockMonitor {
  registerResource(
    request: RegisterRequest,
    callback: (error: unknown, response: RegisterResponse) => void,
  ): void;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProvidersMap?(): { get(pkg: string): string | undefined };
  getDependenciesList?(): string[];
  getRetainondelete?(): boolean;
}
interface RegisterResponse {
  getUrn(): string;
  getId(): string;
  getObject(): { toJavaScript(): Record<string, unknown> };
}

/**
 * The project's folders of code that evaluates programs rather than code a program loads: the
 * engine and the test harness (tests, their shared fixtures, the benchmarks). Their modules keep
 * their state across evaluations, e.g. the evaluations a test process has cached or the emulator
 * it started.
 */
const EVALUATING_FOLDERS = ["offline", "tests", "testing", "bench"].map(
  (folder) => path.join(PROJECT_ROOT, folder) + path.sep,
);

/**
 * Forgets the project's own modules, so the program (`program`, wherever it is) can be evaluated
 * again with other config.
 */
function forgetProjectModules(program: string): void {
  const entry = require.resolve(program);
  for (const file of Object.keys(require.cache)) {
    if (
      file === entry ||
      (file.startsWith(PROJECT_ROOT) &&
        !file.includes(`${path.sep}node_modules${path.sep}`) &&
        !EVALUATING_FOLDERS.some((folder) => file.startsWith(folder)))
    ) {
      delete require.cache[file];
    }
  }
}

/**
 * Evaluates the program (`index.ts`) with `config` as stack `stack`, and returns every resource
 * and call it made. Evaluations run one at a time: Pulumi's runtime state is global. Another
 * program of the repository (e.g. `deploy/index`) runs with its own `project` name.
 */
export async function evaluateProgram(
  stack: string,
  config: Record<string, string>,
  {
    program = path.join(PROJECT_ROOT, "index"),
    project = "transient-jobs",
    closures = "serialized",
  }: EvaluationOptions = {},
): Promise<Evaluation> {
  const resources: RecordedResource[] = [];
  const calls: RecordedCall[] = [];
  const providerRegions = new Map<string, string>();
  const regionOf = (provider?: string): string | undefined =>
    provider ? providerRegions.get(provider) : undefined;
  const pending: Record<string, RecordedResource> = {};
  const nameProblems: string[] = [];
  const refusals: string[] = [];

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = args.inputs as MockInputs;
      const id = resourceId(args.type, args.name);
      if (args.type === "pulumi:providers:aws") {
        const region = String(inputs.region);
        return { id, state: { ...inputs, __region: region } };
      }
      const region = regionOf(args.provider) ?? "mock-region";
      if (args.type === "aws:cloudwatch/metricAlarm:MetricAlarm") {
        const refused = metricAlarmProblem(args.inputs);
        if (refused) throw new Error(`creating CloudWatch Metric Alarm (${args.name}): ${refused}`);
      }
      if (args.type === "aws:cloudwatch/dashboard:Dashboard") {
        const refused = dashboardBodyProblem(args.inputs.dashboardBody);
        if (refused) throw new Error(`putting CloudWatch Dashboard (${args.name}): ${refused}`);
      }
      const { field, physical, problem } = physicalNameOf(args.type, args.name, inputs);
      if (problem) nameProblems.push(problem);
      refusals.push(
        ...[
          ...buildResourceProblems(args.type, inputs),
          ...launchTemplateProblems(args.type, inputs),
        ].map((p) => `${args.type} "${args.name}": ${p}`),
      );
      const state = {
        ...inputs,
        ...computedState(args.type, args.name, inputs, region, physical),
        // What the program reads back as the name is what AWS would be asked to create.
        ...(field ? { [field]: physical } : {}),
      };
      pending[`${args.type}::${args.name}`] = {
        urn: "",
        id,
        type: args.type,
        name: args.name,
        custom: args.custom ?? true,
        providerRegion: regionOf(args.provider),
        inputs,
        state,
      };
      return { id, state };
    },
    call(args) {
      const region = regionOf(args.provider) ?? "mock-region";
      calls.push({
        token: args.token,
        inputs: args.inputs,
        providerRegion: regionOf(args.provider),
      });
      return callResult(args.token, args.inputs, region);
    },
  };

  const previousDirectory = process.cwd();
  // Closure serialization resolves packages from the working directory.
  process.chdir(PROJECT_ROOT);
  try {
    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(mocks, project, stack, false);
    const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitor;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) =>
      register(req, (err, res) => {
        if (!err) {
          const type: string = req.getType();
          const name: string = req.getName();
          if (type === "pulumi:providers:aws") {
            providerRegions.set(
              `${res.getUrn()}::${res.getId()}`,
              String(res.getObject().toJavaScript().__region),
            );
          }
          const record = pending[`${type}::${name}`];
          if (record) {
            delete pending[`${type}::${name}`];
            // Remote components (awsx) receive their provider through the providers map.
            record.providerRegion ??= regionOf(req.getProvidersMap?.().get("aws"));
            record.urn = res.getUrn();
            record.dependencies = req.getDependenciesList?.() ?? [];
            record.retainOnDelete = req.getRetainondelete?.() ?? false;
            record.parent = req.getParent() || undefined;
            resources.push(record);
          }
        }
        callback(err, res);
      });

    forgetProjectModules(program);
    const runtime = pulumi.runtime as {
      serializeFunction: typeof pulumi.runtime.serializeFunction;
    };
    const serializeFunction = runtime.serializeFunction;
    if (closures === "placeholder") {
      // aws.lambda.CallbackFunction calls it through the module's export, at the time it runs.
      runtime.serializeFunction = async () => ({
        text: PLACEHOLDER_CLOSURE,
        exportName: "handler",
        containsSecrets: false,
      });
    }
    // An error thrown in an apply (e.g. a ResourceError about a looked-up value) ends `pulumi up`
    // through the runtime's unhandled-rejection handler; under the mocks it would leave the
    // evaluation waiting forever, so it fails the evaluation instead.
    let failed: (error: unknown) => void = () => undefined;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    process.on("unhandledRejection", failed);
    try {
      const outputs =
        (await Promise.race([pulumi.runtime.runInPulumiStack(() => import(program)), failure])) ??
        {};
      await Promise.race([
        (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs?.(),
        failure,
      ]);
      if (nameProblems.length > 0) throw new ResourceNameError(nameProblems);
      refusals.push(...eventTargetProblems(resources));
      if (refusals.length > 0) throw new ResourceRefusedError(refusals);
      return { resources, calls, outputs, closures };
    } finally {
      process.off("unhandledRejection", failed);
      runtime.serializeFunction = serializeFunction;
    }
  } finally {
    process.chdir(previousDirectory);
  }
}

/** Resolves an Output (or plain value) in a test or tool; the engine never runs in preview. */
export function resolve<T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
  return new Promise((done) => pulumi.output(value).apply((v) => done(v)));
}
