/**
 * The compiled job for tests: worker threads load `job-image/dist/piWorker.js`, and the process
 * tests run `node job-image/dist/main.js` as the container does. Built once per `npm test` run
 * (the first worker process to need it builds, the other waits), or once per process outside it.
 */
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { oncePerRun } from "../../../testing/evaluationCache";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
export const JOB_DIR = path.join(REPO_ROOT, "job-image");
export const JOB_MAIN = path.join(JOB_DIR, "dist", "main.js");

/** `"3."` and 2,000 places of Pi, checked by `fixture.test.ts`. */
export const PI_2000 = fs
  .readFileSync(path.join(__dirname, "..", "fixtures", "pi-2000.txt"), "ascii")
  .trimEnd();

let build: Promise<unknown> | undefined;

/**
 * Builds the job once (`tsc -b job-image`); later calls share the first build. Build mode, unlike
 * `tsc -p`, skips the compiler's work when `dist/` is newer than every source (the last run's
 * build): `-p` parses the SDK's declarations again (seconds of CPU) to find nothing to emit.
 */
export function buildJob(): Promise<unknown> {
  build ??= oncePerRun("tsc -b job-image", () =>
    promisify(execFile)(
      process.execPath,
      [path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-b", JOB_DIR],
      { cwd: REPO_ROOT },
    ),
  );
  return build;
}

/** The outcome of one job process. */
export interface JobRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

/** Options of {@link startJob}. */
export interface StartOptions {
  /** Variables besides PATH; nothing else is inherited, so the caller's AWS settings never leak in. */
  env?: Record<string, string>;
  args?: string[];
  cwd: string;
  /** Called with the accumulated stdout after each chunk. */
  onStdout?: (stdout: string, child: ReturnType<typeof spawn>) => void;
}

/** Starts `node job-image/dist/main.js`; the promise settles when the process exits. */
export function startJob(options: StartOptions): Promise<JobRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [JOB_MAIN, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onStdout?.(stdout, child);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const ms = performance.now() - started;
      // Let the pipes drain before reporting.
      setImmediate(() => resolve({ code, signal, stdout, stderr, ms }));
    });
  });
}

/** A fresh temporary folder under the OS temp dir. */
export function temporaryDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pi-job-${label}-`));
}
