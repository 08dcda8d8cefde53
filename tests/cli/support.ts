/**
 * Helpers of the CLI tests: an in-memory world for in-process runs, the compiled CLI, a fake
 * `pulumi` on PATH, and a local Lambda endpoint.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { PricingClient } from "@aws-sdk/client-pricing";
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import * as ts from "typescript";
import { defaultDeps, runMain, type CliDeps, type Main } from "../../cli/io";
import type { RunResult } from "../../cli/stackOutputs";
import type { RunTimings } from "../../launcher/contract";
import { PRICING_PROVIDER_REGION } from "../../lib/priceList";
import { MOTO_CLIENT_CONFIG } from "../../testing/moto";

export const PROJECT_ROOT = path.resolve(__dirname, "../..");

/** Outputs of a two-region stack, as `pulumi stack output --json` prints them. */
export const OUTPUTS = {
  regions: {
    "eu-west-1": {
      enabled: true,
      bucketName: "tj-dev-eu-west-1-results-26bc1b5",
      launcherFunctionName: "tj-dev-eu-west-1-launcher-fn-4cc3e77",
      topicArn: "arn:aws:sns:eu-west-1:123456789012:tj-dev-eu-west-1-notifications-topic-165b0e5",
      jobs: {
        pi: {
          logGroupName: "tj-dev-eu-west-1-pi-logs-4103397",
          deadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:tj-dev-eu-west-1-pi-dlq-a0e54bd",
        },
      },
    },
    "us-east-1": {
      enabled: true,
      bucketName: "tj-dev-us-east-1-results-9f00c1d",
      launcherFunctionName: "tj-dev-us-east-1-launcher-fn-77aa001",
      topicArn: "arn:aws:sns:us-east-1:123456789012:tj-dev-us-east-1-notifications-topic-0b1c2d3",
      jobs: {
        pi: { logGroupName: "tj-dev-us-east-1-pi-logs-5e6f7a8" },
        hourly: { logGroupName: "tj-dev-us-east-1-hourly-logs-1234abc" },
      },
    },
  },
  dashboardName: "transient-jobs-dev",
};

/** An attempt of a run scheduled at 06:00, every phase measured. */
export const TIMINGS: RunTimings = {
  scheduledTime: "2026-11-23T06:00:00Z",
  launchRequestedAt: "2026-11-23T06:00:00.400Z",
  runInstancesAcceptedAt: "2026-11-23T06:00:01.200Z",
  instanceLaunchTime: "2026-11-23T06:00:01.500Z",
  bootSeconds: 14.2,
  initScriptStartedAt: "2026-11-23T06:00:16.000Z",
  dockerReadyAt: "2026-11-23T06:00:19.500Z",
  registryLoggedInAt: "2026-11-23T06:00:20.300Z",
  imagePulledAt: "2026-11-23T06:00:31.800Z",
  imageSizeBytes: 212_345_678,
  containerStartedAt: "2026-11-23T06:00:33.100Z",
  containerExitedAt: "2026-11-23T06:05:45.100Z",
  recordWrittenAt: "2026-11-23T06:05:46.100Z",
};

/** A run that succeeded, as the init script records it. */
export const SUCCEEDED_RECORD = {
  runId: "pi-20261123T0600Z",
  job: "pi",
  environment: "dev",
  region: "eu-west-1",
  status: "succeeded",
  phase: "finished",
  exitCode: 0,
  message: "the job exited with status 0",
  scheduledTime: "2026-11-23T06:00:00Z",
  startedAt: "2026-11-23T06:01:05Z",
  endedAt: "2026-11-23T06:06:17Z",
  durationSeconds: 312,
  instanceId: "i-0aaa",
  instanceType: "t3.medium",
  purchaseOption: "spot",
  availabilityZone: "eu-west-1b",
  estimatedCostUsd: 0.002066,
  imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:ab",
  imageDigest: "sha256:ab",
  logGroup: OUTPUTS.regions["eu-west-1"].jobs.pi.logGroupName,
  logStream: "pi-20261123T0600Z",
  summary: "pi: 512,000 digits in 295 s (planned)",
};

/** The error GetObject gives for a key that does not exist, for aws-sdk-client-mock. */
export function notFound(): S3ServiceException {
  return new S3ServiceException({
    name: "NoSuchKey",
    $fault: "client",
    $metadata: { httpStatusCode: 404 },
    message: "The specified key does not exist.",
  });
}

/** A GetObject answer whose body is `value` as JSON, for aws-sdk-client-mock. */
export function objectBody(value: unknown) {
  const text = JSON.stringify(value);
  return { Body: { transformToString: async () => text } } as never;
}

/** An in-process world: output captured, Pulumi answering with `outputs`, real SDK clients
 * (mocked by the tests with aws-sdk-client-mock), a fixed clock and a recorded sleep. */
export function memoryDeps(
  options: { outputs?: unknown; pulumi?: (args: string[]) => Promise<RunResult>; now?: Date } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const pulumiCalls: string[][] = [];
  const sleeps: number[] = [];
  const deps: CliDeps = {
    io: { out: (t) => out.push(t), err: (t) => err.push(t) },
    pulumi:
      options.pulumi ??
      (async (args) => {
        pulumiCalls.push(args);
        return { code: 0, stdout: JSON.stringify(options.outputs ?? OUTPUTS), stderr: "" };
      }),
    s3: (region) => new S3Client({ region }),
    lambda: (region) => new LambdaClient({ region }),
    logs: (region) => new CloudWatchLogsClient({ region }),
    ec2: (region) => new EC2Client({ region }),
    pricing: () => new PricingClient({ region: "us-east-1" }),
    now: () => options.now ?? new Date("2026-11-23T10:15:42Z"),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  };
  return {
    deps,
    pulumiCalls,
    sleeps,
    stdout: () => out.join("\n"),
    stderr: () => err.join("\n"),
  };
}

let compiled: string | undefined;

/**
 * Compiles the CLI once per process into a temporary folder, with `cli/tsconfig.json`'s options,
 * and returns the folder: the entry points and every project module they require, one file at a
 * time as `npm run launch` (ts-node --transpile-only) compiles them. Types are checked by
 * `npm run lint`; a whole-program `tsc -p cli` would spend seconds checking them again.
 */
export function compileCli(): string {
  if (compiled) return compiled;
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-cli-"));
  const cliDir = path.join(PROJECT_ROOT, "cli");
  const { config, error } = ts.readConfigFile(path.join(cliDir, "tsconfig.json"), ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, cliDir);
  const rootDir = parsed.options.rootDir ?? PROJECT_ROOT;
  const pending = [...parsed.fileNames];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const { outputText, diagnostics } = ts.transpileModule(fs.readFileSync(file, "utf8"), {
      compilerOptions: parsed.options,
      fileName: file,
      reportDiagnostics: true,
    });
    if (diagnostics?.length) {
      throw new Error(
        `compiling ${file} failed:\n${ts.formatDiagnostics(diagnostics, ts.createCompilerHost({}))}`,
      );
    }
    const target = path.join(outDir, path.relative(rootDir, file)).replace(/\.ts$/, ".js");
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
    for (const [, specifier] of outputText.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const base = path.resolve(path.dirname(file), specifier);
      const source = [`${base}.ts`, path.join(base, "index.ts")].find((f) => fs.existsSync(f));
      if (source) pending.push(source);
      else if (fs.existsSync(base)) {
        fs.mkdirSync(path.dirname(path.join(outDir, path.relative(rootDir, base))), {
          recursive: true,
        });
        fs.copyFileSync(base, path.join(outDir, path.relative(rootDir, base)));
      } else throw new Error(`${file} requires ${specifier}, which does not exist`);
    }
  }
  compiled = outDir;
  return outDir;
}

/** Removes the compiled CLI. */
export function removeCompiledCli(): void {
  if (compiled) fs.rmSync(compiled, { recursive: true, force: true });
  compiled = undefined;
}

/**
 * A folder with a fake `pulumi` that prints `outputs` for `stack output --json --stack <stack>`
 * (or for no `--stack`: the "selected" stack), and fails like Pulumi for any other stack.
 */
export function fakePulumi(stack: string, outputs: unknown): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-pulumi-"));
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(outputs, null, 2));
  fs.writeFileSync(
    path.join(dir, "pulumi"),
    `#!/bin/bash
if [[ "$1 $2 $3" != "stack output --json" ]]; then echo "fake pulumi: unexpected $*" >&2; exit 64; fi
if [[ $# -eq 3 || ( "$4" == "--stack" && "$5" == ${JSON.stringify(stack)} ) ]]; then
  cat "${dir}/outputs.json"
  exit 0
fi
echo "error: no stack named '$5' found" >&2
exit 255
`,
    { mode: 0o755 },
  );
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** What one CLI process did. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Where in-process tools send their requests: moto, and local Lambda and Price List endpoints. */
export interface LocalEndpoints {
  moto: string;
  lambda: string;
  pricing: string;
}

/**
 * Runs a tool's `main` in this process as its compiled process would (exit status, each line on
 * stdout or stderr), with SDK clients pointed at `endpoints` as `AWS_ENDPOINT_URL*` point the
 * process's, and Pulumi answering with {@link OUTPUTS}. For the variations of behaviour that a
 * process test already proves end to end: they cost no process start and no SDK loading.
 */
export async function runInProcess(
  main: Main,
  argv: string[],
  endpoints: LocalEndpoints,
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const clients = new Map<string, unknown>();
  const client = <T>(key: string, make: () => T): T => {
    if (!clients.has(key)) clients.set(key, make());
    return clients.get(key) as T;
  };
  const config = (region: string, endpoint: string) => ({
    ...MOTO_CLIENT_CONFIG,
    region,
    endpoint,
  });
  const deps: CliDeps = {
    ...defaultDeps(),
    io: { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`) },
    pulumi: async () => ({ code: 0, stdout: JSON.stringify(OUTPUTS), stderr: "" }),
    s3: (region) => client(`s3:${region}`, () => new S3Client(config(region, endpoints.moto))),
    lambda: (region) =>
      client(`lambda:${region}`, () => new LambdaClient(config(region, endpoints.lambda))),
    logs: (region) =>
      client(`logs:${region}`, () => new CloudWatchLogsClient(config(region, endpoints.moto))),
    ec2: (region) => client(`ec2:${region}`, () => new EC2Client(config(region, endpoints.moto))),
    pricing: () =>
      client(
        "pricing",
        () => new PricingClient(config(PRICING_PROVIDER_REGION, endpoints.pricing)),
      ),
  };
  const status = await runMain(main, argv, deps);
  return { status, stdout: out.join(""), stderr: err.join("") };
}

/** Runs the compiled tool `name` (`runs`, `launch`, `logs`) with `args` and `env`. */
export function runCli(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const main = path.join(compileCli(), "cli", `${name}.js`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: os.tmpdir(),
      env: {
        HOME: os.tmpdir(),
        NODE_PATH: path.join(PROJECT_ROOT, "node_modules"),
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} ${args.join(" ")} did not finish in 30 s\n${stdout}\n${stderr}`));
    }, 30000);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** One Lambda invocation the stub received. */
export interface Invocation {
  functionName: string;
  event: unknown;
}

/** A local Lambda Invoke endpoint; `respond` returns the payload, or an error to report. */
export async function startLambdaStub(
  respond: (invocation: Invocation) => Promise<{ payload: unknown; functionError?: string }>,
) {
  const invocations: Invocation[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? "");
      if (!match || req.method !== "POST") {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `unexpected ${req.method} ${req.url}` }));
        return;
      }
      const invocation = { functionName: decodeURIComponent(match[1]), event: JSON.parse(body) };
      invocations.push(invocation);
      void respond(invocation).then(({ payload, functionError }) => {
        res.writeHead(200, {
          "content-type": "application/json",
          "x-amz-executed-version": "$LATEST",
          ...(functionError ? { "x-amz-function-error": functionError } : {}),
        });
        res.end(JSON.stringify(payload));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    invocations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
