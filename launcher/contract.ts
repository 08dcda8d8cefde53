/**
 * Contracts shared by the Pulumi program (which renders them at deploy time) and the code that
 * runs in the launcher Lambda and on the instance. Plain data only: everything here must survive
 * JSON and closure serialization.
 */

/** What to do when a run is due while an earlier run of the same job is still alive (as in Kubernetes CronJob). */
export type ConcurrencyPolicy = "forbid" | "allow" | "replace";

/** How the launcher buys capacity. `spot-then-on-demand` tries every spot option before any on-demand one. */
export type PurchaseOption = "on-demand" | "spot" | "spot-then-on-demand";

/** Allowed values, in one place, for validation and documentation. */
export const CONCURRENCY_POLICIES: readonly ConcurrencyPolicy[] = ["forbid", "allow", "replace"];
export const PURCHASE_OPTIONS: readonly PurchaseOption[] = [
  "on-demand",
  "spot",
  "spot-then-on-demand",
];

/** Longest job name: a job's resource names (with the stack, region and Pulumi's suffix) must fit AWS's limits. */
export const JOB_NAME_MAX_LENGTH = 24;

/**
 * Job names: 1-24 lower-case letters, digits and hyphens, starting with a letter. Config, the
 * launcher's event check, run ids and run-record keys all use this one rule.
 */
export const JOB_NAME_PATTERN = new RegExp(`^[a-z][a-z0-9-]{0,${JOB_NAME_MAX_LENGTH - 1}}$`);

/** The job-name rule in words, for error messages. */
export const JOB_NAME_RULE = `1-${JOB_NAME_MAX_LENGTH} lowercase letters, digits and "-", starting with a letter`;

/** Run ids: `<job>-<yyyymmdd>T<hhmm>Z` (UTC minute), e.g. `pi-20261123T0300Z`. */
export const RUN_ID_PATTERN = new RegExp(`${JOB_NAME_PATTERN.source.slice(0, -1)}-\\d{8}T\\d{4}Z$`);

/** Job parameter names: environment variable names. */
export const PARAMETER_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

/** Environment variables the launcher sets itself; job parameters must not use these names. */
export const RESERVED_PARAMETER_NAMES: readonly string[] = [
  "RUN_ID",
  "RESULTS_BUCKET",
  "RESULTS_PREFIX",
  "AWS_REGION",
  "SCRATCH_DIR",
  // The run's checkpoint prefix and the attempt's number (see RunRetryPolicy).
  "CHECKPOINT_URI",
  "ATTEMPT",
];

/**
 * Where the container finds its scratch space (`SCRATCH_DIR`): the instance's NVMe instance store
 * when its type has one, otherwise a folder on the root volume.
 */
export const SCRATCH_DIR = "/scratch";

/**
 * Minutes before the deadline at which the init script stops the job itself, so that it can write the
 * record, put the metrics and notify while Docker and the network are still up: at the backstop's
 * `shutdown -h`, systemd stops Docker and the network, and the script, run by cloud-init's final
 * stage, is not waited for. The margin covers the worst case, every call at its timeout: `docker
 * stop` (the grace plus 30 s) and `docker wait` 30 s, `docker logs` 20 s, `docker inspect` (the
 * OOM question) 10 s, the record 3 x 60 s plus 15 s of retry waits, metrics 30 s, SNS 30 s; 405 s
 * in all, under 7 minutes.
 * https://www.freedesktop.org/software/systemd/man/latest/shutdown.html
 * https://docs.cloud-init.io/en/latest/explanation/boot.html
 */
export const STOP_MARGIN_MINUTES = 7;

/** Shortest allowed `maxRuntimeMinutes`: the stop margin plus 3 minutes for the job itself. */
export const MIN_DEADLINE_MINUTES = STOP_MARGIN_MINUTES + 3;

/** Longest allowed `maxRuntimeMinutes`: one week. */
export const MAX_DEADLINE_MINUTES = 10080;

/**
 * EC2 instance states of an instance that is (or may again be) running: a run in one of these is
 * alive for the concurrency policy and reapable once past its deadline.
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html
 */
export const LIVE_STATES: readonly string[] = ["pending", "running", "stopping", "stopped"];

/** EC2 instance states of an instance that has ended or is ending for good. */
export const ENDED_STATES: readonly string[] = ["shutting-down", "terminated"];

/**
 * Run-record layout in a region's results bucket: everything of job `pi` is under `jobs/pi/`,
 * its records under `jobs/pi/runs/<run id>.json` and its outputs under `jobs/pi/results/`.
 */
export const RUN_RECORDS = {
  /** Key prefix of a job in its region's bucket, without trailing slash. */
  jobPrefix: (job: string): string => `jobs/${job}`,
  /** Prefix of a job's run records, with trailing slash (for listing). */
  runsPrefix: (jobPrefix: string): string => `${jobPrefix}/runs/`,
  /** Key of one run's record under a job prefix. */
  recordKey: (jobPrefix: string, runId: string): string => `${jobPrefix}/runs/${runId}.json`,
  /** Prefix of a job's outputs, without trailing slash. */
  resultsPrefix: (jobPrefix: string): string => `${jobPrefix}/results`,
  /**
   * Key of one attempt's record of a run (`attempt` counts from 1): the init script writes it
   * when the attempt ends, the run supervisor when an instance ended without one (`lost`). The
   * run's record (`recordKey`) is its final outcome, written once per run.
   */
  attemptKey: (jobPrefix: string, runId: string, attempt: number): string =>
    `${jobPrefix}/runs/${runId}/attempt-${attempt}.json`,
  /** Prefix of one run's attempt records, with trailing slash (for listing). */
  attemptsPrefix: (jobPrefix: string, runId: string): string => `${jobPrefix}/runs/${runId}/`,
  /**
   * Prefix every attempt of a run gets as `CHECKPOINT_URI` (after `s3://<bucket>/`), the same
   * for all its attempts; the job's role may read and write only under its runs' prefixes.
   */
  checkpointPrefix: (jobPrefix: string, runId: string): string =>
    `${jobPrefix}/checkpoints/${runId}/`,
  /** Object-key pattern of every run record of a bucket, for IAM resources. */
  everyRecord: "jobs/*/runs/*",
} as const;

/**
 * Outcomes a run record can hold. `interrupted`: EC2 reclaimed the spot instance or scheduled
 * it to stop; `lost`: the instance ended without writing a record (a hardware failure, a kill).
 */
export type RunStatus =
  "succeeded" | "failed" | "timed-out" | "skipped" | "reaped" | "interrupted" | "lost";

/** How an attempt of a run can end and be tried again (see {@link RunRetryPolicy}). */
export const RETRY_REASONS = ["interrupted", "lost", "failed"] as const;
export type RetryReason = (typeof RETRY_REASONS)[number];

/** Most attempts after the first that a run may have. */
export const MAX_RUN_RETRY_ATTEMPTS = 10;

/**
 * A job's `runRetries`: a run whose attempt ended for one of `on` gets a new attempt (same run
 * id, the next attempt number), up to `attempts` more, `backoffMinutes` after the last ended. A
 * `failed` attempt is retried only for `exitCodes` (default: any non-zero). Distinct from the
 * schedule's `retry`, which only re-delivers a launch event Lambda did not accept.
 */
export interface RunRetryPolicy {
  attempts: number;
  on: readonly RetryReason[];
  exitCodes?: readonly number[];
  backoffMinutes: number;
}

/** `runRetries` when a job sets none. */
export const RUN_RETRY_DEFAULTS: RunRetryPolicy = {
  attempts: 2,
  on: RETRY_REASONS,
  backoffMinutes: 1,
};

/** One launch attempt of a run the launcher could not launch, as its record lists it. */
export interface RecordedLaunchAttempt {
  purchaseOption: string;
  instanceType: string;
  subnetId: string;
  outcome: string;
  errorCode?: string;
  message?: string;
}

/**
 * A run's record as stored at `RUN_RECORDS.recordKey`: written once by the init script at the end
 * of a run, by the launcher for a run it could not launch or skipped, or by the reaper for a run
 * it terminated. Fields a writer does not know are absent or null.
 */
export interface RunRecord {
  runId: string;
  job: string;
  environment?: string;
  region?: string;
  /** A `RunStatus`; typed as a string because older records and other writers may hold more. */
  status: RunStatus | (string & {});
  phase?: string;
  exitCode?: number | null;
  message?: string;
  scheduledTime?: string | null;
  startedAt?: string | null;
  endedAt?: string | null;
  durationSeconds?: number | null;
  instanceId?: string | null;
  instanceType?: string | null;
  purchaseOption?: string | null;
  availabilityZone?: string | null;
  estimatedCostUsd?: number | null;
  /**
   * The prices a record without an estimate may carry (USD per hour of the instance in its
   * market, and of its root volume), as looked up by whoever wrote it; the tools estimate from
   * them. No price table is kept: without them a record has no estimate.
   */
  instanceUsdPerHour?: number | null;
  volumeUsdPerHour?: number | null;
  imageUri?: string | null;
  imageDigest?: string | null;
  logGroup?: string;
  logStream?: string;
  summary?: string | null;
  /** How much of the instance the job's container used; absent when it never ran. */
  utilization?: RunUtilization | null;
  deadline?: string;
  reapedAt?: string;
  /** A run requested with `npm run launch`. */
  manual?: boolean;
  /** The launcher's attempts, for a run it could not launch. */
  attempts?: RecordedLaunchAttempt[];
  /** The runs that kept a skipped run from starting (run ids, or instance ids without one). */
  liveRuns?: string[];
  /**
   * The attempt of the run this record is about (from 1): in an attempt record, its own; in a
   * run record, the last one. Absent in records written before retries existed (attempt 1).
   */
  attempt?: number;
  /** A run record only: one line per attempt, oldest first (see {@link AttemptSummary}). */
  runAttempts?: AttemptSummary[];
  /** When each phase of the attempt began or ended (see {@link RunTimings}). */
  timings?: RunTimings | null;
}

/** One attempt of a run, as its final run record lists it. */
export interface AttemptSummary {
  attempt: number;
  status: RunStatus | (string & {});
  exitCode?: number | null;
  instanceId?: string | null;
  instanceType?: string | null;
  purchaseOption?: string | null;
  startedAt?: string | null;
  endedAt?: string | null;
  /** The attempt's one-line story, e.g. "interrupted by a spot interruption notice after 41m". */
  story: string;
}

/** What an attempt's record says of it, as {@link AttemptSummary} lists it (all but the story). */
export function attemptFacts(record: RunRecord, attempt: number): Omit<AttemptSummary, "story"> {
  return {
    attempt,
    status: record.status,
    exitCode: record.exitCode ?? null,
    instanceId: record.instanceId ?? null,
    instanceType: record.instanceType ?? null,
    purchaseOption: record.purchaseOption ?? null,
    startedAt: record.startedAt ?? null,
    endedAt: record.endedAt ?? null,
  };
}

/**
 * Where an attempt's time went, as ISO-8601 UTC times with milliseconds (or null when unknown).
 * The launcher's three times reach the instance as tags ({@link TAGS}: `launchRequestedAt`,
 * `launchAcceptedAt`, `instanceLaunchTime`), added after RunInstances so that the launch
 * request (and its ClientToken) does not depend on them; the init script reads them from the
 * instance metadata's tags and measures the rest.
 */
export interface RunTimings {
  /** The run's scheduled time (the launch event's). */
  scheduledTime: string | null;
  /** When the launcher began to handle this attempt's launch. */
  launchRequestedAt: string | null;
  /** When RunInstances accepted the launch. */
  runInstancesAcceptedAt: string | null;
  /** EC2's `LaunchTime` of the instance. */
  instanceLaunchTime: string | null;
  /** Seconds the instance had been up (the kernel's uptime) when the init script started. */
  bootSeconds: number | null;
  initScriptStartedAt: string | null;
  dockerReadyAt: string | null;
  /** When the registry login ended (null when the image needs none). */
  registryLoggedInAt: string | null;
  imagePulledAt: string | null;
  /** The pulled image's size in bytes (Docker's `Size`). */
  imageSizeBytes: number | null;
  containerStartedAt: string | null;
  containerExitedAt: string | null;
  /** When the record was composed, just before it was written. */
  recordWrittenAt: string | null;
}

/**
 * What the init script measured of a run's container (`docker stats` every
 * `UTILIZATION_SAMPLE_SECONDS`) and of the instance (`docker info`). A figure it could not
 * measure is null: no sample (a container that ended within the first interval), or an instance
 * whose memory or vCPUs Docker did not report.
 */
export interface RunUtilization {
  /** `docker stats` samples taken while the container ran. */
  samples: number;
  /** Seconds between samples (each `docker stats --no-stream` adds its own second or two). */
  intervalSeconds: number;
  /** The instance's memory as the kernel reports it (Docker's `MemTotal`), in bytes. */
  instanceMemoryBytes: number | null;
  /** The instance's vCPUs (Docker's `NCPU`). */
  instanceVcpus: number | null;
  /** Highest sampled memory use of the container (page cache excluded, as Docker counts it). */
  peakMemoryBytes: number | null;
  meanMemoryBytes: number | null;
  /** Peak and mean memory as a percentage of `instanceMemoryBytes`, two decimals. */
  peakMemoryPercent: number | null;
  meanMemoryPercent: number | null;
  /** Mean and 95th-percentile (nearest rank) CPU as a percentage of all the instance's vCPUs. */
  meanCpuPercent: number | null;
  p95CpuPercent: number | null;
  /** Docker's `State.OOMKilled`: the kernel's OOM killer ended a process of the container. */
  oomKilled: boolean | null;
}

/** Seconds between two utilization samples of a running container. */
export const UTILIZATION_SAMPLE_SECONDS = 5;

/** Tag keys the launcher writes on every instance and volume; the reaper and the CLIs read them. */
export const TAGS = {
  project: "transient-jobs:project",
  environment: "transient-jobs:environment",
  job: "transient-jobs:job",
  runId: "transient-jobs:run-id",
  scheduledTime: "transient-jobs:scheduled-time",
  deadline: "transient-jobs:deadline",
  /** The attempt of the run this instance is (from 1); absent means 1. */
  attempt: "transient-jobs:attempt",
  /** Added by the launcher after RunInstances: see {@link RunTimings}. */
  launchRequestedAt: "transient-jobs:launch-requested-at",
  launchAcceptedAt: "transient-jobs:launch-accepted-at",
  instanceLaunchTime: "transient-jobs:instance-launch-time",
} as const;

/** The value of the `transient-jobs:project` tag. */
export const PROJECT_TAG_VALUE = "transient-jobs";

/**
 * Everything the launcher needs to start one run of one job in one region. The `Launcher`
 * component resolves these at deploy time and embeds them in the serialized closure.
 */
export interface JobLaunchSpec {
  /** Job name, the key in the `jobs` stack config map. */
  job: string;
  /** Stack name (`dev`, `prod`). */
  environment: string;
  /** AWS region of this regional stack. */
  region: string;
  /** Launch template id of this job in this region. */
  launchTemplateId: string;
  /** Instance types, most preferred first. */
  instanceTypes: string[];
  /** Subnets to try, one per availability zone. */
  subnetIds: string[];
  purchaseOption: PurchaseOption;
  concurrencyPolicy: ConcurrencyPolicy;
  /** Hard limit for one run; the instance powers off at launch time plus this. */
  maxRuntimeMinutes: number;
  /**
   * The job's `runRetries`, for the run supervisor's decision (launcher/retries.ts). Absent in
   * specs deployed before retries existed: no further attempts.
   */
  runRetries?: RunRetryPolicy;
  /**
   * How long after its scheduled time a run can still reach the launcher: the schedule's and the
   * launcher's maximum event ages plus the launcher's timeout. A later launch is refused, and the
   * deadline tag is the scheduled time plus this plus `maxRuntimeMinutes`, so that every value of
   * a launch request depends on the spec and the scheduled time only.
   */
  maxLaunchDelaySeconds: number;
  /** Root volume size in GiB (the launch template's), for the run's cost estimate. */
  volumeGiB: number;
  /**
   * On-demand USD per hour of each instance type in this region, from the AWS Price List at
   * deploy time (components/instancePrices.ts). A type without a price is left out: its on-demand
   * runs record no estimate.
   */
  onDemandUsdPerHour?: Record<string, number>;
  /** gp3 storage USD per GiB-month in this region, from the Price List. Default: no estimate. */
  volumeUsdPerGiBMonth?: number;
  /**
   * Per instance type, the subnets (in `subnetIds` order) whose zone EC2 offers it in, from the
   * instance type offerings at deploy time (components/instanceOfferings.ts). The launcher never
   * tries a type in another subnet. A type missing here is tried in every subnet.
   */
  subnetIdsByInstanceType?: Record<string, string[]>;
  /** The availability zone of each subnet: the spot price of a type is that of its zones. */
  subnetZones?: Record<string, string>;
  /** Image URI to run (repository URL with tag or digest). */
  imageUri: string;
  /** Results bucket name of this region. */
  bucket: string;
  /** Key prefix of this job in the bucket, without trailing slash (e.g. `jobs/pi`). */
  resultsPrefix: string;
  /** CloudWatch Logs group the container logs to. */
  logGroup: string;
  /** The region's SNS topic, for run outcome notifications. */
  topicArn: string;
  /** Environment passed to the container, validated at deploy time. */
  parameters: Record<string, string>;
  /**
   * Environment read on the instance at run time: variable name → secret reference
   * (`lib/secretReferences.ts`). References only: the values never reach the launcher.
   */
  secrets?: Record<string, string>;
  /** The job's instance types have NVIDIA GPUs: the container gets them (`--gpus all`). */
  gpu?: boolean;
  /** One of the job's instance types has NVMe instance-store disks: the script mounts them. */
  instanceStore?: boolean;
}

/** The EventBridge Scheduler target input (and the manual launch payload). */
export interface LaunchEvent {
  /** Job name. */
  job: string;
  /** ISO-8601 time of the scheduled run; Scheduler fills `<aws.scheduler.scheduled-time>`. */
  scheduledTime: string;
  /** True for a run requested by `npm run launch`. */
  manual?: boolean;
  /**
   * A manual launch only: when it was requested (ISO-8601). Its deadline counts from here instead
   * of the claimed `scheduledTime`, so that re-running a missed run of yesterday gets its full
   * runtime, while every retry of the same request still sends the same launch request.
   */
  requestedTime?: string;
  /**
   * A later attempt of the run (2 or more), as the run supervisor schedules it; the run keeps
   * its `scheduledTime` (and so its run id). Absent: attempt 1.
   */
  attempt?: number;
  /** With `attempt`: how the run supervisor's retry decision said to launch it. */
  retry?: {
    purchaseOption: PurchaseOption;
    /** ISO-8601: the end of the backoff; the attempt's launch window counts from here. */
    notBefore: string;
    /** The attempt's own runtime limit in minutes, within the run's limit. */
    deadlineMinutes: number;
  };
}
