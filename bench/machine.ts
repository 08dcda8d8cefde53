/**
 * Facts about the machine a benchmark ran on: results are only comparable on the same machine,
 * and the load average says how busy it was (these machines are shared).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

/** What the README's "Performance" section shows beside the table. */
export interface MachineFacts {
  /** `nproc`: CPUs this process may use. */
  nproc: number;
  /** `model name` of the first CPU in /proc/cpuinfo. */
  cpuModel: string;
  node: string;
  python: string;
  /** Kernel and architecture, e.g. `Linux 6.8.0 x64`. */
  os: string;
  memoryGiB: number;
  /** 1-minute load average when the run started and ended. */
  loadAverage: { start: number; end?: number };
}

function command(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return undefined;
  }
}

/** The model name of the first CPU, or `unknown` where /proc/cpuinfo has none. */
export function cpuModelFrom(cpuinfo: string): string {
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown";
}

/** Collects the facts of this machine now. */
export function machineFacts(): MachineFacts {
  let cpuinfo = "";
  try {
    cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // Not Linux: os.cpus() below still names the model.
  }
  const cpuModel = cpuinfo ? cpuModelFrom(cpuinfo) : (os.cpus()[0]?.model ?? "unknown");
  // python3 --version prints "Python 3.11.7"
  const python = command("python3", ["--version"])?.replace(/^Python\s+/, "") ?? "missing";
  return {
    nproc: Number(command("nproc", [])) || os.availableParallelism(),
    cpuModel,
    node: process.version,
    python,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: { start: round2(os.loadavg()[0]) },
  };
}

/** The 1-minute load average now, to record at the end of a run. */
export function loadAverageNow(): number {
  return round2(os.loadavg()[0]);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
