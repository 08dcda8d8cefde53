/**
 * The launch decision and the launch loop of one run. Pure apart from the injected EC2 client,
 * clock, sleep and logger; runs inside the serialized Lambda closure, so SDK commands are
 * imported by name and nothing native is captured.
 */
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type {
  DescribeInstancesCommandInput,
  EC2Client,
  Instance,
  RunInstancesCommandInput,
  Tag,
} from "@aws-sdk/client-ec2";
import { classifyEc2Error, errorCode, errorMessage, type Ec2ErrorKind } from "./errors";
import { renderInitScript, type InitScriptInput } from "./initScript";
import { hourlyPriceTable } from "./prices";
import { clientTokenFor, runIdFor } from "./runId";
import { PROJECT_TAG_VALUE, TAGS, type JobLaunchSpec } from "./types";

/** Anything that sends EC2 commands: an `EC2Client`, or a mock of one. */
export type Ec2Sender = Pick<EC2Client, "send">;

/** The market of one attempt; `spot-then-on-demand` expands to both. */
export type Market = "spot" | "on-demand";

/** Instance states of a run that is still alive (holds capacity or may come back). */
export const LIVE_STATES: readonly string[] = ["pending", "running", "stopping", "stopped"];

/** One run to launch. */
export interface LaunchRequest {
  /** The job's spec in this region, resolved at deploy time. */
  spec: JobLaunchSpec;
  /** When the run was due (the Scheduler's scheduled time, or now for a manual launch). */
  scheduledTime: Date;
  /** True for a manual launch; recorded in the result only. */
  manual?: boolean;
}

/** Backoff for throttling and IAM propagation retries, bounded by the Lambda's remaining time. */
export interface BackoffPolicy {
  /** Cap of the first wait; each retry doubles the cap, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Time kept in reserve for logging and returning; no retry starts if it would eat into it. */
  safetyMarginMs: number;
}

/** Defaults of {@link BackoffPolicy}: IAM propagation usually takes 5-15 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 8000,
  safetyMarginMs: 5000,
};

/** Time budget used when the caller gives no `remainingTimeMs` (outside Lambda). */
export const DEFAULT_BUDGET_MS = 60000;

/** Injected effects of {@link launchRun}; all optional. */
export interface LaunchOptions {
  /** Clock. Default `new Date()`. */
  now?: () => Date;
  /** Milliseconds left in the Lambda invocation. Default: {@link DEFAULT_BUDGET_MS} from the start. */
  remainingTimeMs?: () => number;
  /** Waits between retries. Default `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Receives the result as one JSON line. Default `console.log`. */
  log?: (line: string) => void;
  backoff?: Partial<BackoffPolicy>;
}

/** One RunInstances call and how it ended. */
export interface LaunchAttempt {
  purchaseOption: Market;
  instanceType: string;
  subnetId: string;
  clientToken: string;
  outcome: "launched" | Ec2ErrorKind;
  errorCode?: string;
  message?: string;
}

/** An instance of this job found by its tags. */
export interface FoundInstance {
  instanceId: string;
  state: string;
  runId?: string;
  deadline?: string;
  instanceType?: string;
  availabilityZone?: string;
}

/** Fields common to every result: which run this was. */
export interface RunIdentity {
  job: string;
  environment: string;
  region: string;
  runId: string;
  scheduledTime: string;
  manual: boolean;
}

/** An instance runs this run: launched now, or found from an earlier invocation (`existing`). */
export interface LaunchedResult extends RunIdentity {
  status: "launched";
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  purchaseOption: Market;
  /** ISO time at which the run is overdue (the instance's deadline tag). */
  deadline: string;
  /** True when the instance was started by an earlier invocation of the same run. */
  existing: boolean;
  /** Instances of earlier runs terminated by the `replace` policy. */
  replacedInstanceIds: string[];
  attempts: LaunchAttempt[];
}

/** Nothing was launched on purpose (the `forbid` policy). */
export interface SkippedResult extends RunIdentity {
  status: "skipped";
  reason: string;
  liveInstances: FoundInstance[];
}

/** Nothing was launched although the run was due; `attempts` holds every error. */
export interface FailedResult extends RunIdentity {
  status: "failed";
  reason: string;
  attempts: LaunchAttempt[];
}

export type LaunchResult = LaunchedResult | SkippedResult | FailedResult;

/** One (purchase option, instance type, subnet) combination, in the order they are tried. */
export interface LaunchOption {
  purchaseOption: Market;
  instanceType: string;
  subnetId: string;
}

/**
 * The combinations to try, most preferred first: every spot option before any on-demand one
 * (for `spot-then-on-demand`), then instance types in the configured order, then subnets.
 */
export function planLaunchOptions(spec: JobLaunchSpec): LaunchOption[] {
  const markets: Market[] =
    spec.purchaseOption === "spot-then-on-demand"
      ? ["spot", "on-demand"]
      : [spec.purchaseOption === "spot" ? "spot" : "on-demand"];
  const options: LaunchOption[] = [];
  for (const purchaseOption of markets) {
    for (const instanceType of spec.instanceTypes) {
      for (const subnetId of spec.subnetIds) {
        options.push({ purchaseOption, instanceType, subnetId });
      }
    }
  }
  return options;
}

/** ISO-8601 UTC without milliseconds, e.g. `2026-11-23T05:00:00Z`. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The tags of a run's instance and volumes. */
export function runTags(
  spec: JobLaunchSpec,
  runId: string,
  scheduledTime: Date,
  deadline: Date,
): Tag[] {
  return [
    { Key: "Name", Value: `tj-${spec.environment}-${runId}` },
    { Key: TAGS.project, Value: PROJECT_TAG_VALUE },
    { Key: TAGS.environment, Value: spec.environment },
    { Key: TAGS.job, Value: spec.job },
    { Key: TAGS.runId, Value: runId },
    { Key: TAGS.scheduledTime, Value: isoSeconds(scheduledTime) },
    { Key: TAGS.deadline, Value: isoSeconds(deadline) },
  ];
}

/** The RunInstances input of one attempt. */
export function buildRunInstancesInput(args: {
  spec: JobLaunchSpec;
  option: LaunchOption;
  clientToken: string;
  userData: string;
  tags: Tag[];
}): RunInstancesCommandInput {
  const { spec, option, clientToken, userData, tags } = args;
  return {
    LaunchTemplate: { LaunchTemplateId: spec.launchTemplateId, Version: "$Latest" },
    InstanceType: option.instanceType as RunInstancesCommandInput["InstanceType"],
    SubnetId: option.subnetId,
    MinCount: 1,
    MaxCount: 1,
    ClientToken: clientToken,
    UserData: Buffer.from(userData, "utf8").toString("base64"),
    ...(option.purchaseOption === "spot"
      ? {
          InstanceMarketOptions: {
            MarketType: "spot",
            SpotOptions: {
              SpotInstanceType: "one-time",
              InstanceInterruptionBehavior: "terminate",
            },
          },
        }
      : {}),
    TagSpecifications: [
      { ResourceType: "instance", Tags: tags },
      { ResourceType: "volume", Tags: tags },
    ],
  };
}

/** The DescribeInstances filters that find every instance of this job in this stack. */
export function jobInstanceFilters(spec: JobLaunchSpec): DescribeInstancesCommandInput["Filters"] {
  return [
    { Name: `tag:${TAGS.project}`, Values: [PROJECT_TAG_VALUE] },
    { Name: `tag:${TAGS.environment}`, Values: [spec.environment] },
    { Name: `tag:${TAGS.job}`, Values: [spec.job] },
  ];
}

function tagValue(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

function describeFound(instance: Instance): FoundInstance {
  return {
    instanceId: instance.InstanceId ?? "",
    state: instance.State?.Name ?? "unknown",
    runId: tagValue(instance, TAGS.runId),
    deadline: tagValue(instance, TAGS.deadline),
    instanceType: instance.InstanceType,
    availabilityZone: instance.Placement?.AvailabilityZone,
  };
}

/** The price inputs of a run's init script; none when the spec has no volume size. */
function runPrices(
  spec: JobLaunchSpec,
): Pick<InitScriptInput, "instancePrices" | "volumeMicroUsdPerHour"> {
  if (spec.volumeGiB === undefined) return {};
  const table = hourlyPriceTable(spec.region, spec.instanceTypes, spec.volumeGiB);
  return {
    instancePrices: table.instances,
    ...(table.volumeMicroUsdPerHour === undefined
      ? {}
      : { volumeMicroUsdPerHour: table.volumeMicroUsdPerHour }),
  };
}

/** What every attempt of one run shares. */
interface PreparedLaunch {
  deadline: Date;
  tags: Tag[];
  userData: string;
}

/** Everything one `launchRun` call shares; plain data and functions (no classes, see below). */
interface RunContext {
  ec2: Ec2Sender;
  spec: JobLaunchSpec;
  identity: RunIdentity;
  now: () => Date;
  remaining: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  policy: BackoffPolicy;
  /** Every RunInstances call so far, in order. */
  attempts: LaunchAttempt[];
}

// This module runs inside a closure serialized by Pulumi, which rewrites classes into plain
// functions and drops class field initializers; so the launch state is a plain object passed to
// plain functions.

const BUDGET_EXHAUSTED = "BudgetExhausted";

/** Waits before retry number `retry` (0-based); throws a `BudgetExhausted` error if it cannot. */
async function backoff(ctx: RunContext, retry: number, what: string): Promise<void> {
  const cap = Math.min(ctx.policy.maxDelayMs, ctx.policy.baseDelayMs * 2 ** retry);
  const delay = Math.round(cap / 2 + (ctx.random() * cap) / 2);
  if (ctx.remaining() - delay < ctx.policy.safetyMarginMs) {
    const error = new Error(`the time budget ran out while ${what}`);
    error.name = BUDGET_EXHAUSTED;
    throw error;
  }
  await ctx.sleep(delay);
}

/** Sends a command, retrying throttling errors within the budget; other errors propagate. */
async function sendWithRetry<T>(ctx: RunContext, what: string, send: () => Promise<T>): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await send();
    } catch (error) {
      if (classifyEc2Error(error) !== "throttled") throw error;
      await backoff(ctx, retry, what);
    }
  }
}

/** Every instance of this job in this stack, any state (terminated ones linger for an hour). */
async function findJobInstances(ctx: RunContext): Promise<Instance[]> {
  const instances: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const input: DescribeInstancesCommandInput = {
      Filters: jobInstanceFilters(ctx.spec),
      MaxResults: 1000,
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
    const page = await sendWithRetry(ctx, "describing instances", () =>
      ctx.ec2.send(new DescribeInstancesCommand(input)),
    );
    for (const reservation of page.Reservations ?? []) {
      instances.push(...(reservation.Instances ?? []));
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return instances;
}

function launchedResult(
  ctx: RunContext,
  instance: Instance,
  launched: { purchaseOption: Market; deadline: string } | undefined,
  replacedInstanceIds: string[],
): LaunchedResult {
  return {
    status: "launched",
    ...ctx.identity,
    instanceId: instance.InstanceId ?? "",
    instanceType: instance.InstanceType ?? "",
    availabilityZone: instance.Placement?.AvailabilityZone ?? "",
    purchaseOption:
      launched?.purchaseOption ?? (instance.InstanceLifecycle === "spot" ? "spot" : "on-demand"),
    deadline: tagValue(instance, TAGS.deadline) ?? launched?.deadline ?? "",
    existing: launched === undefined,
    replacedInstanceIds,
    attempts: ctx.attempts,
  };
}

function failedResult(ctx: RunContext, reason: string): FailedResult {
  return { status: "failed", ...ctx.identity, reason, attempts: ctx.attempts };
}

/** The instance of this run among `instances`, if any. */
function ownInstance(ctx: RunContext, instances: Instance[]): Instance | undefined {
  return instances.find((i) => tagValue(i, TAGS.runId) === ctx.identity.runId);
}

async function decideAndLaunch(ctx: RunContext): Promise<LaunchResult> {
  const { spec, identity } = ctx;
  // Rendered before any side effect, so an invalid spec throws before `replace` terminates.
  const deadline = new Date(ctx.now().getTime() + spec.maxRuntimeMinutes * 60000);
  const launch: PreparedLaunch = {
    deadline,
    tags: runTags(spec, identity.runId, new Date(identity.scheduledTime), deadline),
    userData: renderInitScript({
      job: spec.job,
      environment: spec.environment,
      region: spec.region,
      imageUri: spec.imageUri,
      bucket: spec.bucket,
      resultsPrefix: spec.resultsPrefix,
      logGroup: spec.logGroup,
      topicArn: spec.topicArn,
      parameters: spec.parameters,
      runId: identity.runId,
      scheduledTime: identity.scheduledTime,
      deadlineMinutes: spec.maxRuntimeMinutes,
      // Every type the loop may try, in both markets: the script reads which one it got from IMDS.
      ...runPrices(spec),
    }),
  };

  let jobInstances: Instance[];
  try {
    jobInstances = await findJobInstances(ctx);
  } catch (error) {
    return failedResult(
      ctx,
      `DescribeInstances failed: ${errorCode(error)}: ${errorMessage(error)}`,
    );
  }

  // A retried invocation of this run: report the instance it started, in whatever state.
  const own = ownInstance(ctx, jobInstances);
  if (own) return launchedResult(ctx, own, undefined, []);

  const live = jobInstances.filter((i) => LIVE_STATES.includes(i.State?.Name ?? ""));
  const replaced: string[] = [];
  if (live.length > 0 && spec.concurrencyPolicy === "forbid") {
    const found = live.map(describeFound);
    const runs = found.map(
      (f) => `${f.runId ?? "?"} (${f.instanceId}, ${f.state}, deadline ${f.deadline ?? "?"})`,
    );
    return {
      status: "skipped",
      ...identity,
      reason: `concurrencyPolicy forbid: run ${runs.join(", ")} of job ${spec.job} is still alive`,
      liveInstances: found,
    };
  }
  if (live.length > 0 && spec.concurrencyPolicy === "replace") {
    const ids = live.map((i) => i.InstanceId ?? "").filter((id) => id !== "");
    try {
      await sendWithRetry(ctx, "terminating replaced instances", () =>
        ctx.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })),
      );
    } catch (error) {
      return failedResult(
        ctx,
        `concurrencyPolicy replace: TerminateInstances ${ids.join(", ")} failed: ${errorCode(error)}: ${errorMessage(error)}`,
      );
    }
    replaced.push(...ids);
  }

  return launchLoop(ctx, launch, replaced);
}

async function launchLoop(
  ctx: RunContext,
  launch: PreparedLaunch,
  replaced: string[],
): Promise<LaunchResult> {
  const { spec, identity, attempts } = ctx;
  const { deadline, tags, userData } = launch;
  for (const option of planLaunchOptions(spec)) {
    const clientToken = clientTokenFor({
      environment: spec.environment,
      launchTemplateId: spec.launchTemplateId,
      runId: identity.runId,
      ...option,
    });
    const input = buildRunInstancesInput({ spec, option, clientToken, userData, tags });
    const where = `${option.purchaseOption} ${option.instanceType} in ${option.subnetId}`;
    for (let retry = 0; ; retry++) {
      if (ctx.remaining() < ctx.policy.safetyMarginMs) {
        return failedResult(ctx, `the time budget ran out before trying ${where}`);
      }
      let kind: Ec2ErrorKind;
      try {
        const output = await ctx.ec2.send(new RunInstancesCommand(input));
        const instance = output.Instances?.[0];
        if (!instance?.InstanceId) {
          attempts.push({ ...option, clientToken, outcome: "fatal" });
          return failedResult(ctx, `RunInstances succeeded but returned no instance (${where})`);
        }
        attempts.push({ ...option, clientToken, outcome: "launched" });
        const launched = { purchaseOption: option.purchaseOption, deadline: isoSeconds(deadline) };
        return launchedResult(ctx, instance, launched, replaced);
      } catch (error) {
        kind = classifyEc2Error(error);
        const code = errorCode(error);
        const message = errorMessage(error);
        attempts.push({ ...option, clientToken, outcome: kind, errorCode: code, message });
        if (kind === "fatal") {
          return failedResult(
            ctx,
            `RunInstances failed with ${code}: ${message} (${where}); not retried`,
          );
        }
      }
      if (kind === "capacity") break;
      if (kind === "idempotency-mismatch") return adoptConcurrentLaunch(ctx, replaced);
      try {
        await backoff(ctx, retry, `retrying ${kind} RunInstances`);
      } catch (error) {
        return failedResult(ctx, errorMessage(error));
      }
    }
  }
  return failedResult(
    ctx,
    `no capacity: every purchase option, instance type and subnet was tried (${attempts.length} attempts)`,
  );
}

/**
 * The attempt's ClientToken was used with other parameters: a concurrent invocation of this run
 * (a double click, an overlapping retry) launched it moments ago with, say, another deadline
 * tag. Find that instance by its run id; DescribeInstances may lag behind a launch.
 */
async function adoptConcurrentLaunch(ctx: RunContext, replaced: string[]): Promise<LaunchResult> {
  for (let retry = 0; ; retry++) {
    try {
      const own = ownInstance(ctx, await findJobInstances(ctx));
      if (own) return launchedResult(ctx, own, undefined, replaced);
      await backoff(ctx, retry, "looking for the instance of a concurrent launch");
    } catch (error) {
      return failedResult(
        ctx,
        `IdempotentParameterMismatch: a concurrent invocation launched run ${ctx.identity.runId}, but its instance was not found: ${errorMessage(error)}`,
      );
    }
  }
}

/**
 * Launches one run of a job, at most once per (job, environment, scheduled time):
 * 1. finds the job's instances by tag; one already tagged with this run id is returned as
 *    `launched` with `existing: true` (a retried invocation);
 * 2. applies the concurrency policy to the other live runs: `forbid` returns `skipped`,
 *    `replace` terminates them, `allow` ignores them;
 * 3. tries RunInstances from the launch template over {@link planLaunchOptions}, moving on after
 *    capacity errors, retrying throttling and IAM propagation errors with jittered backoff while
 *    the time budget lasts, and stopping at any other error.
 *
 * AWS errors end in a `failed` result, never an exception; an invalid spec (a config bug) throws
 * `InvalidLaunchSpecError`. The result is logged as one JSON line and returned.
 */
export async function launchRun(
  ec2: Ec2Sender,
  request: LaunchRequest,
  options: LaunchOptions = {},
): Promise<LaunchResult> {
  const { spec } = request;
  const now = options.now ?? (() => new Date());
  const runId = runIdFor(spec.job, request.scheduledTime);
  const identity: RunIdentity = {
    job: spec.job,
    environment: spec.environment,
    region: spec.region,
    runId,
    scheduledTime: isoSeconds(request.scheduledTime),
    manual: request.manual === true,
  };
  let remaining = options.remainingTimeMs;
  if (!remaining) {
    const end = now().getTime() + DEFAULT_BUDGET_MS;
    remaining = () => end - now().getTime();
  }
  const ctx: RunContext = {
    ec2,
    spec,
    identity,
    now,
    remaining,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: options.random ?? Math.random,
    policy: { ...DEFAULT_BACKOFF, ...options.backoff },
    attempts: [],
  };
  const result = await decideAndLaunch(ctx);
  const log = options.log ?? ((line: string) => console.log(line));
  log(JSON.stringify({ level: result.status === "failed" ? "error" : "info", ...result }));
  return result;
}
