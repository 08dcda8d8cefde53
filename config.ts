/**
 * Stack configuration: raw values from `Pulumi.<stack>.yaml` in, a typed and validated
 * `StackConfig` out. Pure: nothing here touches Pulumi or AWS, so every rule is tested with plain
 * tables. Defaults live here and in `Pulumi.yaml` (with descriptions); keep the two in step.
 */
import { z } from "zod";
import {
  parseScheduleExpression,
  ParsedSchedule,
  isValidTimezone,
  offsetSchedule,
} from "./components/scheduleExpression";
import {
  CONCURRENCY_POLICIES,
  ConcurrencyPolicy,
  PURCHASE_OPTIONS,
  PurchaseOption,
} from "./launcher/types";
import {
  MAX_DEADLINE_MINUTES,
  MIN_DEADLINE_MINUTES,
  RESERVED_PARAMETER_NAMES,
  renderInitScript,
  STOP_MARGIN_MINUTES,
} from "./launcher/initScript";
import { hourlyPriceTable } from "./launcher/prices";

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

/** Container variables the init script sets itself; a job parameter may not override them. */
export const RESERVED_PARAMETERS = RESERVED_PARAMETER_NAMES;

export type Architecture = "x86_64" | "arm64";

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
}

/** Scheduler retry policy for one job. */
export interface RetryConfig {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
}

/** One job, validated, with defaults applied. */
export interface JobConfig {
  name: string;
  schedule: string;
  parsedSchedule: ParsedSchedule;
  timezone: string;
  /** Docker build context, relative to the project root. */
  image: string;
  architecture: Architecture;
  instanceTypes: string[];
  volumeGiB: number;
  maxRuntimeMinutes: number;
  concurrencyPolicy: ConcurrencyPolicy;
  purchaseOption: PurchaseOption;
  parameters: Record<string, string>;
  /** Regions this job runs in; default: every region of the stack. */
  regions?: string[];
  retry: RetryConfig;
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
}

/** Raised for invalid stack config; `problems` holds one line per bad value. */
export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack config:\n  ${problems.join("\n  ")}`);
    this.name = "StackConfigError";
  }
}

const INSTANCE_TYPE = /^([a-z][a-z0-9-]*)\.([a-z0-9-]+)$/;

/** Architecture of an EC2 instance type: Graviton families carry a `g` after the generation. */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split(".")[0];
  if (family === "a1") return "arm64";
  const suffix = /^[a-z]+\d+([a-z-]*)$/.exec(family)?.[1] ?? "";
  return suffix.includes("g") ? "arm64" : "x86_64";
}

const nameRule = (what: string, max: number) =>
  z
    .string()
    .regex(
      new RegExp(`^[a-z][a-z0-9-]{0,${max - 1}}$`),
      `is not a valid ${what} name: use 1-${max} lowercase letters, digits and "-", starting with a letter`,
    );

const regionName = z.string().refine((r) => AWS_REGIONS.includes(r), {
  message:
    'is not an AWS region (e.g. "eu-west-1", "us-east-2"; the full list is AWS_REGIONS in config.ts)',
});

const instanceTypes = z
  .array(
    z.string().regex(INSTANCE_TYPE, 'is not an EC2 instance type (e.g. "m7i.large", "c7g.xlarge")'),
  )
  .min(1, "must list at least one instance type, most preferred first");

const subnetIds = z
  .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'is not a subnet id ("subnet-" and hex)'))
  .min(1, "must list at least one subnet, or be left out to use the default VPC");

const regionEntry = z.union([
  regionName,
  z.strictObject({
    name: regionName,
    enabled: z.boolean().default(true),
    subnetIds: subnetIds.optional(),
    instanceTypes: instanceTypes.optional(),
    scheduleOffsetMinutes: z.number().int().min(0).max(59).default(0),
    rolloutOrder: z.number().int().min(0).max(99).default(0),
  }),
]);

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

const parameterName = /^[A-Z_][A-Z0-9_]*$/;

const jobSchema = z.strictObject({
  schedule: scheduleRule,
  timezone: z
    .string()
    .refine(isValidTimezone, 'is not an IANA time zone (e.g. "UTC", "Europe/Paris")')
    .default("UTC"),
  image: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, "is not a relative path to a Docker build context")
    .refine(
      (p) => !p.startsWith("/") && !p.split("/").includes(".."),
      "must stay inside the project",
    )
    .default("job-image"),
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
  parameters: z
    .record(
      z
        .string()
        .regex(
          parameterName,
          "is not an environment variable name (A-Z, 0-9, _; not starting with a digit)",
        )
        .refine((n) => !RESERVED_PARAMETERS.includes(n), {
          message: `is reserved; the init script sets ${RESERVED_PARAMETERS.join(", ")}`,
        }),
      z
        .string()
        .max(4096)
        .refine((v) => !v.includes("\0"), "must not contain NUL"),
    )
    .default({}),
  regions: z.array(regionName).min(1).optional(),
  retry: z
    .strictObject({
      maximumRetryAttempts: z.number().int().min(0).max(185).default(3),
      maximumEventAgeSeconds: z.number().int().min(60).max(86400).default(3600),
    })
    .default({ maximumRetryAttempts: 3, maximumEventAgeSeconds: 3600 }),
});

const stackSchema = z.strictObject({
  regions: z.array(regionEntry).min(1, "must list at least one region"),
  jobs: z
    .record(nameRule("job", 24), jobSchema)
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
});

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
  const key = `${PROJECT}:${formatPath(path)}`;
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
      // Region entries are a name or an object: report the branch that matches the value's shape.
      const branch =
        issue.errors[typeof value === "object" && value !== null ? 1 : 0] ?? issue.errors[0];
      return branch.flatMap((inner) => issueProblems(inner, raw, path));
    }
    default:
      return [
        `${key}: ${describe(value)} ${issue.message
          .replace(/^Invalid (input|option): /, "is invalid: ")
          .replace(/^Too (small|big): /, (_, size: string) => `is too ${size}: `)}`,
      ];
  }
}

function zodProblems(error: z.ZodError, raw: unknown): string[] {
  return error.issues.flatMap((issue) => issueProblems(issue, raw, []));
}

/**
 * Validates raw stack config and applies defaults.
 * @param raw config values keyed without the project namespace (`regions`, `jobs`, …).
 * @param environment the stack name.
 * @throws StackConfigError listing every problem, each naming the key, the value and the rule.
 */
export function parseStackConfig(raw: RawStackConfig, environment: string): StackConfig {
  const parsed = stackSchema.safeParse(raw);
  if (!parsed.success) throw new StackConfigError(zodProblems(parsed.error, raw));
  const data = parsed.data;
  const problems: string[] = [];

  const regions: RegionConfig[] = data.regions.map((entry) =>
    typeof entry === "string"
      ? { name: entry, enabled: true, scheduleOffsetMinutes: 0, rolloutOrder: 0 }
      : entry,
  );
  const seen = new Set<string>();
  regions.forEach((region, i) => {
    if (seen.has(region.name)) {
      problems.push(
        `${PROJECT}:regions[${i}]: "${region.name}" is listed twice; list each region once`,
      );
    }
    seen.add(region.name);
  });

  const jobs: JobConfig[] = Object.entries(data.jobs).map(([name, job]) => ({
    name,
    ...job,
    parsedSchedule: parseScheduleExpression(job.schedule),
  }));

  for (const job of jobs) {
    const key = `${PROJECT}:jobs.${job.name}`;
    job.instanceTypes.forEach((type, i) => {
      const arch = instanceArchitecture(type);
      if (arch !== job.architecture) {
        problems.push(
          `${key}.instanceTypes[${i}]: "${type}" is ${arch} but architecture is ${job.architecture}; use an ${job.architecture} type or set architecture: ${arch}`,
        );
      }
    });
    job.regions?.forEach((region, i) => {
      if (!seen.has(region)) {
        problems.push(
          `${key}.regions[${i}]: "${region}" is not one of the stack's regions (${[...seen].join(", ")}); add it to ${PROJECT}:regions first`,
        );
      }
    });
  }
  regions.forEach((region, i) => {
    region.instanceTypes?.forEach((type, t) => {
      for (const job of jobs.filter((j) => runsIn(j, region.name))) {
        if (instanceArchitecture(type) !== job.architecture) {
          problems.push(
            `${PROJECT}:regions[${i}].instanceTypes[${t}]: "${type}" is ${instanceArchitecture(type)} but job "${job.name}" is ${job.architecture}; override instance types per region only with types of the job's architecture`,
          );
        }
      }
    });
  });
  regions.forEach((region, i) => {
    for (const job of jobs.filter((j) => runsIn(j, region.name))) {
      try {
        offsetSchedule(job.schedule, region.scheduleOffsetMinutes);
      } catch (error) {
        problems.push(
          `${PROJECT}:regions[${i}].scheduleOffsetMinutes: ${region.scheduleOffsetMinutes} cannot shift job "${job.name}": ${(error as Error).message}`,
        );
      }
    }
  });
  regions.forEach((region, i) => {
    if (!jobs.some((job) => runsIn(job, region.name))) {
      problems.push(
        `${PROJECT}:regions[${i}]: "${region.name}" runs no job (every job's regions leaves it out); remove the region or add it to a job's regions`,
      );
    }
  });
  for (const job of jobs) {
    const problem = initScriptProblem(job, environment, regions);
    if (problem) problems.push(`${PROJECT}:jobs.${job.name}.parameters: ${problem}`);
  }
  if (problems.length > 0) throw new StackConfigError(problems);

  return {
    environment,
    regions,
    jobs,
    notifications: data.notifications,
    logRetentionDays: data.logRetentionDays,
    retainResources: data.retainResources ?? environment === "prod",
    imagesToKeep: data.imagesToKeep,
  };
}

function runsIn(job: JobConfig, region: string): boolean {
  return job.regions === undefined || job.regions.includes(region);
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
 * Renders a run's init script with the longest values a deployment can produce (bucket and
 * repository names at their limits, every price entry), so parameters that would push the user
 * data over EC2's limit fail now, not at the job's first launch.
 */
function initScriptProblem(
  job: JobConfig,
  environment: string,
  regions: RegionConfig[],
): string | undefined {
  const region = regions
    .map((r) => r.name)
    .filter((name) => runsIn(job, name))
    .reduce((a, b) => (b.length > a.length ? b : a), "");
  const account = "123456789012";
  try {
    renderInitScript({
      job: job.name,
      environment,
      region,
      imageUri: `${account}.dkr.ecr.${region}.amazonaws.com/${"r".repeat(100)}@sha256:${"0".repeat(64)}`,
      bucket: "b".repeat(63),
      resultsPrefix: `jobs/${job.name}`,
      logGroup: `/${"l".repeat(100)}`,
      topicArn: `arn:aws:sns:${region}:${account}:${"t".repeat(100)}`,
      parameters: job.parameters,
      runId: `${job.name}-20261123T0300Z`,
      scheduledTime: "2026-11-23T03:00:00Z",
      deadlineMinutes: job.maxRuntimeMinutes,
      instancePrices: hourlyPriceTable(region, job.instanceTypes, job.volumeGiB).instances,
    });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
