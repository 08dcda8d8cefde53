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

/** Tag keys the launcher writes on every instance and volume; the reaper and the CLIs read them. */
export const TAGS = {
  project: "transient-jobs:project",
  environment: "transient-jobs:environment",
  job: "transient-jobs:job",
  runId: "transient-jobs:run-id",
  scheduledTime: "transient-jobs:scheduled-time",
  deadline: "transient-jobs:deadline",
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
   * How long after its scheduled time a run can still reach the launcher: the schedule's and the
   * launcher's maximum event ages plus the launcher's timeout. A later launch is refused, and the
   * deadline tag is the scheduled time plus this plus `maxRuntimeMinutes`, so that every value of
   * a launch request depends on the spec and the scheduled time only.
   */
  maxLaunchDelaySeconds: number;
  /** Root volume size, for the run's cost estimate. Default: no volume cost known, no estimate. */
  volumeGiB?: number;
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
  /** SNS topic for run outcome notifications, if the stack has one. */
  topicArn?: string;
  /** Environment passed to the container, validated at deploy time. */
  parameters: Record<string, string>;
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
}
