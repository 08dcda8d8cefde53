/**
 * Benchmark 4: the init script's own overhead, from the start of bash to `docker run`, with the
 * test harness's stub commands (instant `docker`, `aws`, `curl`...) standing in for the network
 * and the daemon; and the requests it sends over the network before the job starts.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RunTimings } from "../launcher/contract";
import { renderInitScript } from "../launcher/initScript";
import { initScriptInputFixture } from "../testing/fixtures";
import { ScriptSandbox } from "../testing/scriptHarness";
import { timeTask } from "./measure";
import {
  checked,
  formatMs,
  info,
  type BenchmarkResult,
  type Figure,
  type RunOptions,
} from "./report";

/** Target of the issue: script start to `docker run`, in milliseconds. */
export const MAX_OVERHEAD_MS = 1000;

/**
 * Where each line of the calls log before `docker run` goes: curl to IMDS (link-local, but still
 * a round trip) or to an AWS API, the registry (`docker login`/`pull`), or nowhere off the
 * machine (`docker info`/`image` talk to the local daemon's socket). Lines `aws <service> ...`
 * are the stand-in's log of the API requests it received, not processes.
 */
export function destination(call: string): "imds" | "aws-api" | "registry" | "local" | "logged" {
  if (/^curl .*169\.254\.169\.254/.test(call)) return "imds";
  if (/^curl .*amazonaws\.com/.test(call)) return "aws-api";
  if (/^aws /.test(call)) return "logged";
  if (/^docker (login|pull)\b/.test(call)) return "registry";
  return "local";
}

/** The script of a run of the launcher tests' fixture job (ECR image, no topic). */
function fixtureScript(): string {
  return renderInitScript(initScriptInputFixture());
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * The init script's own part of an attempt's overhead (RunOverheadSeconds without the boot):
 * from its start to the record, minus the container's run.
 */
function scriptOverheadMs(t: RunTimings): number {
  const at = (iso: string | null) => (iso === null ? NaN : Date.parse(iso));
  return (
    at(t.recordWrittenAt) -
    at(t.initScriptStartedAt) -
    (at(t.containerExitedAt) - at(t.containerStartedAt))
  );
}

/** Milliseconds of each phase of a run, from its timings. */
function phaseMs(t: RunTimings): Record<string, number> {
  const at = (iso: string | null) => (iso === null ? NaN : Date.parse(iso));
  return {
    "start to Docker ready": at(t.dockerReadyAt) - at(t.initScriptStartedAt),
    "registry login": at(t.registryLoggedInAt) - at(t.dockerReadyAt),
    pull: at(t.imagePulledAt) - at(t.registryLoggedInAt),
    "to container start": at(t.containerStartedAt) - at(t.imagePulledAt),
    "container exit to record": at(t.recordWrittenAt) - at(t.containerExitedAt),
  };
}

/** Wall clock in epoch milliseconds, with sub-millisecond precision. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * Runs the script once in a fresh sandbox; `docker` is wrapped so that `docker run` first notes
 * bash's `$EPOCHREALTIME`. Returns the milliseconds from spawn to that moment, to exit, the
 * stub calls made before `docker run`, and the record's timings.
 */
async function runOnce(script: string): Promise<{
  toDockerRunMs: number;
  totalMs: number;
  callsBefore: string[];
  timings: RunTimings;
}> {
  const sandbox = new ScriptSandbox({});
  try {
    await sandbox.start();
    const real = path.join(sandbox.state, "real");
    fs.mkdirSync(real);
    // Same name in another folder: the stub logs its calls under its own file name.
    fs.renameSync(path.join(sandbox.bin, "docker"), path.join(real, "docker"));
    fs.writeFileSync(
      path.join(sandbox.bin, "docker"),
      `#!/bin/bash\nif [[ $1 == run ]]; then printf '%s' "$EPOCHREALTIME" >"$TJ_STATE/docker-run.at"; fi\nexec "$TJ_STATE/real/docker" "$@"\n`,
      { mode: 0o755 },
    );
    const file = path.join(sandbox.root, "user-data.sh");
    fs.writeFileSync(file, sandbox.sandboxed(script));
    const started = epochMs();
    const child = spawn("/bin/bash", [file], {
      env: sandbox.env({}),
      cwd: sandbox.root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const totalMs = epochMs() - started;
    const marker = path.join(sandbox.state, "docker-run.at");
    if (!fs.existsSync(marker)) {
      throw new Error(`the init script never reached docker run (exit ${status}):\n${stderr}`);
    }
    // EPOCHREALTIME is "seconds.microseconds" (the decimal point follows the locale; LC_ALL=C).
    const toDockerRunMs = Number(fs.readFileSync(marker, "utf8")) * 1000 - started;
    const { calls, records } = sandbox.result(status, stderr);
    const at = calls.findIndex((c) => c.startsWith("docker run"));
    const timings = records.at(-1)?.timings as RunTimings | undefined;
    if (!timings) throw new Error(`the init script wrote no record with timings:\n${stderr}`);
    return { toDockerRunMs, totalMs, callsBefore: calls.slice(0, at), timings };
  } finally {
    await sandbox.remove();
  }
}

/** Runs benchmark 4. */
export async function runInitScriptBenchmark(options: RunOptions): Promise<BenchmarkResult> {
  const iterations = options.quick ? 5 : 30;
  const script = fixtureScript();
  options.log(`init-script: ${iterations} runs with stub commands`);
  let callsBefore: string[] = [];
  const totals: number[] = [];
  const overheads: number[] = [];
  let phases: Record<string, number> = {};
  const timing = await timeTask("init script to docker run", iterations, async () => {
    const run = await runOnce(script);
    callsBefore = run.callsBefore;
    totals.push(run.totalMs);
    overheads.push(scriptOverheadMs(run.timings));
    phases = phaseMs(run.timings);
    return { overriddenDuration: run.toDockerRunMs };
  });

  const byDestination = { imds: 0, "aws-api": 0, registry: 0, local: 0, logged: 0 };
  for (const call of callsBefore) byDestination[destination(call)]++;
  const network = byDestination.imds + byDestination["aws-api"] + byDestination.registry;
  const processes = callsBefore.length - byDestination.logged;
  const awsCalls = callsBefore
    .filter((c) => destination(c) === "logged")
    .map((c) => c.split(" ").slice(0, 3).join(" "));
  const installs = callsBefore.filter(
    (c) => /^(dnf|yum|pip|aws) /.test(c) && destination(c) !== "logged",
  );
  const overhead = median(overheads);
  const figures: Figure[] = [
    checked(
      "init-script",
      `script start to docker run, stub commands, median of ${timing.samples}`,
      timing.median,
      formatMs(timing.median),
      { op: "<=", limit: MAX_OVERHEAD_MS, unit: " ms" },
      `includes starting ${processes} stub processes (bash scripts; curl's stub execs the real curl); range ${formatMs(timing.min)}-${formatMs(timing.max)}`,
    ),
    info(
      "init-script",
      "network requests before docker run",
      `${network}: ${byDestination.imds} IMDS, ${byDestination["aws-api"]} AWS API, ${byDestination.registry} registry`,
      network,
      `counted per command: IMDS = curl (token, one per metadata item, the role and its credentials), AWS API = curl signing with SigV4 (${awsCalls.join(", ")}), registry = docker login + docker pull (a pull is several HTTP requests: manifest, config, layers); nothing installed (${installs.length} package-manager or AWS CLI commands)`,
    ),
    info(
      "init-script",
      `the record's timings: script start to record written, minus the container, median of ${overheads.length}`,
      formatMs(overhead),
      overhead,
      `what RunOverheadSeconds adds to boot under stub commands (the stubs answer at once; on EC2 the pull and the boot dominate); last run by phase: ${Object.entries(
        phases,
      )
        .map(([phase, ms]) => `${phase} ${formatMs(ms)}`)
        .join(", ")}`,
    ),
  ];
  return {
    figures,
    details: {
      scriptBytes: Buffer.byteLength(script),
      toDockerRunMs: timing,
      totalMsMedian: median(totals),
      callsBeforeDockerRun: callsBefore,
      requestsBeforeDockerRun: byDestination,
      processesBeforeDockerRun: processes,
      scriptOverheadMsMedian: overhead,
      lastRunPhasesMs: phases,
    },
  };
}
