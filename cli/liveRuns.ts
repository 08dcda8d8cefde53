/**
 * Runs that have not ended: the stack's live instances as their tags tell them (one per attempt
 * under way), and runs between two attempts (attempt records, no run record, no instance).
 */
import type { Filter, Instance } from "@aws-sdk/client-ec2";
import { LIVE_STATES, TAGS, type RunRecord } from "../launcher/contract";
import type { Ec2Sender } from "../launcher/instances";
import { instancesModule } from "./sdk";

/** One attempt under way, from its instance. */
export interface LiveRun {
  region: string;
  runId: string;
  job: string;
  instanceId: string;
  /** The EC2 state: one of `LIVE_STATES`. */
  state: string;
  /** The attempt this instance is (the `transient-jobs:attempt` tag; absent means 1). */
  attempt: number;
  scheduledTime?: string;
  deadline?: string;
  launchTime?: string;
  instanceType?: string;
  /** `spot` or `on-demand`, from the instance's lifecycle. */
  purchaseOption: string;
  /** Seconds since the instance launched, at `now`. */
  elapsedSeconds?: number;
  /** Seconds left until the deadline at `now` (negative once past it). */
  deadlineInSeconds?: number;
}

/** A run between two attempts: what its last attempt record says. */
export interface RetryingRun {
  region: string;
  runId: string;
  job: string;
  /** The last attempt that ended, and how. */
  attempt: number;
  status: string;
  endedAt?: string;
  instanceType?: string;
  purchaseOption?: string;
  scheduledTime?: string;
}

/**
 * The attempt number of a tag value: a whole number from 1; anything else (absent, or a value
 * written by hand) counts as 1, as the contract says of an absent tag.
 */
export function attemptOf(value: string | undefined): number {
  return value !== undefined && /^[1-9]\d{0,2}$/.test(value) ? Number(value) : 1;
}

function secondsBetween(from: string | undefined, to: Date): number | undefined {
  if (from === undefined) return undefined;
  const ms = to.getTime() - Date.parse(from);
  return Number.isFinite(ms) ? Math.round(ms / 1000) : undefined;
}

/** What an instance of the stack tells of its run at `now`; undefined without a run-id tag. */
export function liveRunOf(region: string, instance: Instance, now: Date): LiveRun | undefined {
  const { describeRunInstance, tagValue } = instancesModule();
  const described = describeRunInstance(instance);
  if (described.runId === undefined) return undefined;
  const deadlineIn = secondsBetween(described.deadline, now);
  return {
    region,
    runId: described.runId,
    job: described.job ?? described.runId.replace(/-\d{8}T\d{4}Z$/, ""),
    instanceId: described.instanceId,
    state: described.state,
    attempt: attemptOf(tagValue(instance, TAGS.attempt)),
    ...(described.scheduledTime !== undefined ? { scheduledTime: described.scheduledTime } : {}),
    ...(described.deadline !== undefined ? { deadline: described.deadline } : {}),
    ...(described.launchTime !== undefined ? { launchTime: described.launchTime } : {}),
    ...(described.instanceType !== undefined ? { instanceType: described.instanceType } : {}),
    purchaseOption: instance.InstanceLifecycle === "spot" ? "spot" : "on-demand",
    ...(described.launchTime !== undefined
      ? { elapsedSeconds: secondsBetween(described.launchTime, now) }
      : {}),
    ...(deadlineIn !== undefined ? { deadlineInSeconds: -deadlineIn } : {}),
  };
}

/**
 * The DescribeInstances filters of the live instances of stack `environment` (of `job`, of
 * `runId`, when given): the project's tags, and the states in which an instance is alive
 * (`instance-state-name`; tag filters are `tag:<key>`;
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html).
 */
export function liveInstanceFilters(
  environment: string,
  options: { job?: string; runId?: string } = {},
): Filter[] {
  return [
    ...instancesModule().projectInstanceFilters(environment, options.job),
    ...(options.runId === undefined
      ? []
      : [{ Name: `tag:${TAGS.runId}`, Values: [options.runId] }]),
    { Name: "instance-state-name", Values: [...LIVE_STATES] },
  ];
}

/** The live runs of one region, oldest launch first. */
export async function findLiveRuns(
  ec2: Ec2Sender,
  region: string,
  environment: string,
  now: Date,
  options: { job?: string; runId?: string } = {},
): Promise<LiveRun[]> {
  const instances = await instancesModule().describeAllInstances(
    ec2,
    liveInstanceFilters(environment, options),
  );
  return instances
    .map((instance) => liveRunOf(region, instance, now))
    .filter((run): run is LiveRun => run !== undefined)
    .sort(
      (a, b) =>
        (a.launchTime ?? "").localeCompare(b.launchTime ?? "") || a.runId.localeCompare(b.runId),
    );
}

/**
 * The runs that are between attempts: those with attempt records but neither a run record nor a
 * live instance. (The run supervisor writes the run record when the last attempt ends, so such a
 * run waits for its next attempt, during the policy's backoff.)
 */
export function retryingRunIds(
  withAttempts: readonly string[],
  recorded: readonly string[],
  live: readonly string[],
): string[] {
  const ended = new Set([...recorded, ...live]);
  return withAttempts.filter((id) => !ended.has(id));
}

/** A retrying run as its last attempt record tells it. */
export function retryingRunOf(
  region: string,
  runId: string,
  job: string,
  last: { attempt: number; record: RunRecord },
): RetryingRun {
  const { record } = last;
  return {
    region,
    runId,
    job,
    attempt: record.attempt ?? last.attempt,
    status: record.status,
    ...(record.endedAt ? { endedAt: record.endedAt } : {}),
    ...(record.instanceType ? { instanceType: record.instanceType } : {}),
    ...(record.purchaseOption ? { purchaseOption: record.purchaseOption } : {}),
    ...(record.scheduledTime ? { scheduledTime: record.scheduledTime } : {}),
  };
}
