/**
 * The plan tool's command line: `<stack> [--config <file>] [--now <ISO time>]` or `--help`.
 * Checked before anything heavy loads, so a bad command line is answered at once.
 */
import * as fs from "node:fs";
import { UsageError } from "../cli/args";
import { knownStacks } from "./stacks";

export { UsageError };

const USAGE =
  "usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   (stacks: " +
  knownStacks().join(", ") +
  ")";

/** What `npm run plan -- --help` prints. */
export const HELP = `${USAGE}

Evaluates the program for <stack> under Pulumi's mock engine (no Pulumi CLI, no AWS account) and
prints every resource \`pulumi up\` would create, per region and job, with each job's next three
runs in its time zone and the days a daylight-saving change skips or repeats its time.

  <stack>          a stack with a Pulumi.<stack>.yaml
  --config <file>  plan <stack> with this stack file instead, e.g. examples/real-jobs.yaml
  --now <ISO time> count the next runs from this time instead of now, e.g. 2026-11-23T12:00:00Z
  --help, -h       this text

exit status: 0 planned, 2 bad command line or invalid stack config, 1 anything else`;

/** Parsed command line of the plan tool. */
export interface PlanOptions {
  stack: string;
  now: Date;
  /** A stack file to use instead of `Pulumi.<stack>.yaml`. */
  configFile?: string;
}

/** Parses `<stack> [--now ISO]`, or `--help`. */
export function parsePlanArgs(argv: string[]): PlanOptions | "help" {
  if (argv.includes("--help") || argv.includes("-h")) return "help";
  let stack: string | undefined;
  let now = new Date();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--config") {
      configFile = argv[++i];
      if (configFile === undefined || !fs.existsSync(configFile)) {
        throw new UsageError(
          `--config: ${JSON.stringify(configFile ?? null)} is not a file; give a stack file such as examples/real-jobs.yaml`,
        );
      }
    } else if (arg === "--now") {
      const value = argv[++i];
      now = new Date(value ?? "");
      if (value === undefined || Number.isNaN(now.getTime())) {
        throw new UsageError(
          `--now: ${JSON.stringify(value ?? null)} is not an ISO time (e.g. 2026-11-23T12:00:00Z)`,
        );
      }
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown flag ${JSON.stringify(arg)}; ${USAGE}`);
    } else if (stack === undefined) {
      stack = arg;
    } else {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}; ${USAGE}`);
    }
  }
  if (!stack) throw new UsageError(`missing stack name; ${USAGE}`);
  if (!knownStacks().includes(stack)) {
    throw new UsageError(`stack ${JSON.stringify(stack)} has no Pulumi.${stack}.yaml; ${USAGE}`);
  }
  return { stack, now, ...(configFile !== undefined ? { configFile } : {}) };
}
