/**
 * What every operator tool shares: its output channel, the AWS clients it may use (real ones by
 * default, overridable in tests), the table and duration formats, and the `main` wrapper that
 * turns errors into messages and exit codes.
 */
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { PricingClient } from "@aws-sdk/client-pricing";
import type { S3Client } from "@aws-sdk/client-s3";
import { CliError, UsageError } from "./args";
import { ec2Sdk, lambdaSdk, logsSdk, pricingSdk, s3Sdk } from "./sdk";
import { PulumiRunner, spawnPulumi } from "./stackOutputs";
import { PRICING_PROVIDER_REGION } from "../lib/priceList";

/** Where a tool writes: lines to stdout and stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** The world a tool reaches: Pulumi, AWS clients per region, the clock. */
export interface CliDeps {
  io: Io;
  pulumi: PulumiRunner;
  s3(region: string): Pick<S3Client, "send">;
  lambda(region: string): Pick<LambdaClient, "send">;
  logs(region: string): Pick<CloudWatchLogsClient, "send">;
  ec2(region: string): Pick<EC2Client, "send">;
  /** The Price List Query API, served from a few regions only (lib/priceList.ts). */
  pricing(): Pick<PricingClient, "send">;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/**
 * The real world: stdout/stderr, `pulumi` on PATH, SDK clients with the default credentials,
 * each created (and its SDK package loaded) when a command first asks for it.
 */
export function defaultDeps(): CliDeps {
  const cache = new Map<string, unknown>();
  const client = <T>(key: string, make: () => T): T => {
    if (!cache.has(key)) cache.set(key, make());
    return cache.get(key) as T;
  };
  return {
    io: {
      out: (text) => process.stdout.write(`${text}\n`),
      err: (text) => process.stderr.write(`${text}\n`),
    },
    pulumi: spawnPulumi,
    s3: (region) => client(`s3:${region}`, () => new (s3Sdk().S3Client)({ region })),
    lambda: (region) =>
      client(`lambda:${region}`, () => new (lambdaSdk().LambdaClient)({ region })),
    logs: (region) =>
      client(`logs:${region}`, () => new (logsSdk().CloudWatchLogsClient)({ region })),
    ec2: (region) => client(`ec2:${region}`, () => new (ec2Sdk().EC2Client)({ region })),
    pricing: () =>
      client(
        "pricing",
        () => new (pricingSdk().PricingClient)({ region: PRICING_PROVIDER_REGION }),
      ),
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** A tool's entry point: its arguments and world in, its exit status out. */
export type Main = (argv: string[], deps: CliDeps) => Promise<number>;

/**
 * Runs `main` and returns the exit status: 2 for a bad command line, 1 for other errors (AWS,
 * Pulumi, a missing run), each as one `error:` line on stderr; otherwise what `main` returned.
 */
export async function runMain(main: Main, argv: string[], deps: CliDeps): Promise<number> {
  try {
    return await main(argv, deps);
  } catch (error) {
    if (error instanceof UsageError) {
      deps.io.err(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof CliError) {
      deps.io.err(`error: ${error.message}`);
      return error.exitCode;
    }
    const { name, message } = error as Error;
    const hint = /credential/i.test(`${name} ${message}`)
      ? " (configure AWS credentials, e.g. AWS_PROFILE, for the stack's account)"
      : "";
    deps.io.err(`error: ${name}: ${message}${hint}`);
    return 1;
  }
}

/** Runs a tool as a process: its exit status becomes the process's. */
export function runAsProcess(main: Main): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  void runMain(main, process.argv.slice(2), defaultDeps()).then((code) => {
    process.exitCode = code;
  });
}

/** A plain text table: a header row, then rows; columns listed in `right` are right-aligned. */
export function formatTable(header: string[], rows: string[][], right: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** `312` → `5m 12s`, `4000` → `1h 06m`, `7` → `7s`; `-` when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "-";
  }
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
