/**
 * What the operator tools know of a deployed stack: its outputs, read with
 * `pulumi stack output --json [--stack <stack>]`. Regions, buckets, function and log group names
 * all come from there, never from typed-in ARNs. The Pulumi CLI is run through an injectable
 * runner, so tests put a fake `pulumi` on PATH or pass a function.
 */
import { spawn } from "node:child_process";
import { CliError, UsageError } from "./args";

/** One job's outputs in one region (see `RegionalJobOutputs`). */
export interface JobOutputs {
  logGroupName: string;
  scheduleName?: string;
  launchTemplateId?: string;
  repositoryUrl?: string;
  imageUri?: string;
  deadLetterQueueArn?: string;
}

/** One region's outputs. */
export interface RegionOutputs {
  enabled?: boolean;
  bucketName: string;
  launcherFunctionName: string;
  topicArn?: string;
  jobs: Record<string, JobOutputs>;
}

/** The stack outputs the tools use. */
export interface StackOutputs {
  /** The stack they came from (`--stack`, or the selected one when absent). */
  stack?: string;
  /**
   * The stack's environment (its instances' `transient-jobs:environment` tag), from the
   * `environment` output; absent in stacks deployed before it existed.
   */
  environment?: string;
  regions: Record<string, RegionOutputs>;
  dashboardName?: string;
}

/** Result of one Pulumi CLI call. */
export interface RunResult {
  /** Exit status; null if it could not start. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why it could not start (e.g. `ENOENT`). */
  error?: string;
}

/** Runs the Pulumi CLI with `args`. */
export type PulumiRunner = (args: string[]) => Promise<RunResult>;

/** Runs `pulumi` from PATH. */
export const spawnPulumi: PulumiRunner = (args) =>
  new Promise((resolve) => {
    const child = spawn("pulumi", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) =>
      resolve({ code: null, stdout, stderr, error: error.code ?? error.message }),
    );
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks the outputs' shape; every problem names the output path, so a stack deployed with an
 * older version of the program is told to `pulumi up`.
 */
export function parseStackOutputs(value: unknown, stackLabel: string): StackOutputs {
  const fix = `; deploy this version of the program (pulumi up --stack ${stackLabel}) and retry`;
  if (!isObject(value) || !isObject(value.regions)) {
    throw new CliError(`stack ${stackLabel} has no "regions" output${fix}`);
  }
  const regions: Record<string, RegionOutputs> = {};
  for (const [region, raw] of Object.entries(value.regions)) {
    const at = (key: string) => `regions.${region}.${key}`;
    if (!isObject(raw))
      throw new CliError(`stack ${stackLabel} output ${at("")} is not an object${fix}`);
    for (const key of ["bucketName", "launcherFunctionName"]) {
      if (typeof raw[key] !== "string") {
        throw new CliError(`stack ${stackLabel} output ${at(key)} is missing${fix}`);
      }
    }
    if (!isObject(raw.jobs))
      throw new CliError(`stack ${stackLabel} output ${at("jobs")} is missing${fix}`);
    const jobs: Record<string, JobOutputs> = {};
    for (const [job, jobRaw] of Object.entries(raw.jobs)) {
      if (!isObject(jobRaw) || typeof jobRaw.logGroupName !== "string") {
        throw new CliError(
          `stack ${stackLabel} output ${at(`jobs.${job}.logGroupName`)} is missing${fix}`,
        );
      }
      jobs[job] = jobRaw as unknown as JobOutputs;
    }
    regions[region] = {
      enabled: raw.enabled !== false,
      bucketName: raw.bucketName as string,
      launcherFunctionName: raw.launcherFunctionName as string,
      ...(typeof raw.topicArn === "string" ? { topicArn: raw.topicArn } : {}),
      jobs,
    };
  }
  if (Object.keys(regions).length === 0)
    throw new CliError(`stack ${stackLabel} has no regions${fix}`);
  return {
    regions,
    ...(typeof value.dashboardName === "string" ? { dashboardName: value.dashboardName } : {}),
    ...(typeof value.environment === "string" ? { environment: value.environment } : {}),
  };
}

/**
 * The outputs of `stack` (the selected stack when undefined), via `pulumi stack output --json`.
 * Throws {@link CliError} saying what to do when Pulumi is missing, not logged in, or the stack
 * is unknown.
 */
export async function readStackOutputs(
  stack: string | undefined,
  runner: PulumiRunner = spawnPulumi,
): Promise<StackOutputs> {
  const args = ["stack", "output", "--json", ...(stack ? ["--stack", stack] : [])];
  const command = `pulumi ${args.join(" ")}`;
  const result = await runner(args);
  if (result.code === null) {
    throw new CliError(
      result.error === "ENOENT"
        ? `the pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/iac/download-install/), run "pulumi login", and retry`
        : `${command} could not start: ${result.error ?? "unknown error"}`,
    );
  }
  if (result.code !== 0) {
    const reason = result.stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "no output";
    throw new CliError(`${command} failed (exit ${result.code}): ${reason}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(result.stdout);
  } catch {
    throw new CliError(`${command} printed no JSON: ${JSON.stringify(result.stdout.slice(0, 80))}`);
  }
  return { ...parseStackOutputs(value, stack ?? "(selected)"), ...(stack ? { stack } : {}) };
}

/** The regions to work on: all, or the one asked for (which must be in the stack). */
export function selectRegions(
  outputs: StackOutputs,
  region: string | undefined,
): Array<[string, RegionOutputs]> {
  const all = Object.entries(outputs.regions);
  if (region === undefined) return all;
  const found = all.filter(([name]) => name === region);
  if (found.length === 0) {
    throw new UsageError(
      `--region: "${region}" is not a region of stack ${outputs.stack ?? "(selected)"} (${all.map(([n]) => n).join(", ")})`,
    );
  }
  return found;
}

/** `--stack dev ` or nothing, for the commands the tools suggest. */
export function stackFlag(outputs: StackOutputs): string {
  return outputs.stack ? `--stack ${outputs.stack} ` : "";
}
