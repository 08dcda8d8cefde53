/**
 * The programs evaluated under mocks once per stack and mocha process, for the test files that
 * only read the recorded resources (security, reaper, deploy). Evaluations are plain data once
 * done; they run one after another, because Pulumi's runtime state is global.
 */
import * as path from "node:path";
import { parseStackConfig, rawConfigFromPulumi, StackConfig } from "../config";
import { DEPLOY_PROJECT } from "../deploy/config";
import { evaluateProgram, Evaluation, loadStackConfig, PROJECT_ROOT } from "../offline/engine";

const cache = new Map<string, Promise<unknown>>();
let queue: Promise<unknown> = Promise.resolve();

function once<T>(key: string, evaluate: () => Promise<T>): Promise<T> {
  let entry = cache.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = queue.catch(() => undefined).then(evaluate);
    queue = entry;
    cache.set(key, entry);
  }
  return entry;
}

/** The validated config and the evaluation of `stack` (`dev`, `prod`) with its real config. */
export function evaluatedStack(
  stack: string,
): Promise<{ config: StackConfig; evaluation: Evaluation }> {
  return once(`jobs:${stack}`, async () => {
    const raw = loadStackConfig(stack);
    const config = parseStackConfig(rawConfigFromPulumi(raw), stack);
    return { config, evaluation: await evaluateProgram(stack, raw) };
  });
}

/** The deploy program (`deploy/index.ts`) evaluated with `deploy/Pulumi.<stack>.yaml`. */
export function evaluatedDeployStack(stack: string): Promise<Evaluation> {
  const root = path.join(PROJECT_ROOT, "deploy");
  return once(`deploy:${stack}`, () =>
    evaluateProgram(stack, loadStackConfig(stack, root), path.join(root, "index"), DEPLOY_PROJECT),
  );
}
