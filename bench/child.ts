/** Child processes for the benchmarks: run one to the end, with a time limit, and collect it. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";

/** How a child process ended. */
export interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  wallMs: number;
}

/**
 * Runs `file args...` and resolves when it exits; kills it (SIGKILL) and rejects after
 * `timeoutMs`. Rejects too when it exits with a status other than 0, unless `allowFailure`.
 */
export function runChild(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; allowFailure?: boolean },
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ${args.join(" ")} did not finish within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (status) => {
      clearTimeout(timer);
      const run = { status, stdout, stderr, wallMs: performance.now() - started };
      if (status !== 0 && !options.allowFailure) {
        reject(new Error(`${file} ${args.join(" ")} exited with ${status}:\n${stderr || stdout}`));
      } else {
        resolve(run);
      }
    });
  });
}

/** The CPUs this process may run on (Linux `Cpus_allowed_list`), or `undefined` elsewhere. */
export function allowedCpus(): number[] | undefined {
  let status: string;
  try {
    status = fs.readFileSync("/proc/self/status", "utf8");
  } catch {
    return undefined;
  }
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
  if (!list) return undefined;
  return list.split(",").flatMap((part) => {
    const [from, to = from] = part.split("-").map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** Whether `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return (process.env.PATH ?? "")
    .split(":")
    .some((dir) => dir !== "" && fs.existsSync(`${dir}/${command}`));
}
