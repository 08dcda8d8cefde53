/**
 * Whether a run gets another attempt after one ended, and on what: the pure decision behind
 * `runRetries`. The caller (the function EC2's events drive, not the instance, which may be
 * gone) reads the ended attempt's record and tags, asks here, and launches what this says.
 */
import type { PurchaseOption, RetryReason, RunRetryPolicy, RunStatus } from "./contract";

/** How an attempt ended, as its record (or the lack of one) says. */
export interface EndedAttempt {
  /** 1 for the run's first attempt. */
  attempt: number;
  /** The record's status; `lost` when the instance ended without a record. */
  status: RunStatus | (string & {});
  /** The job's exit code, for a `failed` record that has one. */
  exitCode?: number | null;
  /** What the attempt ran on. */
  capacity: "spot" | "on-demand";
  /** When it ended (the record's end, or the instance's termination). */
  endedAt: Date;
}

/** Everything of the run and the job the decision needs besides the ended attempt. */
export interface RetryContext {
  policy: RunRetryPolicy;
  purchaseOption: PurchaseOption;
  maxRuntimeMinutes: number;
  /** When the run's first attempt was due (its scheduled time): the run's limit counts from it. */
  runStartedAt: Date;
  /** The shortest deadline an attempt may be given (the init script's margin and some work). */
  minAttemptMinutes: number;
}

/** Another attempt, and how to launch it. */
export interface NextAttempt {
  retry: true;
  attempt: number;
  reason: RetryReason;
  /** The purchase option of the next attempt. */
  purchaseOption: PurchaseOption;
  /** Not to be launched before this (the backoff). */
  notBefore: Date;
  /** Minutes from `notBefore` the attempt may run: its own limit, within the run's. */
  deadlineMinutes: number;
}

/** No further attempt, and why (for the run's final record and its notification). */
export interface NoRetry {
  retry: false;
  why: string;
}

/**
 * The run's limit: `maxRuntimeMinutes × (attempts + 1)` from its scheduled time, so a run with
 * retries cannot go on for ever however its attempts end.
 */
export function runLimit(
  context: Pick<RetryContext, "policy" | "maxRuntimeMinutes" | "runStartedAt">,
): Date {
  const minutes = context.maxRuntimeMinutes * (context.policy.attempts + 1);
  return new Date(context.runStartedAt.getTime() + minutes * 60_000);
}

function reasonFor(status: string): RetryReason | undefined {
  return status === "interrupted" || status === "lost" || status === "failed" ? status : undefined;
}

/** The decision for `ended` under `context`'s policy. */
export function decideNextAttempt(
  ended: EndedAttempt,
  context: RetryContext,
): NextAttempt | NoRetry {
  const { policy } = context;
  const reason = reasonFor(ended.status);
  if (!reason)
    return {
      retry: false,
      why: `attempt ${ended.attempt} ended ${ended.status}, which is not retried`,
    };
  if (!policy.on.includes(reason)) {
    return { retry: false, why: `runRetries.on does not include ${reason}` };
  }
  if (reason === "failed") {
    const code = ended.exitCode;
    const retried =
      code !== undefined &&
      code !== null &&
      (policy.exitCodes ? policy.exitCodes.includes(code) : code !== 0);
    if (!retried) {
      return {
        retry: false,
        why: `exit code ${code ?? "unknown"} is not retried (runRetries.exitCodes: ${policy.exitCodes ? policy.exitCodes.join(", ") : "any non-zero"})`,
      };
    }
  }
  if (ended.attempt > policy.attempts) {
    return {
      retry: false,
      why: `attempt ${ended.attempt} was the last (runRetries.attempts: ${policy.attempts})`,
    };
  }
  const notBefore = new Date(ended.endedAt.getTime() + policy.backoffMinutes * 60_000);
  const left = Math.floor((runLimit(context).getTime() - notBefore.getTime()) / 60_000);
  const deadlineMinutes = Math.min(context.maxRuntimeMinutes, left);
  if (deadlineMinutes < context.minAttemptMinutes) {
    return {
      retry: false,
      why: `the run's limit (maxRuntimeMinutes × (runRetries.attempts + 1) = ${context.maxRuntimeMinutes * (policy.attempts + 1)} min from ${context.runStartedAt.toISOString()}) leaves ${Math.max(0, left)} min, less than an attempt needs (${context.minAttemptMinutes})`,
    };
  }
  return {
    retry: true,
    attempt: ended.attempt + 1,
    reason,
    purchaseOption: nextPurchaseOption(context.purchaseOption, reason, ended.capacity),
    notBefore,
    deadlineMinutes,
  };
}

/**
 * `spot-then-on-demand` goes on-demand after a spot interruption (the capacity was just taken
 * back); `spot` tries spot again; otherwise the job's own option.
 */
export function nextPurchaseOption(
  option: PurchaseOption,
  reason: RetryReason,
  capacity: "spot" | "on-demand",
): PurchaseOption {
  if (option === "spot-then-on-demand" && reason === "interrupted" && capacity === "spot") {
    return "on-demand";
  }
  return option;
}
