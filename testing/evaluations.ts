/**
 * The programs evaluated under mocks once per stack and config in a whole `npm test` run, for
 * the test files that only read the recorded resources (security, reaper, deploy). Evaluations
 * are data once done: mocha's worker processes share them through `evaluationCache.ts`, and each
 * process keeps the ones it used. In one process they run one after another, because Pulumi's
 * runtime state is global.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, rawConfigFromPulumi, StackConfig } from "../config";
import { DEPLOY_PROJECT } from "../deploy/config";
import {
  ClosureCode,
  evaluateProgram,
  Evaluation,
  loadStackConfig,
  PROJECT_ROOT,
} from "../offline/engine";
import { sharedEvaluation } from "./evaluationCache";

const cache = new Map<string, Promise<unknown>>();
let queue: Promise<unknown> = Promise.resolve();

/** With TJ_TEST_EVALUATION_LOG set, each evaluation computed appends its key and time there. */
function timed<T>(key: string, evaluate: () => Promise<T>): () => Promise<T> {
  const logFile = process.env.TJ_TEST_EVALUATION_LOG;
  if (!logFile) return evaluate;
  return async () => {
    const start = Date.now();
    const result = await evaluate();
    fs.appendFileSync(logFile, `${Date.now() - start} ms ${process.pid} ${key.slice(0, 160)}\n`);
    return result;
  };
}

function once<T>(key: string, evaluate: () => Promise<T>): Promise<T> {
  let entry = cache.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = queue.catch(() => undefined).then(() => sharedEvaluation(key, timed(key, evaluate)));
    queue = entry;
    cache.set(key, entry);
  }
  return entry;
}

/** One evaluation of the jobs program, with the config it ran with and what it warned. */
export interface StackEvaluation {
  config: StackConfig;
  evaluation: Evaluation;
  /** Every `pulumi.log.warn` message the program logged while it was evaluated. */
  warnings: string[];
}

async function evaluateJobs(
  stack: string,
  raw: Record<string, string>,
  closures: ClosureCode,
): Promise<Omit<StackEvaluation, "config">> {
  const warnings: string[] = [];
  const log = pulumi.log as { warn: typeof pulumi.log.warn };
  const warn = log.warn;
  log.warn = async (message) => {
    warnings.push(message);
  };
  try {
    return { evaluation: await evaluateProgram(stack, raw, { closures }), warnings };
  } finally {
    log.warn = warn;
  }
}

/** The validated config and the evaluation of `stack` (`dev`, `prod`) with its real config. */
export function evaluatedStack(stack: string): Promise<StackEvaluation> {
  return evaluatedWith(stack, loadStackConfig(stack));
}

/**
 * The jobs program evaluated as `stack` with `raw` (Pulumi's flat config map), once per distinct
 * config: suites that try the same variation share one evaluation. A suite that varies only what
 * the Lambda code does not depend on, and reads no code, asks for `closures: "placeholder"`
 * (half the time; see `offline/engine.ts`).
 */
export async function evaluatedWith(
  stack: string,
  raw: Record<string, string>,
  { closures = "serialized" }: { closures?: ClosureCode } = {},
): Promise<StackEvaluation> {
  // The config is parsed first (and in every process): it holds functions, so it is not stored.
  const config = parseStackConfig(rawConfigFromPulumi(raw), stack);
  const key = JSON.stringify(Object.entries(raw).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    config,
    ...(await once(`jobs:${stack}:${closures}:${key}`, () => evaluateJobs(stack, raw, closures))),
  };
}

/** The deploy program (`deploy/index.ts`) evaluated with `deploy/Pulumi.<stack>.yaml`. */
export function evaluatedDeployStack(stack: string): Promise<Evaluation> {
  const root = path.join(PROJECT_ROOT, "deploy");
  const raw = loadStackConfig(stack, root);
  const key = JSON.stringify(Object.entries(raw).sort(([a], [b]) => (a < b ? -1 : 1)));
  return once(`deploy:${stack}:${key}`, () =>
    evaluateProgram(stack, raw, { program: path.join(root, "index"), project: DEPLOY_PROJECT }),
  );
}
