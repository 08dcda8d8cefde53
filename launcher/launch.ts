/**
 * The launch decision and the launch loop of one run. Pure apart from the injected EC2 client,
 * clock, sleep and logger; runs inside the serialized Lambda closure, so SDK commands are
 * imported by name and nothing native is captured.
 */
import {
  CreateTagsCommand,
  DescribeSpotPriceHistoryCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type {
  DescribeSpotPriceHistoryCommandInput,
  Filter,
  Instance,
  RunInstancesCommandInput,
  Tag,
} from "@aws-sdk/client-ec2";
import {
  classifyEc2Error,
  errorCode,
  errorMessage,
  SPOT_ROLE_ERROR_CODE,
  type Ec2ErrorKind,
} from "./errors";
import {
  attemptInputs,
  encodeUserData,
  renderInitScript,
  type InitScriptInput,
} from "./initScript";
import {
  hourlyPrice,
  hourlyPriceTable,
  latestSpotPrices,
  SPOT_LINUX_PRODUCTS,
  spotEstimate,
  type RunPrices,
  type SpotPriceEntry,
} from "./prices";
import { clientTokenFor, runIdFor } from "./runId";
import {
  ENDED_STATES,
  LIVE_STATES,
  PROJECT_TAG_VALUE,
  TAGS,
  type JobLaunchSpec,
  type PurchaseOption,
} from "./contract";
import {
  describeAllInstances,
  describeRunInstance,
  isoSeconds,
  projectInstanceFilters,
  tagValue,
  type Ec2Sender,
  type RunInstance,
} from "./instances";

/** The market of one attempt; `spot-then-on-demand` expands to both. */
export type Market = "spot" | "on-demand";

/**
 * Lookups for the instance of a concurrent launch after `IdempotentParameterMismatch` before the
 * loop moves on: EC2 also keeps tokens of attempts that failed, so a mismatch need not mean that
 * an instance exists.
 */
export const MISMATCH_LOOKUPS = 3;

/** One run to launch. */
export interface LaunchRequest {
  /** The job's spec in this region, resolved at deploy time. */
  spec: JobLaunchSpec;
  /**
   * When the run was due: the Scheduler's scheduled time, or the minute a manual launch claims.
   * Every value of the launch request is derived from it and the spec, never from the clock.
   */
  scheduledTime: Date;
  /** True for a manual launch; recorded in the result only. */
  manual?: boolean;
  /** A manual launch: when it was requested; its deadline counts from here (see `LaunchEvent`). */
  requestedTime?: Date;
  /** The attempt of the run (from 1). Default 1. */
  attempt?: number;
  /** An attempt after the first: what the run supervisor's retry decision said. */
  retry?: AttemptPlan;
}

/**
 * How a later attempt of a run is launched (launcher/retries.ts `NextAttempt`): its purchase
 * option, and its own time window, which counts from `notBefore` instead of the scheduled time.
 */
export interface AttemptPlan {
  purchaseOption: PurchaseOption;
  /** The end of the backoff: the attempt's launch delay and deadline count from here. */
  notBefore: Date;
  /** The attempt's own runtime limit, already bounded by the run's (`runLimit`). */
  deadlineMinutes: number;
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
  outcome: "launched" | "not-found" | Ec2ErrorKind;
  errorCode?: string;
  message?: string;
}

/** An instance of this job found by its tags. */
export type FoundInstance = RunInstance;

/** Fields common to every result: which run this was. */
export interface RunIdentity {
  job: string;
  environment: string;
  region: string;
  runId: string;
  scheduledTime: string;
  manual: boolean;
  /** The attempt of the run (from 1). */
  attempt: number;
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
  /** What an operator should fix although the run launched (e.g. spot unavailable). */
  warnings: string[];
  /** Estimated USD per hour of the instance in its market; absent when no price was found. */
  usdPerHour?: number;
}

/**
 * This run already happened: its instance is terminated or shutting down (found by its run id,
 * or EC2 answered its ClientToken with `IdempotentInstanceTerminated`). Nothing is launched; the
 * instance, or the reaper, reported the run itself.
 */
export interface EndedResult extends RunIdentity {
  status: "ended";
  reason: string;
  /** The run's instance, when DescribeInstances still lists it (terminated ones linger an hour). */
  instanceId?: string;
  state?: string;
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

export type LaunchResult = LaunchedResult | SkippedResult | FailedResult | EndedResult;

/** One (purchase option, instance type, subnet) combination, in the order they are tried. */
export interface LaunchOption {
  purchaseOption: Market;
  instanceType: string;
  subnetId: string;
}

/**
 * The combinations to try, most preferred first: every spot option before any on-demand one
 * (for `spot-then-on-demand`), then instance types in the configured order, then subnets. A type
 * is tried only in the subnets whose zone EC2 offers it in (`subnetIdsByInstanceType`, from the
 * offerings at deploy time); a type the spec says nothing about, in every subnet.
 */
export function planLaunchOptions(spec: JobLaunchSpec): LaunchOption[] {
  const markets: Market[] =
    spec.purchaseOption === "spot-then-on-demand"
      ? ["spot", "on-demand"]
      : [spec.purchaseOption === "spot" ? "spot" : "on-demand"];
  const options: LaunchOption[] = [];
  for (const purchaseOption of markets) {
    for (const instanceType of spec.instanceTypes) {
      const offered = spec.subnetIdsByInstanceType?.[instanceType];
      const subnets = offered
        ? spec.subnetIds.filter((id) => offered.includes(id))
        : spec.subnetIds;
      for (const subnetId of subnets) {
        options.push({ purchaseOption, instanceType, subnetId });
      }
    }
  }
  return options;
}

/**
 * The moment a run is overdue: its scheduled time, plus the longest its launch can be delayed,
 * plus its maximum runtime. A function of the spec and the scheduled time only, so that every
 * retried invocation tags the same deadline and sends a byte-identical request under its
 * ClientTokens (EC2 refuses a token with other parameters: IdempotentParameterMismatch,
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). The instance's own
 * watchdog counts `maxRuntimeMinutes` from its boot, which is never later than this.
 */
export function runDeadline(spec: JobLaunchSpec, since: Date): Date {
  return new Date(latestLaunch(spec, since).getTime() + spec.maxRuntimeMinutes * 60000);
}

/** The last moment a run due at `since` may still be launched. */
export function latestLaunch(spec: JobLaunchSpec, since: Date): Date {
  return new Date(since.getTime() + spec.maxLaunchDelaySeconds * 1000);
}

/** How far a manual launch's requested time may lie ahead of the launcher's clock (skew). */
export const MAX_REQUEST_CLOCK_SKEW_MS = 5 * 60000;

/** The tags of a run's instance and volumes. */
export function runTags(
  spec: JobLaunchSpec,
  runId: string,
  scheduledTime: Date,
  deadline: Date,
  attempt = 1,
): Tag[] {
  return [
    { Key: "Name", Value: `tj-${spec.environment}-${runId}` },
    { Key: TAGS.project, Value: PROJECT_TAG_VALUE },
    { Key: TAGS.environment, Value: spec.environment },
    { Key: TAGS.job, Value: spec.job },
    { Key: TAGS.runId, Value: runId },
    { Key: TAGS.scheduledTime, Value: isoSeconds(scheduledTime) },
    { Key: TAGS.deadline, Value: isoSeconds(deadline) },
    { Key: TAGS.attempt, Value: String(attempt) },
  ];
}

/** The attempt an instance is of, by its tag; an instance without one is attempt 1. */
export function instanceAttempt(instance: Instance): number {
  const tag = tagValue(instance, TAGS.attempt);
  const attempt = tag === undefined ? 1 : Number(tag);
  return Number.isInteger(attempt) && attempt >= 1 ? attempt : 1;
}

/**
 * The tags the launcher adds once RunInstances accepted a launch (see `RunTimings`): not in the
 * request, whose parameters must be the same in every invocation under its ClientToken.
 */
export function launchTimeTags(
  requestedAt: Date,
  acceptedAt: Date,
  instanceLaunchTime: Date | undefined,
): Tag[] {
  return [
    { Key: TAGS.launchRequestedAt, Value: requestedAt.toISOString() },
    { Key: TAGS.launchAcceptedAt, Value: acceptedAt.toISOString() },
    ...(instanceLaunchTime
      ? [{ Key: TAGS.instanceLaunchTime, Value: instanceLaunchTime.toISOString() }]
      : []),
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
    UserData: encodeUserData(userData).toString("base64"),
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
export function jobInstanceFilters(spec: JobLaunchSpec): Filter[] {
  return projectInstanceFilters(spec.environment, spec.job);
}

/** The price inputs of a run's init script: the prices known for its types and volume. */
function runPrices(
  spec: JobLaunchSpec,
  prices: RunPrices,
): Pick<InitScriptInput, "instancePrices" | "volumeMicroUsdPerHour"> {
  const table = hourlyPriceTable(prices, spec.instanceTypes, spec.volumeGiB);
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
  /** What the deadline counts from: the scheduled time, or a manual launch's requested time. */
  since: Date;
  now: () => Date;
  remaining: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  policy: BackoffPolicy;
  /** Every RunInstances call so far, in order. */
  attempts: LaunchAttempt[];
  /** Problems worth an operator's attention that did not stop the launch. */
  warnings: string[];
  /** The prices of this run's options: on-demand from the spec, spot looked up at launch. */
  prices: RunPrices;
  /** When this invocation began to handle the launch (the `launchRequestedAt` tag). */
  requestedAt: Date;
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
  return describeAllInstances(ctx.ec2, jobInstanceFilters(ctx.spec), (request) =>
    sendWithRetry(ctx, "describing instances", request),
  );
}

function launchedResult(
  ctx: RunContext,
  instance: Instance,
  launched: { purchaseOption: Market; deadline: string } | undefined,
  replacedInstanceIds: string[],
): LaunchedResult {
  const result: LaunchedResult = {
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
    warnings: ctx.warnings,
  };
  const usdPerHour = hourlyPrice(ctx.prices, result.instanceType, result.purchaseOption);
  return usdPerHour === undefined ? result : { ...result, usdPerHour };
}

function endedResult(ctx: RunContext, reason: string, instance?: Instance): EndedResult {
  return {
    status: "ended",
    ...ctx.identity,
    reason,
    ...(instance?.InstanceId ? { instanceId: instance.InstanceId } : {}),
    ...(instance?.State?.Name ? { state: instance.State.Name } : {}),
    attempts: ctx.attempts,
  };
}

function failedResult(ctx: RunContext, reason: string): FailedResult {
  return { status: "failed", ...ctx.identity, reason, attempts: ctx.attempts };
}

/** The instance of this attempt of this run among `instances`, if any. */
function ownInstance(ctx: RunContext, instances: Instance[]): Instance | undefined {
  return instances.find(
    (i) =>
      tagValue(i, TAGS.runId) === ctx.identity.runId && instanceAttempt(i) === ctx.identity.attempt,
  );
}

async function decideAndLaunch(ctx: RunContext): Promise<LaunchResult> {
  const { spec, identity } = ctx;
  const scheduledTime = new Date(identity.scheduledTime);
  // Spot prices only matter when a run can be estimated at all: with a volume and its price.
  const estimable = spec.volumeGiB !== undefined && spec.volumeUsdPerGiBMonth !== undefined;
  if (estimable && planLaunchOptions(spec).some((o) => o.purchaseOption === "spot")) {
    ctx.prices = { ...ctx.prices, spotUsdPerHour: await lookUpSpotPrices(ctx) };
  }
  // Rendered before any side effect, so an invalid spec throws before `replace` terminates.
  const deadline = runDeadline(spec, ctx.since);
  const initScriptInput: InitScriptInput = {
    job: spec.job,
    environment: spec.environment,
    region: spec.region,
    imageUri: spec.imageUri,
    bucket: spec.bucket,
    resultsPrefix: spec.resultsPrefix,
    logGroup: spec.logGroup,
    parameters: spec.parameters,
    secrets: spec.secrets,
    gpu: spec.gpu,
    instanceStore: spec.instanceStore,
    runId: identity.runId,
    scheduledTime: identity.scheduledTime,
    deadlineMinutes: spec.maxRuntimeMinutes,
    ...attemptInputs(spec, identity.runId, identity.attempt),
    // Every type the loop may try, in both markets: the script reads which one it got from IMDS.
    ...runPrices(spec, ctx.prices),
  };
  const launch: PreparedLaunch = {
    deadline,
    tags: runTags(spec, identity.runId, scheduledTime, deadline, identity.attempt),
    userData: renderInitScript(initScriptInput),
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

  // A retried invocation of this run: report the instance it started, or that the run is over.
  const own = ownInstance(ctx, jobInstances);
  if (own && ENDED_STATES.includes(own.State?.Name ?? "")) {
    return endedResult(
      ctx,
      `run ${identity.runId} already ran on ${own.InstanceId ?? "?"} (now ${own.State?.Name ?? "?"})`,
      own,
    );
  }
  if (own) return launchedResult(ctx, own, undefined, []);

  const now = ctx.now();
  const latest = latestLaunch(spec, ctx.since);
  const what = identity.manual ? "requested" : "due";
  if (now.getTime() > latest.getTime()) {
    return failedResult(
      ctx,
      `too late: run ${identity.runId} was ${what} at ${isoSeconds(ctx.since)} and can be launched until ${isoSeconds(latest)} (maxLaunchDelaySeconds ${spec.maxLaunchDelaySeconds}); it is now ${isoSeconds(now)}`,
    );
  }
  if (ctx.since.getTime() - now.getTime() > MAX_REQUEST_CLOCK_SKEW_MS) {
    return failedResult(
      ctx,
      `run ${identity.runId} was ${what} at ${isoSeconds(ctx.since)}, in the future (it is now ${isoSeconds(now)}); a deadline cannot count from a time that has not come`,
    );
  }

  // A run's attempts are one run: an earlier attempt's instance (still stopping, say) is the
  // run itself, never a reason to skip or replace it.
  const live = jobInstances.filter(
    (i) => LIVE_STATES.includes(i.State?.Name ?? "") && tagValue(i, TAGS.runId) !== identity.runId,
  );
  const replaced: string[] = [];
  if (live.length > 0 && spec.concurrencyPolicy === "forbid") {
    const found = live.map(describeRunInstance);
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
  let spotUnavailable = false;
  for (const option of planLaunchOptions(spec)) {
    if (spotUnavailable && option.purchaseOption === "spot") continue;
    const clientToken = clientTokenFor({
      environment: spec.environment,
      launchTemplateId: spec.launchTemplateId,
      runId: identity.runId,
      attempt: identity.attempt,
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
        await tagLaunchTimes(ctx, instance);
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
        if (kind === "instance-terminated") {
          return endedResult(
            ctx,
            `run ${identity.runId} already ran: EC2 answered ${code} for its ClientToken (${where})`,
          );
        }
      }
      if (kind === "capacity") break;
      if (kind === "spot-unavailable") {
        spotUnavailable = true;
        ctx.warnings.push(SPOT_UNAVAILABLE_WARNING);
        break;
      }
      if (kind === "idempotency-mismatch") {
        const adopted = await findConcurrentLaunch(ctx);
        if (adopted) return launchedResult(ctx, adopted, undefined, replaced);
        attempts.push({ ...option, clientToken, outcome: "not-found" });
        break;
      }
      try {
        await backoff(ctx, retry, `retrying ${kind} RunInstances`);
      } catch (error) {
        return failedResult(ctx, errorMessage(error));
      }
    }
  }
  if (spotUnavailable && spec.purchaseOption === "spot") {
    return failedResult(ctx, SPOT_UNAVAILABLE_WARNING);
  }
  return failedResult(
    ctx,
    `no capacity: every purchase option, instance type and subnet was tried (${attempts.length} attempts)`,
  );
}

/**
 * Adds the launch-time tags to a launched instance (the init script reads them from the instance
 * metadata's tags). Best effort: a failure is a warning, the instance runs anyway.
 */
async function tagLaunchTimes(ctx: RunContext, instance: Instance): Promise<void> {
  const tags = launchTimeTags(ctx.requestedAt, ctx.now(), instance.LaunchTime);
  try {
    await sendWithRetry(ctx, "tagging launch times", () =>
      ctx.ec2.send(new CreateTagsCommand({ Resources: [instance.InstanceId!], Tags: tags })),
    );
  } catch (error) {
    ctx.warnings.push(
      `the launch-time tags were not added: CreateTags failed with ${errorCode(error)}: ${errorMessage(error)}; the run's record has no launch timings`,
    );
  }
}

/** Most DescribeSpotPriceHistory pages read for one launch (1000 entries each). */
export const SPOT_PRICE_PAGES = 5;

/**
 * Most of the Lambda's time the spot price lookup may use, throttling retries included: an
 * estimate is never worth a launch.
 */
export const SPOT_PRICE_BUDGET_MS = 10000;

/**
 * The spot price per hour of each instance type the run may launch as spot, in effect at the
 * run's scheduled (or requested) time: DescribeSpotPriceHistory for Linux with StartTime =
 * EndTime = that time returns the last price change before it, per zone
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html), so
 * every invocation of the run gets the same prices and its user data stays byte-identical. A
 * type's price is the highest of the zones of its subnets (see `spotEstimate`). Never fails the
 * launch: an error (AccessDenied, throttling past the budget, ...) or a type without a price adds
 * a warning, and those runs record no estimate.
 */
async function lookUpSpotPrices(ctx: RunContext): Promise<Record<string, number>> {
  const { spec } = ctx;
  const types = [
    ...new Set(
      planLaunchOptions(spec)
        .filter((o) => o.purchaseOption === "spot")
        .map((o) => o.instanceType),
    ),
  ];
  const history: SpotPriceEntry[] = [];
  // Retries stop once this lookup's own budget would fall under the safety margin.
  const start = ctx.remaining();
  const lookup: RunContext = {
    ...ctx,
    remaining: () => Math.min(ctx.remaining(), ctx.remaining() - start + SPOT_PRICE_BUDGET_MS),
  };
  try {
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const input: DescribeSpotPriceHistoryCommandInput = {
        InstanceTypes: types as DescribeSpotPriceHistoryCommandInput["InstanceTypes"],
        ProductDescriptions: [...SPOT_LINUX_PRODUCTS],
        StartTime: ctx.since,
        EndTime: ctx.since,
        MaxResults: 1000,
        ...(nextToken ? { NextToken: nextToken } : {}),
      };
      const page = await sendWithRetry(lookup, "reading spot prices", () =>
        ctx.ec2.send(new DescribeSpotPriceHistoryCommand(input)),
      );
      history.push(...(page?.SpotPriceHistory ?? []));
      nextToken = page?.NextToken || undefined;
    } while (nextToken && ++pages < SPOT_PRICE_PAGES);
  } catch (error) {
    ctx.warnings.push(
      `no spot price estimate: DescribeSpotPriceHistory failed with ${errorCode(error)}: ${errorMessage(error)}; spot runs record no cost estimate`,
    );
    return {};
  }
  const pools = latestSpotPrices(history, ctx.since);
  const prices: Record<string, number> = {};
  const missing: string[] = [];
  for (const type of types) {
    const subnets = spec.subnetIdsByInstanceType?.[type] ?? spec.subnetIds;
    const zones = spec.subnetZones
      ? subnets.map((id) => spec.subnetZones![id]).filter((zone) => zone !== undefined)
      : undefined;
    const usd = spotEstimate(pools[type], zones);
    if (usd === undefined) missing.push(type);
    else prices[type] = usd;
  }
  if (missing.length > 0) {
    ctx.warnings.push(
      `no spot price estimate for ${missing.join(", ")} in ${spec.region}: DescribeSpotPriceHistory had no Linux price at ${isoSeconds(ctx.since)}; those spot runs record no cost estimate`,
    );
  }
  return prices;
}

/** Why spot failed in a fresh account, and the fix; in the result, the log and the notification. */
export const SPOT_UNAVAILABLE_WARNING =
  `spot is not available in this account: EC2 answered ${SPOT_ROLE_ERROR_CODE} because the ` +
  "service-linked role AWSServiceRoleForEC2Spot does not exist and could not be created; create " +
  "it once per account with `aws iam create-service-linked-role --aws-service-name " +
  "spot.amazonaws.com` (or let the launcher's role create it: iam:CreateServiceLinkedRole for " +
  "spot.amazonaws.com), or use purchaseOption on-demand";

/**
 * The attempt's ClientToken was used with other parameters: a concurrent invocation of this run
 * (a double click, an overlapping retry) may have launched it moments ago, or EC2 remembers the
 * token of an attempt that failed. Looks for this run's instance a few times (DescribeInstances
 * may lag behind a launch); undefined when there is none, so the loop moves on.
 */
async function findConcurrentLaunch(ctx: RunContext): Promise<Instance | undefined> {
  for (let lookup = 0; lookup < MISMATCH_LOOKUPS; lookup++) {
    try {
      if (lookup > 0) await backoff(ctx, lookup - 1, "looking for a concurrent launch");
      const own = ownInstance(ctx, await findJobInstances(ctx));
      if (own) return own;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Launches one run of a job, at most once per (job, environment, scheduled time):
 * 1. finds the job's instances by tag; one already tagged with this run id is returned as
 *    `launched` with `existing: true` (a retried invocation), or `ended` when it is terminated;
 *    a run later than `maxLaunchDelaySeconds` after its scheduled time fails;
 * 2. applies the concurrency policy to the other live runs: `forbid` returns `skipped`,
 *    `replace` terminates them, `allow` ignores them;
 * 3. tries RunInstances from the launch template over {@link planLaunchOptions}, moving on after
 *    capacity errors (and past every spot option when the account cannot run spot), retrying
 *    throttling and IAM propagation errors with jittered backoff while the time budget lasts,
 *    and stopping at any other error. The request of each option is the same in every
 *    invocation of the run (see {@link runDeadline}).
 *
 * AWS errors end in a `failed` result, never an exception; an invalid spec (a config bug) throws
 * `InvalidLaunchSpecError`. The result is logged as one JSON line and returned.
 */
export async function launchRun(
  ec2: Ec2Sender,
  request: LaunchRequest,
  options: LaunchOptions = {},
): Promise<LaunchResult> {
  const { retry } = request;
  // A later attempt launches as its retry decision says, in its own time window.
  const spec: JobLaunchSpec = retry
    ? {
        ...request.spec,
        purchaseOption: retry.purchaseOption,
        maxRuntimeMinutes: retry.deadlineMinutes,
      }
    : request.spec;
  const now = options.now ?? (() => new Date());
  const requestedAt = now();
  const runId = runIdFor(spec.job, request.scheduledTime);
  const identity: RunIdentity = {
    job: spec.job,
    environment: spec.environment,
    region: spec.region,
    runId,
    scheduledTime: isoSeconds(request.scheduledTime),
    manual: request.manual === true,
    attempt: request.attempt ?? 1,
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
    since: retry?.notBefore ?? request.requestedTime ?? request.scheduledTime,
    requestedAt,
    now,
    remaining,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: options.random ?? Math.random,
    policy: { ...DEFAULT_BACKOFF, ...options.backoff },
    attempts: [],
    warnings: [],
    prices: {
      ...(spec.onDemandUsdPerHour ? { onDemandUsdPerHour: spec.onDemandUsdPerHour } : {}),
      ...(spec.volumeUsdPerGiBMonth !== undefined
        ? { volumeUsdPerGiBMonth: spec.volumeUsdPerGiBMonth }
        : {}),
    },
  };
  const result = await decideAndLaunch(ctx);
  const log = options.log ?? ((line: string) => console.log(line));
  log(JSON.stringify({ level: result.status === "failed" ? "error" : "info", ...result }));
  return result;
}
