/**
 * The run supervisor: what happens to a run once one of its instances has ended, driven by EC2's
 * events rather than by the instance, which may be gone. Per event it looks the instance up (the
 * events carry no tags), ignores instances that are not this stack's, reads the attempt's record
 * (or writes a `lost` one), decides with launcher/retries.ts, and either schedules the run's next
 * attempt through the launcher or writes the run's final record and reports it once.
 *
 * Runs inside a serialized Lambda closure: SDK commands are imported by name, clients are
 * parameters, no classes.
 */
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import type { Instance } from "@aws-sdk/client-ec2";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { CreateScheduleCommand } from "@aws-sdk/client-scheduler";
import type { SchedulerClient } from "@aws-sdk/client-scheduler";
import { errorCode } from "./errors";
import {
  describeAllInstances,
  isoSeconds,
  projectInstanceFilters,
  tagValue,
  type Ec2Sender,
} from "./instances";
import { instanceAttempt } from "./launch";
import { jobCount, sendOutcome, type OutcomeClients, type Notification } from "./outcomes";
import { decideNextAttempt, type NextAttempt, type NoRetry } from "./retries";
import { putRecordOnce, runRecordKey, type S3Sender } from "./runRecord";
import { logsConsoleUrl, METRICS, notificationSubject } from "./telemetry";
import {
  MIN_DEADLINE_MINUTES,
  PROJECT_TAG_VALUE,
  RUN_RECORDS,
  TAGS,
  attemptFacts,
  type AttemptSummary,
  type JobLaunchSpec,
  type LaunchEvent,
  type RunRecord,
} from "./contract";

/**
 * The two EventBridge events the supervisor's rules match (source `aws.ec2`):
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
 */
export const SUPERVISED_EVENTS = {
  interruptionWarning: "EC2 Spot Instance Interruption Warning",
  stateChange: "EC2 Instance State-change Notification",
} as const;

/** The event patterns of the supervisor's two rules (EventBridge's pattern syntax). */
export const SUPERVISOR_EVENT_PATTERNS = {
  interruptionWarning: {
    source: ["aws.ec2"],
    "detail-type": [SUPERVISED_EVENTS.interruptionWarning],
  },
  terminated: {
    source: ["aws.ec2"],
    "detail-type": [SUPERVISED_EVENTS.stateChange],
    detail: { state: ["terminated"] },
  },
} as const;

/** What the supervisor knows of its stack, resolved at deploy time. */
export interface SupervisorSettings {
  environment: string;
  region: string;
  /** The region's results bucket (records). */
  bucket: string;
  /** The region's topic; empty for none. */
  topicArn: string;
  /** The launch specs of the region's jobs, by job name. */
  jobs: Record<string, JobLaunchSpec>;
  /** The launcher function a next attempt's one-time schedule invokes. */
  launcherArn: string;
  /** The role Scheduler invokes the launcher with. */
  schedulerRoleArn: string;
  /** The schedule group of the next attempts' one-time schedules. */
  scheduleGroup: string;
}

/** The clients the supervisor calls. */
export interface SupervisorClients extends OutcomeClients {
  ec2: Ec2Sender;
  s3: S3Sender;
  scheduler: Pick<SchedulerClient, "send">;
}

/** What one event came to. */
export type SupervisorResult =
  | { status: "ignored"; why: string }
  | { status: "noticed"; runId: string; attempt: number; instanceId: string }
  | { status: "final-exists"; runId: string; attempt: number }
  | {
      status: "retry-scheduled" | "retry-exists";
      runId: string;
      attempt: number;
      next: NextAttempt;
      scheduleName: string;
    }
  | { status: "finalized" | "final-exists"; runId: string; attempt: number; why: string };

interface ParsedEvent {
  kind: keyof typeof SUPERVISED_EVENTS;
  instanceId: string;
  state?: string;
  time: Date;
}

/** The fields of an EC2 event the supervisor reads; undefined for anything else. */
export function parseSupervisorEvent(event: unknown): ParsedEvent | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const e = event as { "detail-type"?: unknown; time?: unknown; detail?: unknown };
  const detail = (e.detail ?? {}) as { "instance-id"?: unknown; state?: unknown };
  const instanceId = detail["instance-id"];
  if (typeof instanceId !== "string" || !/^i-[0-9a-f]{8,17}$/.test(instanceId)) return undefined;
  const time = typeof e.time === "string" ? new Date(e.time) : new Date(NaN);
  if (Number.isNaN(time.getTime())) return undefined;
  if (e["detail-type"] === SUPERVISED_EVENTS.interruptionWarning) {
    return { kind: "interruptionWarning", instanceId, time };
  }
  if (e["detail-type"] === SUPERVISED_EVENTS.stateChange && typeof detail.state === "string") {
    return { kind: "stateChange", instanceId, state: detail.state, time };
  }
  return undefined;
}

/** An instance of this stack: its job's spec, run and attempt. */
interface OwnInstance {
  instance: Instance;
  spec: JobLaunchSpec;
  runId: string;
  attempt: number;
  jobPrefix: string;
}

/** The instance as this stack's, or why it is not (the events are the whole region's). */
function ownInstance(
  instance: Instance | undefined,
  settings: SupervisorSettings,
): OwnInstance | string {
  if (!instance) return "DescribeInstances does not list the instance";
  if (tagValue(instance, TAGS.project) !== PROJECT_TAG_VALUE)
    return "not a transient-jobs instance";
  if (tagValue(instance, TAGS.environment) !== settings.environment) {
    return `an instance of environment ${tagValue(instance, TAGS.environment) ?? "?"}, not ${settings.environment}`;
  }
  const job = tagValue(instance, TAGS.job) ?? "";
  const runId = tagValue(instance, TAGS.runId);
  if (!Object.prototype.hasOwnProperty.call(settings.jobs, job)) {
    return `job ${JSON.stringify(job)} is not deployed in this region`;
  }
  if (!runRecordKey(job, runId)) return `run id ${JSON.stringify(runId)} is not one of job ${job}`;
  return {
    instance,
    spec: settings.jobs[job],
    runId: runId!,
    attempt: instanceAttempt(instance),
    jobPrefix: RUN_RECORDS.jobPrefix(job),
  };
}

/**
 * Reads a record; undefined when there is none. S3 answers a missing key with 404 only to a
 * caller that may also list the bucket (otherwise 403), so the role has `s3:ListBucket` on the
 * record prefixes: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
export async function readRecord(
  s3: S3Sender,
  bucket: string,
  key: string,
): Promise<RunRecord | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await object.Body!.transformToString();
    return JSON.parse(text) as RunRecord;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (errorCode(error) === "NoSuchKey" || status === 404) return undefined;
    throw error;
  }
}

/**
 * The instance of an event, by id (terminated instances stay listed for about an hour); undefined
 * when EC2 no longer knows it.
 */
async function describeInstance(ec2: Ec2Sender, instanceId: string): Promise<Instance | undefined> {
  try {
    const page = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return page.Reservations?.[0]?.Instances?.[0];
  } catch (error) {
    if (errorCode(error) === "InvalidInstanceID.NotFound") return undefined;
    throw error;
  }
}

function capacityOf(instance: Instance): "spot" | "on-demand" {
  return instance.InstanceLifecycle === "spot" ? "spot" : "on-demand";
}

/** The record of an attempt whose instance ended without writing one. */
export function lostRecord(
  own: OwnInstance,
  settings: SupervisorSettings,
  endedAt: Date,
): RunRecord {
  const { instance } = own;
  const reason = instance.StateReason?.Message ?? instance.StateReason?.Code;
  return {
    runId: own.runId,
    job: own.spec.job,
    environment: settings.environment,
    region: settings.region,
    status: "lost",
    attempt: own.attempt,
    exitCode: null,
    message: `the instance ended without writing its record${reason ? ` (EC2: ${reason})` : ""}`,
    scheduledTime: tagValue(instance, TAGS.scheduledTime) ?? null,
    startedAt: instance.LaunchTime ? isoSeconds(instance.LaunchTime) : null,
    endedAt: isoSeconds(endedAt),
    instanceId: instance.InstanceId ?? null,
    instanceType: instance.InstanceType ?? null,
    purchaseOption: capacityOf(instance),
    availabilityZone: instance.Placement?.AvailabilityZone ?? null,
    deadline: tagValue(instance, TAGS.deadline),
  };
}

function minutesBetween(from: string | null | undefined, to: string | null | undefined): string {
  if (!from || !to) return "";
  const minutes = Math.round((Date.parse(to) - Date.parse(from)) / 60000);
  return Number.isFinite(minutes) ? ` after ${minutes}m` : "";
}

/** One attempt's line in the run's record and notification. */
export function attemptSummary(attempt: number, record: RunRecord | undefined): AttemptSummary {
  if (!record) return { attempt, status: "unknown", story: `attempt ${attempt}: no record` };
  const where = [record.instanceType, record.purchaseOption].filter(Boolean).join(" ");
  const after = minutesBetween(record.startedAt, record.endedAt);
  const stories: Record<string, string> = {
    succeeded: `succeeded${after}`,
    failed: `failed with exit code ${record.exitCode ?? "?"}${after}`,
    interrupted: `interrupted by a spot interruption notice${after}`,
    lost: `lost: ${record.message ?? "the instance ended without a record"}`,
    "timed-out": `timed out${after}`,
    reaped: "reaped past its deadline",
  };
  return {
    ...attemptFacts(record, attempt),
    story: `attempt ${attempt}${where ? ` (${where})` : ""}: ${stories[record.status] ?? record.status}`,
  };
}

/** The name of a next attempt's one-time schedule: one per run and attempt, in the stack's group. */
export function retryScheduleName(runId: string, attempt: number): string {
  return `${runId}-a${attempt}`;
}

/**
 * Scheduler's one-time expression for the next attempt: `at(yyyy-mm-ddThh:mm:ss)` in UTC, never
 * earlier than a minute from now (Scheduler invokes with 60-second precision):
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
export function retryScheduleExpression(notBefore: Date, now: Date): string {
  const earliest = Math.ceil((now.getTime() + 60000) / 60000) * 60000;
  const at = new Date(Math.max(notBefore.getTime(), earliest));
  return `at(${at.toISOString().slice(0, 19)})`;
}

/** The launch event of a run's next attempt (see `LaunchEvent`). */
export function nextAttemptEvent(
  job: string,
  scheduledTime: string,
  next: NextAttempt,
): LaunchEvent {
  return {
    job,
    scheduledTime,
    attempt: next.attempt,
    retry: {
      purchaseOption: next.purchaseOption,
      notBefore: next.notBefore.toISOString(),
      deadlineMinutes: next.deadlineMinutes,
    },
  };
}

/** The notification of a run's final outcome, with each attempt's line. */
export function runNotification(record: RunRecord, spec: JobLaunchSpec, why: string): Notification {
  const attempts = record.runAttempts ?? [];
  const what = `${record.status === "succeeded" ? "succeeded" : `ended ${record.status}`}${attempts.length > 1 ? ` after ${attempts.length} attempts` : ""}`;
  return {
    subject: notificationSubject(spec.environment, spec.job, what, spec.region),
    message:
      `${record.runId} ${what}.\n` +
      `Job ${spec.job}, environment ${spec.environment}, region ${spec.region}, scheduled ${record.scheduledTime ?? "?"}.\n` +
      attempts.map((a) => `- ${a.story}\n`).join("") +
      (record.status === "succeeded" ? "" : `Not retried: ${why}.\n`) +
      `Logs: ${logsConsoleUrl(spec.region, spec.logGroup, record.runId)}`,
  };
}

/** Injected effects of {@link handleSupervisorEvent}. */
export interface SupervisorOptions {
  now?: () => Date;
  log?: (line: string) => void;
}

/**
 * Handles one EC2 event (see {@link SUPERVISED_EVENTS}). Idempotent: a repeated or out-of-order
 * event finds the run's record (final), the next attempt's record, instance or schedule, and
 * starts nothing and notifies nothing a second time. AWS errors propagate (EventBridge retries
 * the event, then sends it to the rule's dead-letter queue).
 */
export async function handleSupervisorEvent(
  event: unknown,
  clients: SupervisorClients,
  settings: SupervisorSettings,
  options: SupervisorOptions = {},
): Promise<SupervisorResult> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? ((line: string) => console.log(line));
  const result = await supervise(event, clients, settings, now);
  log(JSON.stringify({ level: "info", ...result }));
  return result;
}

async function supervise(
  event: unknown,
  clients: SupervisorClients,
  settings: SupervisorSettings,
  now: () => Date,
): Promise<SupervisorResult> {
  const parsed = parseSupervisorEvent(event);
  if (!parsed) return { status: "ignored", why: "not an EC2 event the supervisor handles" };
  if (parsed.kind === "stateChange" && parsed.state !== "terminated") {
    return { status: "ignored", why: `state ${parsed.state}, not terminated` };
  }
  const instance = await describeInstance(clients.ec2, parsed.instanceId);
  const own = ownInstance(instance, settings);
  if (typeof own === "string") return { status: "ignored", why: own };
  const { spec, runId, attempt, jobPrefix } = own;
  if (parsed.kind === "interruptionWarning") {
    // The instance has two minutes to stop its job and write `interrupted`; the decision waits
    // for its `terminated` event, when the record is there (or is not: then it is lost).
    return { status: "noticed", runId, attempt, instanceId: parsed.instanceId };
  }

  const runKey = RUN_RECORDS.recordKey(jobPrefix, runId);
  if (await readRecord(clients.s3, settings.bucket, runKey)) {
    return { status: "final-exists", runId, attempt };
  }
  const attemptKey = RUN_RECORDS.attemptKey(jobPrefix, runId, attempt);
  let record = await readRecord(clients.s3, settings.bucket, attemptKey);
  const metrics = [];
  if (!record) {
    const lost = lostRecord(own, settings, parsed.time);
    if ((await putRecordOnce(clients.s3, settings.bucket, attemptKey, lost)) === "written") {
      metrics.push(jobCount(spec, METRICS.lost, parsed.time));
      record = lost;
    } else {
      record = await readRecord(clients.s3, settings.bucket, attemptKey);
    }
  }
  const ended = record ?? lostRecord(own, settings, parsed.time);
  const scheduledTime = tagValue(own.instance, TAGS.scheduledTime) ?? ended.scheduledTime ?? "";
  const decision = await decide(own, ended, clients, settings, parsed.time, scheduledTime);
  const interrupted =
    ended.status === "interrupted" ? [jobCount(spec, METRICS.interrupted, parsed.time)] : [];

  if (decision.retry) {
    const scheduleName = retryScheduleName(runId, decision.attempt);
    const created = await scheduleNextAttempt(
      clients,
      settings,
      own,
      decision,
      scheduledTime,
      now(),
    );
    if (created) {
      await report(clients, settings, undefined, [
        ...metrics,
        ...interrupted,
        jobCount(spec, METRICS.retried, parsed.time),
      ]);
    }
    return {
      status: created ? "retry-scheduled" : "retry-exists",
      runId,
      attempt,
      next: decision,
      scheduleName,
    };
  }

  const records = await Promise.all(
    Array.from({ length: attempt - 1 }, (_, i) =>
      readRecord(clients.s3, settings.bucket, RUN_RECORDS.attemptKey(jobPrefix, runId, i + 1)),
    ),
  );
  const runAttempts = [...records, ended].map((r, i) => attemptSummary(i + 1, r));
  const final: RunRecord = { ...ended, attempt, runAttempts };
  const state = await putRecordOnce(clients.s3, settings.bucket, runKey, final);
  if (state === "written") {
    const outcome =
      final.status === "succeeded"
        ? jobCount(spec, METRICS.succeeded, parsed.time)
        : jobCount(spec, METRICS.failed, parsed.time);
    await report(clients, settings, runNotification(final, spec, decision.why), [
      ...metrics,
      ...interrupted,
      outcome,
    ]);
  }
  return {
    status: state === "written" ? "finalized" : "final-exists",
    runId,
    attempt,
    why: decision.why,
  };
}

/** The retry decision, with what only the supervisor knows: the reaper, a replacing run. */
async function decide(
  own: OwnInstance,
  ended: RunRecord,
  clients: SupervisorClients,
  settings: SupervisorSettings,
  eventTime: Date,
  scheduledTime: string,
): Promise<NextAttempt | NoRetry> {
  const { spec, instance } = own;
  if (ended.status === "succeeded") return { retry: false, why: "the run succeeded" };
  const deadline = tagValue(instance, TAGS.deadline);
  if (ended.status === "lost" && deadline && eventTime.getTime() >= Date.parse(deadline)) {
    return {
      retry: false,
      why: `the instance ended past its deadline ${deadline} (the reaper's, or its own watchdog's), which is not retried`,
    };
  }
  if (ended.status === "lost" && spec.concurrencyPolicy === "replace") {
    const later = await laterRun(clients, settings, own);
    if (later) {
      return { retry: false, why: `concurrencyPolicy replace: run ${later} replaced it` };
    }
  }
  return decideNextAttempt(
    {
      attempt: own.attempt,
      status: ended.status,
      exitCode: ended.exitCode,
      capacity: capacityOf(instance),
      endedAt: ended.endedAt ? new Date(ended.endedAt) : eventTime,
    },
    {
      policy: spec.runRetries ?? { attempts: 0, on: [], backoffMinutes: 0 },
      purchaseOption: spec.purchaseOption,
      maxRuntimeMinutes: spec.maxRuntimeMinutes,
      runStartedAt: new Date(scheduledTime),
      minAttemptMinutes: MIN_DEADLINE_MINUTES,
    },
  );
}

/** A later run of the same job with an instance: under `replace`, the one that ended ours. */
async function laterRun(
  clients: SupervisorClients,
  settings: SupervisorSettings,
  own: OwnInstance,
): Promise<string | undefined> {
  const instances = await describeAllInstances(
    clients.ec2,
    projectInstanceFilters(settings.environment, own.spec.job),
  );
  const later = instances
    .map((i) => tagValue(i, TAGS.runId))
    .filter((id): id is string => id !== undefined && id > own.runId);
  return later.sort()[0];
}

/**
 * Creates the next attempt's one-time schedule; false when it exists already (a repeated event),
 * or when the next attempt has a record or an instance (a very late event, after the schedule ran
 * and deleted itself). Scheduler refuses a second schedule of the same name with
 * ConflictException (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html),
 * and the launcher's ClientToken of the attempt keeps a repeated invocation to one instance.
 */
async function scheduleNextAttempt(
  clients: SupervisorClients,
  settings: SupervisorSettings,
  own: OwnInstance,
  next: NextAttempt,
  scheduledTime: string,
  now: Date,
): Promise<boolean> {
  const nextKey = RUN_RECORDS.attemptKey(own.jobPrefix, own.runId, next.attempt);
  if (await readRecord(clients.s3, settings.bucket, nextKey)) return false;
  const instances = await describeAllInstances(clients.ec2, [
    ...projectInstanceFilters(settings.environment, own.spec.job),
    { Name: `tag:${TAGS.runId}`, Values: [own.runId] },
    { Name: `tag:${TAGS.attempt}`, Values: [String(next.attempt)] },
  ]);
  if (instances.length > 0) return false;
  try {
    await clients.scheduler.send(
      new CreateScheduleCommand({
        Name: retryScheduleName(own.runId, next.attempt),
        GroupName: settings.scheduleGroup,
        ScheduleExpression: retryScheduleExpression(next.notBefore, now),
        ScheduleExpressionTimezone: "UTC",
        FlexibleTimeWindow: { Mode: "OFF" },
        // A one-time schedule deletes itself once it has invoked its target:
        // https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html
        ActionAfterCompletion: "DELETE",
        Description: `transient-jobs: attempt ${next.attempt} of ${own.runId} (${next.reason})`,
        Target: {
          Arn: settings.launcherArn,
          RoleArn: settings.schedulerRoleArn,
          Input: JSON.stringify(nextAttemptEvent(own.spec.job, scheduledTime, next)),
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        },
      }),
    );
    return true;
  } catch (error) {
    if (errorCode(error) === "ConflictException") return false;
    throw error;
  }
}

async function report(
  clients: SupervisorClients,
  settings: SupervisorSettings,
  notification: Notification | undefined,
  metrics: ReturnType<typeof jobCount>[],
): Promise<void> {
  const outcome = await sendOutcome(clients, settings.topicArn, notification, metrics);
  if (outcome.errors.length > 0) {
    console.log(JSON.stringify({ level: "warn", status: "report-failed", errors: outcome.errors }));
  }
}
