/**
 * The reaper: the second line of defence behind each run's own watchdog. Every few minutes it
 * finds this stack's job instances whose deadline tag has passed (plus a grace margin),
 * terminates them, writes a `reaped` run record unless the run wrote its own, notifies, and
 * publishes a metric. The deadline tag is the only trigger; an instance without this project's
 * and environment's tags is never touched, and one with a missing or malformed deadline is only
 * reported.
 *
 * Pure apart from the injected SDK clients, clock and logger; runs inside the serialized Lambda
 * closure, so SDK commands are imported by name.
 */
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import type { EC2Client, Filter, Instance } from "@aws-sdk/client-ec2";
import type { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand } from "@aws-sdk/client-sns";
import type { SNSClient } from "@aws-sdk/client-sns";
import { errorCode, errorMessage } from "./errors";
import { putRecordOnce, runRecordKey } from "./runRecord";
import { LIVE_STATES, PROJECT_TAG_VALUE, TAGS, type RunRecord } from "./contract";
import {
  describeAllInstances,
  describeRunInstance,
  isoSeconds,
  projectInstanceFilters,
  tagValue,
  type RunInstance,
} from "./instances";

/**
 * Minutes past an instance's deadline before the reaper acts. It must exceed how late the init
 * script's backstop power-off may fire after the deadline tag (`BACKSTOP_LATENESS_MINUTES` in
 * initScript.ts, 5), so that only instances whose backstop failed are reaped.
 */
export const DEFAULT_GRACE_MINUTES = 10;

/** Longest grace the reaper accepts: one day. */
export const MAX_GRACE_MINUTES = 1440;

/** CloudWatch namespace of the reaper's metrics; its role may publish to no other. */
export const METRIC_NAMESPACE = "TransientJobs";

/** Instance states the reaper looks at: the live ones, which still hold capacity or a volume. */
export const REAPABLE_STATES = LIVE_STATES;

/** A deadline tag as the launcher writes it: ISO-8601 UTC, e.g. `2026-11-23T05:00:00Z`. */
const DEADLINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** What the reaper of one stack in one region works on; resolved at deploy time. */
export interface ReaperSettings {
  /** Stack name; only instances tagged with it are looked at. */
  environment: string;
  /** Region of the function, for the metric's dimension. */
  region: string;
  /** The region's results bucket, where `reaped` run records go. */
  bucket: string;
  /** The region's topic, where each reaped run is announced. */
  topicArn: string;
  /** Minutes past the deadline before an instance is reaped. Default {@link DEFAULT_GRACE_MINUTES}. */
  graceMinutes?: number;
}

/** The SDK clients the reaper uses: real ones in the Lambda, mocks in tests. */
export interface ReaperClients {
  ec2: Pick<EC2Client, "send">;
  s3: Pick<S3Client, "send">;
  cloudwatch: Pick<CloudWatchClient, "send">;
  sns: Pick<SNSClient, "send">;
}

/** Injected effects of {@link reapExpired}; all optional. */
export interface ReaperOptions {
  /** Clock. Default `new Date()`. */
  now?: () => Date;
  /** Receives the result as one JSON line. Default `console.log`. */
  log?: (line: string) => void;
}

/** One instance as the reaper sees it, read from its tags. */
export type ReaperInstance = RunInstance;

/** What the reaper does with one instance. */
export type ReapDecision =
  | { action: "reap"; instance: ReaperInstance; overdueMinutes: number }
  | { action: "keep"; instance: ReaperInstance; reason: string }
  | { action: "report"; instance: ReaperInstance; reason: string };

/** An instance the reaper terminated. */
export interface ReapedInstance extends ReaperInstance {
  overdueMinutes: number;
  /**
   * `written`: the reaper wrote the `reaped` record; `exists`: the run had written its own record,
   * which is kept; `skipped`: the tags name no valid run; `failed`: see `failures`.
   */
  record: "written" | "exists" | "skipped" | "failed";
  /** S3 key of the run record, when the tags name a valid run. */
  recordKey?: string;
}

/** A step that failed; the invocation fails after every instance has been handled. */
export interface ReapFailure {
  instanceId?: string;
  step: "terminate" | "record" | "notify" | "metric";
  error: string;
}

/** The outcome of one reaper invocation. */
export interface ReapResult {
  status: "reaped";
  environment: string;
  region: string;
  checkedAt: string;
  graceMinutes: number;
  /** Instances with this stack's tags in a live state. */
  examined: number;
  reaped: ReapedInstance[];
  /** Instances before their deadline (plus grace). */
  kept: number;
  /** Instances the reaper will not touch although they carry this stack's tags, and why. */
  unreapable: Array<{ instanceId: string; reason: string }>;
  failures: ReapFailure[];
}

/** Thrown after a reaper invocation in which a step failed, so the invocation counts as failed. */
export class ReapFailedError extends Error {
  readonly result: ReapResult;
  constructor(message: string, result: ReapResult) {
    super(message);
    this.name = "ReapFailedError";
    this.result = result;
  }
}

/** Thrown for settings the component should never have produced; names the field. */
export class InvalidReaperSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidReaperSettingsError";
  }
}

/** The deadline tag as a time, or undefined when it is not a real ISO-8601 UTC time. */
export function parseDeadline(value: string | undefined): Date | undefined {
  if (value === undefined || !DEADLINE.test(value)) return undefined;
  const time = new Date(value);
  // Round-trip, so that "2026-02-30T00:00:00Z" is not read as the 2nd of March.
  if (Number.isNaN(time.getTime()) || isoSeconds(time) !== value.replace(/\.\d{1,3}Z$/, "Z")) {
    return undefined;
  }
  return time;
}

/** The DescribeInstances filters that find this stack's live job instances in the region. */
export function reaperFilters(environment: string): Filter[] {
  return [
    ...projectInstanceFilters(environment),
    { Name: "instance-state-name", Values: [...REAPABLE_STATES] },
  ];
}

/** Reads what the reaper needs from an instance description. */
export const describeInstance: (instance: Instance) => ReaperInstance = describeRunInstance;

/**
 * Decides what to do with one instance at `now`: reap it only when it carries this project's and
 * this environment's tags, is in a live state, and its deadline tag is a valid time more than
 * `graceMinutes` in the past. A missing or malformed deadline is reported, never acted on.
 */
export function decideReaping(
  instance: Instance,
  settings: { environment: string; graceMinutes: number },
  now: Date,
): ReapDecision {
  const found = describeInstance(instance);
  const project = tagValue(instance, TAGS.project);
  const environment = tagValue(instance, TAGS.environment);
  if (project !== PROJECT_TAG_VALUE || environment !== settings.environment) {
    return {
      action: "keep",
      instance: found,
      reason: `not an instance of ${PROJECT_TAG_VALUE} ${settings.environment} (tags ${TAGS.project}=${JSON.stringify(project ?? null)}, ${TAGS.environment}=${JSON.stringify(environment ?? null)})`,
    };
  }
  if (found.instanceId === "") {
    return { action: "report", instance: found, reason: "the description has no instance id" };
  }
  if (!REAPABLE_STATES.includes(found.state)) {
    return { action: "keep", instance: found, reason: `state ${found.state}` };
  }
  if (found.deadline === undefined) {
    return {
      action: "report",
      instance: found,
      reason: `no ${TAGS.deadline} tag; the reaper never terminates an instance without one`,
    };
  }
  const deadline = parseDeadline(found.deadline);
  if (!deadline) {
    return {
      action: "report",
      instance: found,
      reason: `${TAGS.deadline} tag ${JSON.stringify(found.deadline.slice(0, 100))} is not an ISO-8601 UTC time such as 2026-11-23T05:00:00Z; the reaper never terminates it`,
    };
  }
  const overdueMs = now.getTime() - deadline.getTime();
  if (overdueMs <= settings.graceMinutes * 60000) {
    return {
      action: "keep",
      instance: found,
      reason:
        overdueMs <= 0
          ? "before its deadline"
          : `within the grace of ${settings.graceMinutes} minutes after its deadline`,
    };
  }
  return { action: "reap", instance: found, overdueMinutes: Math.floor(overdueMs / 60000) };
}

/** The message of a reaped run, in its run record and notification. */
export function reapedMessage(instance: ReaperInstance, overdue: number, grace: number): string {
  return `terminated by the reaper: its deadline ${instance.deadline} passed ${overdue} minutes ago (grace ${grace} minutes) and the instance was still ${instance.state}`;
}

/**
 * The `reaped` run record, with the fields of the record the init script writes, so the CLIs read
 * both alike, plus `deadline` and `reapedAt`.
 */
export function reapedRecord(
  instance: ReaperInstance & { job: string; runId: string },
  where: { environment: string; region: string },
  message: string,
  now: Date,
): RunRecord {
  const scheduled =
    instance.scheduledTime && parseDeadline(instance.scheduledTime) ? instance.scheduledTime : null;
  return {
    runId: instance.runId,
    job: instance.job,
    environment: where.environment,
    region: where.region,
    status: "reaped",
    phase: "reaper",
    exitCode: null,
    message,
    scheduledTime: scheduled,
    startedAt: instance.launchTime ?? null,
    endedAt: isoSeconds(now),
    instanceId: instance.instanceId,
    instanceType: instance.instanceType ?? null,
    availabilityZone: instance.availabilityZone ?? null,
    imageUri: null,
    imageDigest: null,
    deadline: instance.deadline,
    reapedAt: isoSeconds(now),
  };
}

function checkSettings(settings: ReaperSettings): number {
  const grace = settings.graceMinutes ?? DEFAULT_GRACE_MINUTES;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_MINUTES) {
    throw new InvalidReaperSettingsError(
      `reaper graceMinutes: ${JSON.stringify(grace)} must be an integer from 0 to ${MAX_GRACE_MINUTES}`,
    );
  }
  for (const field of ["environment", "region", "bucket"] as const) {
    if (typeof settings[field] !== "string" || settings[field] === "") {
      throw new InvalidReaperSettingsError(
        `reaper ${field}: ${JSON.stringify(settings[field])} must be a non-empty string`,
      );
    }
  }
  return grace;
}

/**
 * One reaper pass: finds this stack's live instances, terminates each one past its deadline plus
 * grace (one request per instance, so that one failure does not shield the others), then writes
 * its `reaped` run record with `If-None-Match: *` (a record the run wrote itself is kept, and a
 * concurrent pass cannot write twice), notifies when it wrote the record, and publishes
 * `InstancesReaped` and `UnreapableInstances`. Step failures are collected in `failures`; a
 * failing DescribeInstances throws. The result is logged as one JSON line and returned.
 */
export async function reapExpired(
  clients: ReaperClients,
  settings: ReaperSettings,
  options: ReaperOptions = {},
): Promise<ReapResult> {
  const graceMinutes = checkSettings(settings);
  const now = (options.now ?? (() => new Date()))();
  const log = options.log ?? ((line: string) => console.log(line));
  const { environment, region } = settings;

  const instances = await describeAllInstances(clients.ec2, reaperFilters(environment));
  const result: ReapResult = {
    status: "reaped",
    environment,
    region,
    checkedAt: isoSeconds(now),
    graceMinutes,
    examined: instances.length,
    reaped: [],
    kept: 0,
    unreapable: [],
    failures: [],
  };

  try {
    for (const instance of instances) {
      const decision = decideReaping(instance, { environment, graceMinutes }, now);
      if (decision.action === "keep") {
        result.kept++;
        continue;
      }
      if (decision.action === "report") {
        result.unreapable.push({
          instanceId: decision.instance.instanceId,
          reason: decision.reason,
        });
        continue;
      }
      await reapOne(clients, settings, decision, graceMinutes, now, result);
    }
  } finally {
    await publishMetrics(clients.cloudwatch, environment, region, now, result);
  }
  log(JSON.stringify({ level: result.failures.length > 0 ? "error" : "info", ...result }));
  return result;
}

async function reapOne(
  clients: ReaperClients,
  settings: ReaperSettings,
  decision: Extract<ReapDecision, { action: "reap" }>,
  graceMinutes: number,
  now: Date,
  result: ReapResult,
): Promise<void> {
  const { instance, overdueMinutes } = decision;
  const failed = (step: ReapFailure["step"], error: unknown) =>
    result.failures.push({
      instanceId: instance.instanceId,
      step,
      error: `${errorCode(error)}: ${errorMessage(error)}`,
    });
  try {
    await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance.instanceId] }));
  } catch (error) {
    failed("terminate", error);
    return;
  }

  const message = reapedMessage(instance, overdueMinutes, graceMinutes);
  const { job, runId } = instance;
  const key = runRecordKey(job, runId);
  const reaped: ReapedInstance = { ...instance, overdueMinutes, record: "skipped" };
  if (key) reaped.recordKey = key;
  result.reaped.push(reaped);
  if (key && job !== undefined && runId !== undefined) {
    try {
      reaped.record = await putRecordOnce(
        clients.s3,
        settings.bucket,
        key,
        reapedRecord({ ...instance, job, runId }, settings, message, now),
      );
    } catch (error) {
      reaped.record = "failed";
      failed("record", error);
    }
  }

  // A run that wrote its own record also sent its own notification; so did a concurrent pass.
  if (reaped.record !== "exists") {
    try {
      await clients.sns.send(
        new PublishCommand({
          TopicArn: settings.topicArn,
          Message: `transient-jobs ${instance.job ?? "?"} (${settings.environment}) run ${instance.runId ?? instance.instanceId} reaped: ${message}`,
        }),
      );
    } catch (error) {
      failed("notify", error);
    }
  }
}

async function publishMetrics(
  cloudwatch: ReaperClients["cloudwatch"],
  environment: string,
  region: string,
  now: Date,
  result: ReapResult,
): Promise<void> {
  const dimensions = [
    { Name: "Environment", Value: environment },
    { Name: "Region", Value: region },
  ];
  try {
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: METRIC_NAMESPACE,
        MetricData: [
          {
            MetricName: "InstancesReaped",
            Dimensions: dimensions,
            Timestamp: now,
            Value: result.reaped.length,
            Unit: "Count",
          },
          {
            MetricName: "UnreapableInstances",
            Dimensions: dimensions,
            Timestamp: now,
            Value: result.unreapable.length,
            Unit: "Count",
          },
        ],
      }),
    );
  } catch (error) {
    result.failures.push({ step: "metric", error: `${errorCode(error)}: ${errorMessage(error)}` });
  }
}

/**
 * The reaper Lambda's handler body: one pass of {@link reapExpired}. Throws
 * {@link ReapFailedError} when a step failed (after logging the result), and lets a failing
 * DescribeInstances through (after logging it), so that the invocation counts as failed.
 */
export async function handleReaperInvocation(
  clients: ReaperClients,
  settings: ReaperSettings,
  options: ReaperOptions = {},
): Promise<ReapResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  let result: ReapResult;
  try {
    result = await reapExpired(clients, settings, { ...options, log });
  } catch (error) {
    log(
      JSON.stringify({
        level: "error",
        status: "error",
        environment: settings.environment,
        region: settings.region,
        error: errorCode(error),
        message: errorMessage(error),
      }),
    );
    throw error;
  }
  if (result.failures.length > 0) {
    throw new ReapFailedError(
      `reaper ${settings.environment} ${settings.region}: ${result.failures.length} step(s) failed: ${result.failures
        .map((f) => `${f.step}${f.instanceId ? ` ${f.instanceId}` : ""}: ${f.error}`)
        .join("; ")}`,
      result,
    );
  }
  return result;
}
