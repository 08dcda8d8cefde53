/**
 * Stack configuration: raw values from `Pulumi.<stack>.yaml` in, a typed and validated
 * `StackConfig` out. Nothing here touches Pulumi or AWS: `parseStackConfig` is pure, so every rule
 * is tested with plain tables; `readStackConfig` adds what needs files (each job's declared
 * parameters). Defaults live here and in `Pulumi.yaml` (with descriptions); keep the two in step.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  parameterProblems,
  ParameterFileError,
  PARAMETERS_FILE,
  parseParameterDeclarations,
} from "./jobParameters";
import { z } from "zod";
import {
  parseScheduleExpression,
  ParsedSchedule,
  isValidTimezone,
  offsetSchedule,
} from "./lib/scheduleExpression";
import {
  CONCURRENCY_POLICIES,
  ConcurrencyPolicy,
  JOB_NAME_MAX_LENGTH,
  JOB_NAME_PATTERN,
  JOB_NAME_RULE,
  MAX_DEADLINE_MINUTES,
  MIN_DEADLINE_MINUTES,
  PARAMETER_NAME_PATTERN,
  PURCHASE_OPTIONS,
  PurchaseOption,
  MAX_RUN_RETRY_ATTEMPTS,
  RESERVED_PARAMETER_NAMES,
  RETRY_REASONS,
  RUN_RETRY_DEFAULTS,
  RunRetryPolicy,
  STOP_MARGIN_MINUTES,
} from "./launcher/contract";
import { assertParametersFit } from "./launcher/initScript";
import { instanceTypeNameProblem } from "./lib/instanceTypes";
import { IMAGE_REFERENCE_RULE, parseImageReference } from "./lib/imageReference";
import {
  BROAD_MANAGED_POLICY,
  IAM_ACTION,
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_ARN,
  RESOURCE_ARN,
} from "./lib/iamRules";
import { parseSecretReference } from "./lib/secretReferences";
import {
  environmentNames,
  imageKey,
  imageNames,
  jobNames,
  NameViolation,
  nameViolations,
  regionSharedNames,
} from "./lib/resourceNames";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "transient-jobs";

/** Commercial AWS regions (as of 2026-11). */
export const AWS_REGIONS: readonly string[] = [
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
];

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export type Architecture = "x86_64" | "arm64";

/**
 * Where job images are built. `codebuild`: in AWS, by a CodeBuild project per region and image,
 * so `pulumi up` needs no Docker daemon (Pulumi Deployments' runners have none). `docker`: by the
 * Docker daemon of the machine running `pulumi up` (awsx.ecr.Image).
 */
export const IMAGE_BUILDERS = ["codebuild", "docker"] as const;
export type ImageBuilder = (typeof IMAGE_BUILDERS)[number];

/** One region of the stack, with its overrides. */
export interface RegionConfig {
  name: string;
  /** `false` keeps every resource but disables the region's schedules. */
  enabled: boolean;
  /** Subnets to launch into; default: the default VPC's subnets, one per AZ. */
  subnetIds?: string[];
  /** Replaces every job's instance types in this region (same architecture rules apply). */
  instanceTypes?: string[];
  /** Minutes added to every cron schedule in this region, so regions do not launch at once. */
  scheduleOffsetMinutes: number;
  /**
   * Place in the rollout: a region's images are built and pushed only after every region with a
   * lower number is up to date. Equal numbers deploy in parallel. Default 0.
   */
  rolloutOrder: number;
  /**
   * Customer-managed KMS key (ARN, in this region) that encrypts the instances' root volumes.
   * Default: the AWS-managed `aws/ebs` key, never the account's default EBS key, which may be a
   * key the launcher cannot use.
   */
  ebsKmsKeyArn?: string;
}

/**
 * Lambda's own retries of a launch that failed. Scheduler invokes the launcher asynchronously, so
 * its retry policy and dead-letter queue cover only delivery; once Lambda has accepted the event,
 * Lambda retries a failed invocation (0-2 times, default 2) while the event is younger than its
 * maximum age (60-21600 s; ours defaults to 1 h, Lambda's own to 6 h, because the age bounds
 * every run's deadline tag), then hands it to the on-failure destination
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
 */
export interface LauncherRetryConfig {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
}

/** Scheduler retry policy for one job. */
export interface RetryConfig {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
}

/**
 * One statement of a job's own inline policy, as IAM writes it. Config refuses wildcard actions,
 * `NotAction` and `NotResource`, as the policy pack does.
 */
export interface JobPolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

/** Permissions a job's instance role gets besides its own (results, logs, image, secrets). */
export interface JobPolicies {
  /** Managed policies attached to the role. */
  managed: string[];
  /** Statements of one more inline policy of the role. */
  statements: JobPolicyStatement[];
}

/** One job, validated, with defaults applied. */
export interface JobConfig {
  name: string;
  schedule: string;
  parsedSchedule: ParsedSchedule;
  timezone: string;
  /** Docker build context, relative to the project root; not built when `imageUri` is set. */
  image: string;
  /** An image built elsewhere, run instead of building `image`: no repository, no build. */
  imageUri?: string;
  architecture: Architecture;
  instanceTypes: string[];
  volumeGiB: number;
  maxRuntimeMinutes: number;
  concurrencyPolicy: ConcurrencyPolicy;
  purchaseOption: PurchaseOption;
  parameters: Record<string, string>;
  /** Environment read on the instance at run time: name → reference (lib/secretReferences.ts). */
  secrets: Record<string, string>;
  /** The job's own permissions. */
  policies: JobPolicies;
  /** Regions this job runs in; default: every region of the stack. */
  regions?: string[];
  retry: RetryConfig;
  /**
   * New attempts of a run whose attempt was interrupted, lost or failed (launcher/retries.ts);
   * distinct from `retry`, which only re-delivers the launch event.
   */
  runRetries: RunRetryPolicy;
  /**
   * The job's memory alarm fires when a run's container peaks above this % of its instance's
   * memory, or the kernel's OOM killer struck it (components/regionalAlarms.ts).
   */
  memoryAlarmPercent: number;
  /**
   * The job's interruptions alarm fires when, in one day in a region, more than this many of its
   * attempts were interrupted or lost, or more than this many were retried
   * (components/regionalAlarms.ts).
   */
  interruptionAlarmThreshold: number;
}

/** Where run outcomes are sent. */
export interface NotificationConfig {
  emails: string[];
  httpsEndpoints: string[];
}

/** The whole validated stack configuration. */
export interface StackConfig {
  /** Stack name: `dev`, `prod`, … */
  environment: string;
  regions: RegionConfig[];
  jobs: JobConfig[];
  notifications: NotificationConfig;
  logRetentionDays: number;
  /** Keep results buckets and image repositories when a region is removed. */
  retainResources: boolean;
  /** Images kept per repository by its lifecycle policy. */
  imagesToKeep: number;
  /** Lambda's retries of a failed launch, before the on-failure queue. */
  launcherRetry: LauncherRetryConfig;
  /** Where job images are built: in AWS CodeBuild, or by the Docker daemon of `pulumi up`. */
  imageBuilder: ImageBuilder;
}

/** Raised for invalid stack config; `problems` holds one line per bad value. */
export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack config:\n  ${problems.join("\n  ")}`);
    this.name = "StackConfigError";
  }
}

/** Bounds of `memoryAlarmPercent`, in % of an instance's memory. */
export const MIN_MEMORY_ALARM_PERCENT = 50;
export const MAX_MEMORY_ALARM_PERCENT = 99;

/** Most `interruptionAlarmThreshold` can be: more than that many lost attempts a day is no job. */
export const MAX_INTERRUPTION_ALARM_THRESHOLD = 1000;

/** Architecture of an EC2 instance type: Graviton families carry a `g` after the generation. */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split(".")[0];
  if (family === "a1") return "arm64";
  const suffix = /^[a-z]+\d+([a-z-]*)$/.exec(family)?.[1] ?? "";
  return suffix.includes("g") ? "arm64" : "x86_64";
}

/**
 * Characters a job name can count on whatever the stack and region: the stack name is limited
 * so that a job name this long fits in every AWS region.
 */
export const JOB_NAME_GUARANTEED_LENGTH = 8;

const STACK_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * The longest job name whose resources AWS accepts with stack `environment` in `region`: 0 if
 * none fits. Computed from the names the components would declare (lib/resourceNames.ts).
 */
export function longestJobName(environment: string, region: string): number {
  for (let length = JOB_NAME_MAX_LENGTH; length > 0; length--) {
    if (nameViolations(jobNames(environment, region, "j".repeat(length))).length === 0) {
      return length;
    }
  }
  return 0;
}

const fitsEverywhere = (environment: string): boolean =>
  nameViolations(environmentNames(environment)).length === 0 &&
  AWS_REGIONS.every(
    (region) =>
      nameViolations(regionSharedNames(environment, region)).length === 0 &&
      longestJobName(environment, region) >= JOB_NAME_GUARANTEED_LENGTH,
  );

/**
 * The longest stack name allowed: with it, the shared resources of every AWS region fit and so
 * does a job name of {@link JOB_NAME_GUARANTEED_LENGTH} characters.
 */
export const STACK_NAME_MAX_LENGTH = (() => {
  let length = 1;
  while (fitsEverywhere("s".repeat(length + 1))) length++;
  return length;
})();

/** How a name would break: `the IAM role name "…" would be 69 of 64 characters`. */
function describeViolation(violation: NameViolation): string {
  const { rule, name } = violation;
  return name.length > rule.maxLength
    ? `the ${rule.what} "${name}" would be ${name.length} of ${rule.maxLength} characters (${rule.doc})`
    : `the ${rule.what} "${name}" ${violation.problem}`;
}

/**
 * Names AWS would refuse for this stack name, these regions and jobs, one line each naming the
 * config key, the value, the limit and the fix. Auto-names are measured with Pulumi's suffix.
 */
function namingProblems(
  environment: string,
  regions: { index: number; name: string }[],
  jobs: JobDraft[],
  imageBuilder: ImageBuilder,
): string[] {
  if (!STACK_NAME.test(environment) || environment.length > STACK_NAME_MAX_LENGTH) {
    return [
      `${PROJECT}: stack name "${environment}" is not allowed: use 1-${STACK_NAME_MAX_LENGTH} lowercase letters, digits and "-", starting with a letter (resource names start with it and AWS limits their length; with at most ${STACK_NAME_MAX_LENGTH} characters a job name of ${JOB_NAME_GUARANTEED_LENGTH} fits in every region)`,
    ];
  }
  const problems: string[] = [];
  const first = (violations: NameViolation[]) => violations[0];
  const global = first(nameViolations(environmentNames(environment)));
  if (global) {
    problems.push(`${PROJECT}: stack name "${environment}": ${describeViolation(global)}`);
  }
  regions.forEach((region) => {
    const i = region.index;
    const shared = first(nameViolations(regionSharedNames(environment, region.name)));
    if (shared) {
      problems.push(
        `${PROJECT}:regions[${i}]: with stack "${environment}" and region "${region.name}" ${describeViolation(shared)}; use a shorter stack name`,
      );
    }
  });
  // A job's names need its name and regions; its image's names also its image and architecture.
  for (const draft of jobs.filter((d) => valid(d, "name", "regions"))) {
    const { job } = draft;
    const key = `${PROJECT}:jobs.${job.name}`;
    // Report the region that leaves the least room: fixing it fixes the others.
    const tightest = regions
      .filter((region) => runsIn(job, region.name))
      .map((region) => ({
        region: region.name,
        violation: first(nameViolations(jobNames(environment, region.name, job.name))),
        longest: longestJobName(environment, region.name),
      }))
      .filter((r) => r.violation)
      .sort((a, b) => a.longest - b.longest)[0];
    if (tightest?.violation) {
      problems.push(
        `${key}: job name "${job.name}" is ${job.name.length} characters; with stack "${environment}" and region "${tightest.region}" ${describeViolation(tightest.violation)}; the longest job name that fits is ${tightest.longest}`,
      );
    }
    if (!valid(draft, "image", "architecture", "imageUri") || job.imageUri !== undefined) continue;
    for (const region of regions.filter((r) => runsIn(job, r.name))) {
      const image = first(
        nameViolations(
          imageNames(environment, region.name, imageKey(job.image, job.architecture), imageBuilder),
        ),
      );
      if (image) {
        problems.push(
          `${key}.image: "${job.image}": with stack "${environment}" and region "${region.name}" ${describeViolation(image)}; use a shorter build context path`,
        );
        break;
      }
    }
  }
  return problems;
}

const jobName = z.string().regex(JOB_NAME_PATTERN, `is not a valid job name: use ${JOB_NAME_RULE}`);

const regionName = z.string().refine((r) => AWS_REGIONS.includes(r), {
  error: (issue) =>
    `is not an AWS region (${didYouMean(issue.input, AWS_REGIONS) ?? 'e.g. "eu-west-1", "us-east-2"'}; the full list is AWS_REGIONS in config.ts)`,
});

/** `did you mean "x"?` for the candidate nearest to a misspelt value, if one is near enough. */
function didYouMean(value: unknown, candidates: readonly string[]): string | undefined {
  if (typeof value !== "string") return undefined;
  const best = nearest(value, candidates);
  return best === undefined ? undefined : `did you mean ${JSON.stringify(best)}?`;
}

/** The candidate within a few edits of `value` (case aside), the nearest first; or none. */
export function nearest(value: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(value.length / 4));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(value.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** IANA zones as this Node knows them, for suggestions. */
const TIME_ZONES: readonly string[] = ["UTC", ...Intl.supportedValuesOf("timeZone")];

const instanceTypes = z
  .array(
    // EC2's name rule (lib/instanceTypes.ts); whether EC2 offers the type in the region's zones
    // is checked at deploy time (components/instanceOfferings.ts).
    z.string().refine((t) => instanceTypeNameProblem(t) === undefined, {
      error: (issue) =>
        instanceTypeNameProblem(String(issue.input)) ?? "is not an EC2 instance type",
    }),
  )
  .min(1, "must list at least one instance type, most preferred first");

const subnetIds = z
  .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'is not a subnet id ("subnet-" and hex)'))
  .min(1, "must list at least one subnet, or be left out to use the default VPC");

/** A KMS key ARN; an alias ARN is refused because IAM and key grants need the key itself. */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/(?:mrk-)?[0-9a-f-]{32,36}$/;

const regionObject = z.strictObject({
  name: regionName,
  enabled: z.boolean().default(true),
  subnetIds: subnetIds.optional(),
  instanceTypes: instanceTypes.optional(),
  scheduleOffsetMinutes: z.number().int().min(0).max(59).default(0),
  rolloutOrder: z.number().int().min(0).max(99).default(0),
  ebsKmsKeyArn: z
    .string()
    .regex(
      KMS_KEY_ARN,
      'is not a KMS key ARN (e.g. "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"); aliases are not accepted',
    )
    .optional(),
});

const regionEntry = z.union([regionName, regionObject]);

/** Lambda's limits for asynchronous invocation: 0-2 retries, events 60 s to 6 h old. */
const launcherRetrySchema = z
  .strictObject({
    maximumRetryAttempts: z
      .number()
      .int()
      .min(0)
      .max(2, "must be at most 2 (Lambda's limit)")
      .default(2),
    maximumEventAgeSeconds: z
      .number()
      .int()
      .min(60, "must be at least 60 (Lambda's limit)")
      .max(21600, "must be at most 21600 (6 hours, Lambda's limit)")
      .default(3600),
  })
  .default({ maximumRetryAttempts: 2, maximumEventAgeSeconds: 3600 });

const scheduleRule = z
  .string()
  .max(256, "is longer than the 256 characters EventBridge Scheduler accepts")
  .superRefine((expression, ctx) => {
    try {
      parseScheduleExpression(expression);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: `is not a valid schedule: ${(error as Error).message}`,
      });
    }
  });

/**
 * A parameter value: an environment string. `pulumi config set --path jobs.pi.parameters.X 300`
 * stores the number 300 (and `true` a boolean), so numbers and booleans are taken in their
 * string form; anything else is refused.
 */
const parameterValue = z
  .union([z.string(), z.number().transform(String), z.boolean().transform(String)], {
    error: "must be a string, a number or true/false (it becomes an environment variable)",
  })
  .pipe(
    z
      .string()
      .max(4096, "is longer than 4096 characters, the most one parameter may hold")
      .refine((v) => !v.includes("\0"), "must not contain NUL"),
  );

/** An environment variable the job gets: a parameter's or a secret's name. */
const environmentName = z
  .string()
  .regex(
    PARAMETER_NAME_PATTERN,
    "is not an environment variable name (A-Z, 0-9, _; not starting with a digit)",
  )
  .refine((n) => !RESERVED_PARAMETER_NAMES.includes(n), {
    message: `is reserved; the init script sets ${RESERVED_PARAMETER_NAMES.join(", ")}`,
  });

const secretReference = z.string().superRefine((reference, ctx) => {
  const parsed = parseSecretReference(reference);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

/** IAM's `Action`: listed, never a wildcard, as the policy pack requires. */
const iamAction = z.string().superRefine((action, ctx) => {
  const problem = /[*?]/.test(action)
    ? "is a wildcard action: list the actions the job needs (the policy pack refuses wildcards)"
    : IAM_ACTION.test(action)
      ? undefined
      : 'is not an IAM action ("<service>:<Action>", e.g. "s3:GetObject")';
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const iamResource = z
  .string()
  .refine(
    (r) => r === "*" || RESOURCE_ARN.test(r),
    'is not a resource ARN ("arn:<partition>:<service>:<region>:<account>:<resource>") or "*"',
  );

const oneOrMore = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).min(1, "must list at least one")]);

const refusedKey = (why: string) => z.never({ error: why }).optional();

const policyStatement = z.strictObject({
  Sid: z
    .string()
    .regex(/^[A-Za-z0-9]{1,128}$/, "is not a statement id (letters and digits)")
    .optional(),
  Effect: z.enum(["Allow", "Deny"]),
  Action: oneOrMore(iamAction),
  Resource: oneOrMore(iamResource),
  Condition: z
    .record(
      z.string(),
      z.record(z.string(), z.union([z.string(), z.array(z.string()), z.boolean(), z.number()])),
    )
    .optional(),
  NotAction: refusedKey(
    "is not allowed: NotAction grants every action it does not name; list the actions under Action",
  ),
  NotResource: refusedKey(
    "is not allowed: NotResource grants every resource it does not name; list them under Resource",
  ),
  Principal: refusedKey("is not allowed: a role's own policy has no principal"),
});

const managedPolicyArn = z
  .string()
  .regex(
    MANAGED_POLICY_ARN,
    'is not a managed policy ARN (e.g. "arn:aws:iam::123456789012:policy/read-reports" or "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")',
  )
  .refine(
    (arn) => !BROAD_MANAGED_POLICY.test(arn),
    "is an administrator-like managed policy, far broader than a job needs (the policy pack refuses it); attach a narrower policy or write statements",
  );

const jobPolicies = z
  .strictObject({
    managed: z
      .array(managedPolicyArn)
      .max(
        MANAGED_POLICIES_PER_ROLE,
        `must list at most ${MANAGED_POLICIES_PER_ROLE} policies (IAM's quota of managed policies per role)`,
      )
      .default([]),
    statements: z.array(policyStatement).default([]),
  })
  .default({ managed: [], statements: [] });

/** Longest `runRetries.backoffMinutes`: a day. */
export const MAX_RUN_RETRY_BACKOFF_MINUTES = 1440;

/** Exit codes a `failed` attempt can have (0 is success). */
const EXIT_CODE_RANGE = { min: 1, max: 255 } as const;

const retryReasons = RETRY_REASONS.join(", ");
const runRetriesSchema = z
  .strictObject({
    attempts: z
      .number()
      .int()
      .min(0, `must be from 0 to ${MAX_RUN_RETRY_ATTEMPTS} (new attempts after the first)`)
      .max(
        MAX_RUN_RETRY_ATTEMPTS,
        `must be from 0 to ${MAX_RUN_RETRY_ATTEMPTS} (new attempts after the first)`,
      )
      .default(RUN_RETRY_DEFAULTS.attempts),
    on: z
      .array(z.enum(RETRY_REASONS, { error: `is not a retry reason; use ${retryReasons}` }))
      .refine((on) => new Set(on).size === on.length, "lists a reason twice")
      .default([...RUN_RETRY_DEFAULTS.on]),
    exitCodes: z
      .array(
        z
          .number()
          .int()
          .min(EXIT_CODE_RANGE.min, `must be an exit code from 1 to 255 (0 is success)`)
          .max(EXIT_CODE_RANGE.max, `must be an exit code from 1 to 255 (0 is success)`),
      )
      .min(1, "must list at least one exit code from 1 to 255, or be left out (any non-zero)")
      .refine((codes) => new Set(codes).size === codes.length, "lists an exit code twice")
      .optional(),
    backoffMinutes: z
      .number()
      .int()
      .min(0, `must be from 0 to ${MAX_RUN_RETRY_BACKOFF_MINUTES} minutes`)
      .max(
        MAX_RUN_RETRY_BACKOFF_MINUTES,
        `must be from 0 to ${MAX_RUN_RETRY_BACKOFF_MINUTES} minutes`,
      )
      .default(RUN_RETRY_DEFAULTS.backoffMinutes),
  })
  .refine((p) => p.exitCodes === undefined || p.on.includes("failed"), {
    path: ["exitCodes"],
    error: 'only applies to failed attempts: add "failed" to runRetries.on or remove exitCodes',
  })
  .default({
    attempts: RUN_RETRY_DEFAULTS.attempts,
    on: [...RUN_RETRY_DEFAULTS.on],
    backoffMinutes: RUN_RETRY_DEFAULTS.backoffMinutes,
  });

const jobSchema = z.strictObject({
  schedule: scheduleRule,
  timezone: z
    .string()
    .refine(isValidTimezone, {
      error: (issue) =>
        `is not an IANA time zone (${didYouMean(issue.input, TIME_ZONES) ?? 'e.g. "UTC", "Europe/Paris"'})`,
    })
    .default("UTC"),
  image: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, "is not a relative path to a Docker build context")
    .refine(
      (p) => !p.startsWith("/") && !p.split("/").includes(".."),
      "must stay inside the project",
    )
    .default("job-image"),
  imageUri: z
    .string()
    .refine(
      (uri) => parseImageReference(uri) !== undefined,
      `is not an image reference: use ${IMAGE_REFERENCE_RULE}`,
    )
    .optional(),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64"),
  instanceTypes,
  volumeGiB: z
    .number()
    .int()
    .min(30, "must be at least 30 (the AMI's root snapshot)")
    .max(16384)
    .default(30),
  maxRuntimeMinutes: z
    .number()
    .int()
    .min(
      MIN_DEADLINE_MINUTES,
      `must be at least ${MIN_DEADLINE_MINUTES}: the instance stops the job ${STOP_MARGIN_MINUTES} minutes before its deadline to report`,
    )
    .max(MAX_DEADLINE_MINUTES, `must be at most ${MAX_DEADLINE_MINUTES} (7 days)`)
    .default(120),
  concurrencyPolicy: z
    .enum(CONCURRENCY_POLICIES as [ConcurrencyPolicy, ...ConcurrencyPolicy[]])
    .default("forbid"),
  purchaseOption: z
    .enum(PURCHASE_OPTIONS as [PurchaseOption, ...PurchaseOption[]])
    .default("on-demand"),
  parameters: z.record(environmentName, parameterValue).default({}),
  secrets: z.record(environmentName, secretReference).default({}),
  policies: jobPolicies,
  regions: z.array(regionName).min(1).optional(),
  retry: z
    .strictObject({
      maximumRetryAttempts: z.number().int().min(0).max(185).default(3),
      maximumEventAgeSeconds: z.number().int().min(60).max(86400).default(3600),
    })
    .default({ maximumRetryAttempts: 3, maximumEventAgeSeconds: 3600 }),
  runRetries: runRetriesSchema,
  memoryAlarmPercent: z
    .number()
    .int()
    .min(MIN_MEMORY_ALARM_PERCENT)
    .max(
      MAX_MEMORY_ALARM_PERCENT,
      `must be at most ${MAX_MEMORY_ALARM_PERCENT}: the alarm counts an OOM kill as 100 %, which must be above it`,
    )
    .default(90),
  interruptionAlarmThreshold: z
    .number()
    .int()
    .min(0, "must be 0 or more: the alarm fires when a day's count is above it")
    .max(
      MAX_INTERRUPTION_ALARM_THRESHOLD,
      `must be at most ${MAX_INTERRUPTION_ALARM_THRESHOLD} attempts a day`,
    )
    .default(2),
});

const stackSchema = z.strictObject({
  regions: z.array(regionEntry).min(1, "must list at least one region"),
  jobs: z
    .record(jobName, jobSchema)
    .refine((jobs) => Object.keys(jobs).length > 0, "must define at least one job"),
  notifications: z
    .strictObject({
      emails: z.array(z.email("is not an email address")).default([]),
      httpsEndpoints: z
        .array(z.url({ protocol: /^https$/, error: "is not an https:// URL" }))
        .default([]),
    })
    .default({ emails: [], httpsEndpoints: [] }),
  logRetentionDays: z
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(", ")}`,
    })
    .default(30),
  retainResources: z.boolean().optional(),
  imagesToKeep: z.number().int().min(1).max(1000).default(10),
  launcherRetry: launcherRetrySchema,
  imageBuilder: z
    .enum(IMAGE_BUILDERS, {
      error: `is not an image builder; use "codebuild" (in AWS, no Docker needed) or "docker" (the Docker daemon of pulumi up)`,
    })
    .default("docker"),
});

/** The keys of an object schema, through its default or optional wrapper; none for other values. */
function shapeKeys(schema: z.ZodType): string[] {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/**
 * Every key the schema accepts, by where it goes: the stack's, a region entry's, a job's, and
 * those of the keys that are objects themselves. docs/configuration.md lists them all
 * (tests/docs/configuration.test.ts compares the two).
 */
export const CONFIG_KEYS = {
  stack: Object.keys(stackSchema.shape),
  region: Object.keys(regionObject.shape),
  job: Object.keys(jobSchema.shape),
  nested: Object.fromEntries(
    [
      ...Object.entries(stackSchema.shape),
      ...Object.entries(jobSchema.shape).map(([k, v]) => [`jobs.*.${k}`, v] as const),
    ]
      .map(([key, schema]) => [key, shapeKeys(schema as z.ZodType)] as const)
      .filter(([, keys]) => keys.length > 0),
  ) as Record<string, string[]>,
};

/** Raw values as read from stack config (already JSON-decoded). */
export type RawStackConfig = Record<string, unknown>;

function formatPath(path: readonly PropertyKey[]): string {
  // A hostile or mistaken key (a 100 kB job name) must not turn one problem into 100 kB.
  const segment = (p: PropertyKey) =>
    String(p).length > 40 ? `${String(p).slice(0, 37)}...` : String(p);
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? segment(p) : `.${segment(p)}`))
    .join("");
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type Issue = z.core.$ZodIssue;

function issueProblems(issue: Issue, raw: unknown, base: readonly PropertyKey[]): string[] {
  const path = [...base, ...issue.path];
  const key = path.length > 0 ? `${PROJECT}:${formatPath(path)}` : PROJECT;
  const value = valueAt(raw, path);
  switch (issue.code) {
    case "unrecognized_keys":
      return [
        `${key}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; check the spelling against Pulumi.yaml`,
      ];
    case "invalid_key":
      return [
        `${key}: ${describe(path[path.length - 1])} ${issue.issues.map((i) => i.message).join("; ")}`,
      ];
    case "invalid_union": {
      // A union with its own message (a parameter value) says what is allowed itself.
      if (issue.message !== "Invalid input") return [`${key}: ${describe(value)} ${issue.message}`];
      // Region entries are a name or an object: report the branch that matches the value's shape.
      const branch =
        issue.errors[typeof value === "object" && value !== null ? 1 : 0] ?? issue.errors[0];
      return branch.flatMap((inner) => issueProblems(inner, raw, path));
    }
    default:
      return [`${key}: ${describe(value)} ${ruleText(issue, value)}`];
  }
}

/** The validation library's default messages start so; ours never do. */
const LIBRARY_MESSAGE = /^(Invalid (input|option)|Too (small|big))\b/;

const KIND_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a map of keys to values",
  record: "a map of keys to values",
  undefined: "nothing",
  null: "null",
};

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** What a rule allows and how to fix the value, in our words instead of the library's. */
function ruleText(issue: Issue, value: unknown): string {
  if (!LIBRARY_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case "invalid_type": {
      const expected = KIND_NAMES[issue.expected] ?? issue.expected;
      if (value === undefined) return `is required: set it to ${expected}`;
      if (issue.expected === "int") return "must be a whole number";
      const unquote =
        typeof value === "string" && issue.expected === "number" && /^-?\d+(\.\d+)?$/.test(value)
          ? `; write ${value} without quotes`
          : typeof value === "string" &&
              issue.expected === "boolean" &&
              /^(true|false)$/.test(value)
            ? `; write ${value} without quotes`
            : "";
      return `must be ${expected}, not ${KIND_NAMES[kindOf(value)] ?? kindOf(value)}${unquote}`;
    }
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const word = issue.code === "too_small" ? "least" : "most";
      const exclusive = issue.inclusive === false;
      switch (issue.origin) {
        case "array":
        case "set":
          return `must list at ${word} ${bound} item(s)`;
        case "string":
          return `must have at ${word} ${bound} character(s)`;
        default:
          return exclusive
            ? `must be ${issue.code === "too_small" ? "greater" : "less"} than ${bound}`
            : `must be at ${word} ${bound}`;
      }
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

/** The config key a path names: `transient-jobs:jobs.pi.timezone`, or the namespace itself. */
function keyOf(path: readonly PropertyKey[]): string {
  return path.length > 0 ? `${PROJECT}:${formatPath(path)}` : PROJECT;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type Checked<T> = { ok: true; value: T } | { ok: false };

/** The value at `path` of `raw` checked against `schema`; its problems are added to `problems`. */
function check<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  path: readonly PropertyKey[],
  problems: string[],
): Checked<z.output<S>> {
  const result = schema.safeParse(valueAt(raw, path));
  if (result.success) return { ok: true, value: result.data };
  problems.push(...result.error.issues.flatMap((issue) => issueProblems(issue, raw, path)));
  return { ok: false };
}

/** An object checked field by field: the valid fields' values (defaults applied), the broken ones. */
interface Fields {
  value: Record<string, unknown>;
  broken: Set<string>;
}

/**
 * The object at `path` checked one field at a time against `schema`'s shape, so one bad field
 * neither hides another's problems nor the checks that need only the good fields. Keys in
 * `handled` are the caller's to check. Undefined when the value is not an object at all.
 */
function checkFields(
  schema: z.ZodObject,
  raw: unknown,
  path: readonly PropertyKey[],
  problems: string[],
  handled: readonly string[] = [],
): Fields | undefined {
  const object = valueAt(raw, path);
  if (!isPlainObject(object)) {
    check(schema, raw, path, problems);
    return undefined;
  }
  const fields: Fields = { value: {}, broken: new Set() };
  for (const [key, fieldSchema] of Object.entries(schema.shape)) {
    if (handled.includes(key)) continue;
    const result = check(fieldSchema as z.ZodType, raw, [...path, key], problems);
    if (!result.ok) fields.broken.add(key);
    // An optional key left out stays out, as the validation library leaves it.
    else if (result.value !== undefined) fields.value[key] = result.value;
  }
  // After the fields, as the validation library orders them.
  const unknown = Object.keys(object).filter((key) => !Object.hasOwn(schema.shape, key));
  if (unknown.length > 0) {
    problems.push(
      `${keyOf(path)}: unknown key(s) ${unknown.map((k) => `"${k}"`).join(", ")}; check the spelling against Pulumi.yaml`,
    );
  }
  return fields;
}

/** One region entry as far as it is valid: `name` is known when its name is valid. */
interface RegionDraft {
  index: number;
  name?: string;
  region: RegionConfig;
  broken: Set<string>;
}

/** One job as far as it is valid: the fields in `broken` (and `name`, if bad) are missing. */
interface JobDraft {
  job: JobConfig;
  broken: Set<string>;
}

/** Whether every named field of the draft is valid, so a check that needs them can run. */
function valid<T extends { broken: Set<string> }>(draft: T, ...fields: string[]): boolean {
  return fields.every((field) => !draft.broken.has(field));
}

function checkRegions(raw: RawStackConfig, problems: string[]): RegionDraft[] | undefined {
  const list = check(
    z.array(z.unknown()).min(1, "must list at least one region"),
    raw,
    ["regions"],
    problems,
  );
  if (!list.ok) return undefined;
  return list.value.map((entry, index): RegionDraft => {
    const path = ["regions", index];
    const defaults = { enabled: true, scheduleOffsetMinutes: 0, rolloutOrder: 0 };
    if (!isPlainObject(entry)) {
      const name = check(regionEntry, raw, path, problems);
      return name.ok && typeof name.value === "string"
        ? { index, name: name.value, region: { name: name.value, ...defaults }, broken: new Set() }
        : { index, region: { name: "", ...defaults }, broken: new Set(["name"]) };
    }
    const fields = checkFields(regionObject, raw, path, problems) as Fields;
    const region = fields.value as unknown as RegionConfig;
    return { index, name: valid(fields, "name") ? region.name : undefined, region, ...fields };
  });
}

function checkJobs(raw: RawStackConfig, problems: string[]): JobDraft[] | undefined {
  const names = z
    .record(jobName, z.unknown())
    .refine((jobs) => Object.keys(jobs).length > 0, "must define at least one job")
    .safeParse(raw.jobs);
  const badNames = new Set<PropertyKey>();
  if (!names.success) {
    for (const issue of names.error.issues) {
      problems.push(...issueProblems(issue, raw, ["jobs"]));
      if (issue.code === "invalid_key") badNames.add(issue.path[0]);
    }
    if (badNames.size === 0) return undefined;
  }
  return Object.keys(raw.jobs as Record<string, unknown>).map((name): JobDraft => {
    const fields = checkFields(jobSchema, raw, ["jobs", name], problems) ?? {
      value: {},
      broken: new Set(Object.keys(jobSchema.shape)),
    };
    if (badNames.has(name)) fields.broken.add("name");
    if (valid(fields, "schedule")) {
      fields.value.parsedSchedule = parseScheduleExpression(fields.value.schedule as string);
    }
    return { job: { name, ...fields.value } as unknown as JobConfig, broken: fields.broken };
  });
}

/** Every problem of a config and, when there is none, the config. */
interface Validation {
  problems: string[];
  config?: StackConfig;
  /** The jobs whose name, image, parameters and runtime are valid, however the rest is. */
  checkableJobs: JobConfig[];
}

/**
 * Checks every section, region and job on its own and then the rules between them, each rule
 * only where the values it needs are valid: one run reports every problem, each once.
 */
function validateStackConfig(raw: RawStackConfig, environment: string): Validation {
  const problems: string[] = [];
  const top = checkFields(stackSchema, raw, [], problems, ["regions", "jobs"]) as Fields;
  const regionDrafts = checkRegions(raw, problems);
  const jobDrafts = checkJobs(raw, problems);
  const regions = regionDrafts ?? [];
  const jobs = jobDrafts ?? [];
  /** Every region's name is known, so "not one of the stack's regions" can be said. */
  const allRegionNames = regionDrafts !== undefined && regions.every((r) => r.name !== undefined);
  const named = regions.filter((r): r is RegionDraft & { name: string } => r.name !== undefined);

  const seen = new Set<string>();
  for (const region of named) {
    if (seen.has(region.name)) {
      problems.push(
        `${PROJECT}:regions[${region.index}]: "${region.name}" is listed twice; list each region once`,
      );
    }
    seen.add(region.name);
  }
  /** The job runs in the region, as far as its `regions` is valid. */
  const runsInDraft = (draft: JobDraft, region: string) =>
    valid(draft, "regions") && runsIn(draft.job, region);

  /** Jobs that name a region the stack does not have. */
  const misplaced = new Set<string>();
  for (const draft of jobs) {
    const { job } = draft;
    const key = `${PROJECT}:jobs.${job.name}`;
    if (valid(draft, "instanceTypes", "architecture")) {
      job.instanceTypes.forEach((type, i) => {
        const arch = instanceArchitecture(type);
        if (arch !== job.architecture) {
          problems.push(
            `${key}.instanceTypes[${i}]: "${type}" is ${arch} but architecture is ${job.architecture}; use an ${job.architecture} type or set architecture: ${arch}`,
          );
        }
      });
    }
    const rawImage = valueAt(raw, ["jobs", job.name, "image"]);
    if (valid(draft, "imageUri") && job.imageUri !== undefined && rawImage !== undefined) {
      problems.push(
        `${key}.imageUri: "${job.imageUri}" is set and so is image ${describe(rawImage)}; a job runs either an image built from its build context (image) or one built elsewhere (imageUri): remove one`,
      );
    }
    if (valid(draft, "secrets", "parameters")) {
      for (const name of Object.keys(job.secrets).filter((n) => Object.hasOwn(job.parameters, n))) {
        problems.push(
          `${key}.secrets.${name}: "${name}" is also a parameter; a variable comes from one place: remove it from parameters or from secrets`,
        );
      }
    }
    if (valid(draft, "regions") && allRegionNames) {
      job.regions?.forEach((region, i) => {
        if (!seen.has(region)) {
          misplaced.add(job.name);
          problems.push(
            `${key}.regions[${i}]: "${region}" is not one of the stack's regions (${[...seen].join(", ")}); add it to ${PROJECT}:regions first`,
          );
        }
      });
    }
  }
  for (const { index: i, name, region, broken } of named) {
    if (!broken.has("instanceTypes")) {
      region.instanceTypes?.forEach((type, t) => {
        for (const draft of jobs.filter((d) => valid(d, "architecture") && runsInDraft(d, name))) {
          const { job } = draft;
          if (instanceArchitecture(type) !== job.architecture) {
            problems.push(
              `${PROJECT}:regions[${i}].instanceTypes[${t}]: "${type}" is ${instanceArchitecture(type)} but job "${job.name}" is ${job.architecture}; override instance types per region only with types of the job's architecture`,
            );
          }
        }
      });
    }
  }
  for (const { index: i, name, region, broken } of named) {
    if (broken.has("scheduleOffsetMinutes")) continue;
    for (const { job } of jobs.filter((d) => valid(d, "schedule") && runsInDraft(d, name))) {
      try {
        offsetSchedule(job.schedule, region.scheduleOffsetMinutes);
      } catch (error) {
        problems.push(
          `${PROJECT}:regions[${i}].scheduleOffsetMinutes: ${region.scheduleOffsetMinutes} cannot shift job "${job.name}": ${(error as Error).message}`,
        );
      }
    }
  }
  for (const { index: i, name, region, broken } of named) {
    const keyRegion = broken.has("ebsKmsKeyArn") ? undefined : region.ebsKmsKeyArn?.split(":")[3];
    if (keyRegion !== undefined && keyRegion !== name) {
      problems.push(
        `${PROJECT}:regions[${i}].ebsKmsKeyArn: "${region.ebsKmsKeyArn}" is a key in ${keyRegion}, but EBS volumes in ${name} need a key of ${name}; use a key (or multi-Region replica) of that region`,
      );
    }
  }
  // Whether a region runs no job can be said only when every job's regions are known and in the
  // stack; a job naming a region the stack lacks (or may lack: one of its regions is misspelt)
  // is one mistake, reported once, not also here.
  const jobRegionsKnown =
    jobDrafts !== undefined &&
    jobs.every((d) => valid(d, "regions") && (d.job.regions ?? []).every((r) => seen.has(r)));
  if (jobRegionsKnown) {
    for (const { index: i, name } of named) {
      if (!jobs.some((d) => runsIn(d.job, name))) {
        problems.push(
          `${PROJECT}:regions[${i}]: "${name}" runs no job (every job's regions leaves it out); remove the region or add it to a job's regions`,
        );
      }
    }
  }
  // An invalid builder is reported on its own; names are then checked as the default's.
  const imageBuilder: ImageBuilder = valid(top, "imageBuilder")
    ? (top.value.imageBuilder as ImageBuilder)
    : "docker";
  problems.push(...namingProblems(environment, named, jobs, imageBuilder));
  for (const draft of jobs) {
    const { job } = draft;
    const needed = [
      "name",
      "regions",
      "parameters",
      "secrets",
      "maxRuntimeMinutes",
      "instanceTypes",
    ];
    if (misplaced.has(job.name) || !valid(draft, ...needed, "volumeGiB")) continue;
    const jobRegions = named.map((r) => r.name).filter((name) => runsIn(job, name));
    if (jobRegions.length === 0) continue;
    const problem = parametersFitProblem(job, environment, jobRegions);
    if (problem) problems.push(`${PROJECT}:jobs.${job.name}.parameters: ${problem}`);
  }

  const checkableJobs = jobs
    .filter((d) => valid(d, "name", "image", "imageUri", "parameters", "maxRuntimeMinutes"))
    .map((d) => d.job);
  // A problem reached by two routes is still one problem.
  const unique = [...new Set(problems)];
  if (unique.length > 0 || !regionDrafts || !jobDrafts) {
    return { problems: unique, checkableJobs };
  }
  const data = top.value as Omit<z.output<typeof stackSchema>, "regions" | "jobs">;
  return {
    problems: [],
    checkableJobs,
    config: {
      environment,
      regions: regions.map((r) => r.region),
      jobs: jobs.map((d) => d.job),
      notifications: data.notifications,
      logRetentionDays: data.logRetentionDays,
      retainResources: data.retainResources ?? environment === "prod",
      imagesToKeep: data.imagesToKeep,
      launcherRetry: data.launcherRetry,
      imageBuilder: data.imageBuilder,
    },
  };
}

/**
 * Validates raw stack config and applies defaults.
 * @param raw config values keyed without the project namespace (`regions`, `jobs`, …).
 * @param environment the stack name.
 * @throws StackConfigError listing every problem, each naming the key, the value and the rule.
 */
export function parseStackConfig(raw: RawStackConfig, environment: string): StackConfig {
  const { problems, config } = validateStackConfig(raw, environment);
  if (problems.length > 0 || !config) throw new StackConfigError(problems);
  return config;
}

/**
 * What a valid config may still get wrong, one line each, for `pulumi up` and the plan to warn
 * about: an image named by a tag, which its owners can move to other content between runs.
 */
export function configWarnings(config: StackConfig): string[] {
  return config.jobs.flatMap((job) => {
    const reference = job.imageUri === undefined ? undefined : parseImageReference(job.imageUri);
    if (!reference || reference.digest !== undefined) return [];
    return [
      `${PROJECT}:jobs.${job.name}.imageUri: "${job.imageUri}" names a mutable tag: each run pulls whatever it points to then; pin the image by digest (…@sha256:<digest>) for repeatable runs`,
    ];
  });
}

function runsIn(job: JobConfig, region: string): boolean {
  return job.regions === undefined || job.regions.includes(region);
}

/**
 * The longest a run can take to reach a RunInstances call after its scheduled time: Scheduler
 * retries delivery until the event is `retry.maximumEventAgeSeconds` old, Lambda then retries
 * the invocation until the event is `launcherRetry.maximumEventAgeSeconds` old in its queue, and
 * the last invocation runs for at most the launcher's timeout. Later invocations cannot happen.
 */
export function maxLaunchDelaySeconds(
  job: JobConfig,
  launcherRetry: LauncherRetryConfig,
  launcherTimeoutSeconds: number,
): number {
  return (
    job.retry.maximumEventAgeSeconds + launcherRetry.maximumEventAgeSeconds + launcherTimeoutSeconds
  );
}

/** The jobs that run in `region`, with the region's overrides applied. */
export function jobsForRegion(config: StackConfig, region: RegionConfig): JobConfig[] {
  return config.jobs
    .filter((job) => runsIn(job, region.name))
    .map((job) => (region.instanceTypes ? { ...job, instanceTypes: region.instanceTypes } : job));
}

/**
 * The regions that roll out before `region`: those with a lower `rolloutOrder`. A region's images
 * wait for them, so a new image reaches them first.
 */
export function regionsBefore(regions: RegionConfig[], region: RegionConfig): RegionConfig[] {
  return regions.filter((r) => r.rolloutOrder < region.rolloutOrder);
}

/**
 * Picks this project's keys out of Pulumi's flat config map (`"transient-jobs:regions"` → `regions`)
 * and decodes their values: Pulumi stores objects, lists, numbers and booleans as JSON text.
 */
/**
 * Keys whose namespace looks like a misspelling of the project's (`transient-job:regions`): the
 * program would never read them, and the stack would deploy without the intended value.
 */
export function misspeltNamespaceProblems(all: Record<string, string>): string[] {
  return Object.keys(all).flatMap((key) => {
    const at = key.indexOf(":");
    if (at < 0) return [];
    const namespace = key.slice(0, at);
    if (namespace === PROJECT || editDistance(namespace, PROJECT) > 3) return [];
    const intended = `${PROJECT}:${key.slice(at + 1)}`;
    return [
      `${key}: namespace "${namespace}" is not this project's; did you mean ${intended}? This program reads only keys under ${PROJECT}:`,
    ];
  });
}

/**
 * Reads Pulumi's flat config map into a validated config: every problem at once, misspelt
 * namespaces included.
 */
export function readStackConfig(
  all: Record<string, string>,
  environment: string,
  readFile: (file: string) => string | undefined = readIfExists,
): StackConfig {
  const { problems, config, checkableJobs } = validateStackConfig(
    rawConfigFromPulumi(all),
    environment,
  );
  const everything = [
    ...misspeltNamespaceProblems(all),
    ...problems,
    // Checked for every job whose own fields allow it, however the rest of the config is.
    ...declaredParameterProblems(checkableJobs, readFile),
  ];
  const unique = [...new Set(everything)];
  if (unique.length > 0 || !config) throw new StackConfigError(unique);
  return config;
}

/** The file's text, or undefined when it does not exist. */
function readIfExists(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

/**
 * Each job's parameters against the declarations in its build context's `parameters.json`
 * (relative to the working directory, which `pulumi up` sets to the project); a job whose image
 * declares nothing is not checked.
 */
export function declaredParameterProblems(
  jobs: JobConfig[],
  readFile: (file: string) => string | undefined,
): string[] {
  // An image built elsewhere declares nothing here: its parameters are its owners' contract.
  return jobs.flatMap((job) => {
    if (job.imageUri !== undefined) return [];
    const file = path.join(job.image, PARAMETERS_FILE);
    const text = readFile(file);
    if (text === undefined) return [];
    try {
      return parameterProblems(job, parseParameterDeclarations(text, file), PROJECT);
    } catch (error) {
      if (error instanceof ParameterFileError)
        return [`${PROJECT}:jobs.${job.name}.image: ${error.message}`];
      throw error;
    }
  });
}

/** Levenshtein distance: insertions, deletions and substitutions that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

export function rawConfigFromPulumi(all: Record<string, string>): RawStackConfig {
  const raw: RawStackConfig = {};
  for (const [key, text] of Object.entries(all)) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // A plain string value.
    }
    raw[key.slice(PROJECT.length + 1)] = value;
  }
  return raw;
}

/**
 * Whether the job's parameters leave its init script within EC2's user data limit wherever it
 * runs: the renderer checks it with the longest values a deployment and a run can add.
 */
function parametersFitProblem(
  job: JobConfig,
  environment: string,
  jobRegions: string[],
): string | undefined {
  const region = jobRegions.reduce((a, b) => (b.length > a.length ? b : a), "");
  try {
    assertParametersFit({
      job: job.name,
      environment,
      region,
      instanceTypes: job.instanceTypes,
      parameters: job.parameters,
      secrets: job.secrets,
    });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
