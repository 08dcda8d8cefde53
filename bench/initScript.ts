/**
 * Benchmark 4: the init script's own overhead, from the start of bash to `docker run`, with the
 * test harness's stub commands (instant `docker`, `aws`, `curl`...) standing in for the network
 * and the daemon; and the requests it sends over the network before the job starts.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
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

/** Wall clock in epoch milliseconds, with sub-millisecond precision. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * Runs the script once in a fresh sandbox; `docker` is wrapped so that `docker run` first notes
 * bash's `$EPOCHREALTIME`. Returns the milliseconds from spawn to that moment, to exit, and the
 * stub calls made before `docker run`.
 */
async function runOnce(
  script: string,
): Promise<{ toDockerRunMs: number; totalMs: number; callsBefore: string[] }> {
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
    const { calls } = sandbox.result(status, stderr);
    const at = calls.findIndex((c) => c.startsWith("docker run"));
    return { toDockerRunMs, totalMs, callsBefore: calls.slice(0, at) };
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
  const timing = await timeTask("init script to docker run", iterations, async () => {
    const run = await runOnce(script);
    callsBefore = run.callsBefore;
    totals.push(run.totalMs);
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
  ];
  return {
    figures,
    details: {
      scriptBytes: Buffer.byteLength(script),
      toDockerRunMs: timing,
      totalMsMedian: [...totals].sort((a, b) => a - b)[Math.floor(totals.length / 2)],
      callsBeforeDockerRun: callsBefore,
      requestsBeforeDockerRun: byDestination,
      processesBeforeDockerRun: processes,
    },
  };
}
