/**
 * Runs a rendered init script under bash with stub commands on PATH. Only the stubs and a few
 * harmless tools (`tr`, `sed`, `timeout`, `base64`, python3, and the real curl behind a logging
 * stub) are reachable, so a script that calls any other command fails here instead of touching
 * this machine (no real `shutdown`, `dnf`, `aws` or `systemd-run`). Stubs append `name args...`
 * to a calls log; their behaviour is set with `STUB_*` variables that only the stubs read. curl
 * reaches the instance metadata and the AWS APIs through a local stand-in (testing/awsStub.ts),
 * which logs each API request it accepts to the same log.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AwsStub, type AwsStubBehaviour } from "./awsStub";

/** How the stubs behave; everything succeeds by default. */
export interface StubBehaviour extends AwsStubBehaviour {
  /** `docker info` fails this many times before succeeding. */
  dockerInfoFailures?: number;
  /** `docker pull` fails this many times before succeeding. */
  pullFailures?: number;
  /** Exit status of `docker run`. */
  runExit?: number;
  /**
   * `docker run` sleeps this many seconds (to be interrupted): the sleep stands for the container,
   * which outlives a killed `docker run` until `docker stop` ends it.
   */
  runSleepSeconds?: number;
  /** What `docker wait` prints: the exit status of a stopped container. Default 143. */
  stoppedExit?: number;
  /** Exit status of `shutdown -h +N` (the watchdog); `shutdown -h now` always succeeds. */
  watchdogExit?: number;
  /** The line `docker logs --tail 1` prints. Default nothing. */
  lastLine?: string;
  /**
   * What successive `docker stats --no-stream` calls print, one line each (e.g.
   * `1.5GiB / 7.629GiB|153.27%`); after the last, the container is gone and `docker stats` fails.
   * With lines, `docker run` lasts until they have all been read, as a container that is sampled
   * while it runs. Default none: `docker stats` fails, slowly, as for a container not yet started.
   */
  stats?: string[];
  /** What `docker info --format '{{.NCPU}} {{.MemTotal}}'` prints, e.g. `2 8053063680`. */
  dockerInfo?: string;
  /** `docker info --format` takes this many seconds first: a daemon slow to answer the sampler. */
  dockerInfoSeconds?: number;
  /** What `docker inspect --format '{{.State.OOMKilled}}'` prints. Default nothing. */
  oomKilled?: "true" | "false";
  /** How many NVMe instance-store disks `lsblk` lists besides the root EBS volume. Default 0. */
  instanceStoreDisks?: number;
  /** The AMI has lvm2 (`vgcreate`, `lvcreate`). */
  lvm?: boolean;
}

/** What one run of the script did. */
export interface ScriptRun {
  /** Exit status of bash (null if killed by a signal). */
  status: number | null;
  /** One line per stub call: `name arg1 arg2 ...`, newlines in arguments written as `\n`. */
  calls: string[];
  /** Run records, parsed, in the order they were uploaded. */
  records: Record<string, unknown>[];
  /** argv of `docker run`, exactly as received (NUL-separated by the stub). */
  dockerRunArgs: string[] | undefined;
  /** The `--env-file` that `docker run` was given, as it read it, and its permissions (octal). */
  dockerEnvFile?: { text: string; mode: string };
  /** What is left in the script's runtime folder (`RUNTIME_DIR`) after the run. */
  runtimeFiles: string[];
  /** What `docker login` read on stdin (the registry password), if it ran. */
  dockerLoginStdin?: string;
  stderr: string;
}

const COREUTILS = ["tr", "sed", "awk", "timeout", "mkdir", "chmod", "rm", "base64", "python3"];

/**
 * The system's python3, as on the instance, where there is one: a version manager's (pyenv's)
 * loads its site packages at each start, twice the time. Else the interpreter behind `python3`,
 * not a version manager's shim (which needs a full PATH to run).
 */
const SYSTEM_PYTHON = "/usr/bin/python3";
let python: string | undefined;
function realPython(): string {
  if (python) return python;
  const candidate = fs.existsSync(SYSTEM_PYTHON) ? SYSTEM_PYTHON : which("python3");
  const found = spawnSync(candidate, ["-c", "import json, sys; print(sys.executable)"], {
    encoding: "utf8",
  });
  if (found.status !== 0) throw new Error("python3 is needed by the script tests but broken");
  python = found.stdout.trim();
  return python;
}

/** Where each command is, looked up once per process: every sandbox links the same tools. */
const locations = new Map<string, string>();

function which(command: string): string {
  let where = locations.get(command);
  if (where === undefined) {
    where = locate(command);
    locations.set(command, where);
  }
  return where;
}

function locate(command: string): string {
  const found = spawnSync("bash", ["-c", `command -v ${command}`], { encoding: "utf8" });
  if (found.status !== 0) throw new Error(`${command} is needed by the script tests but missing`);
  return found.stdout.trim();
}

function mkfifo(file: string): void {
  const made = spawnSync(which("mkfifo"), [file], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`mkfifo ${file} failed: ${made.stderr}`);
}

/** The size in bytes `docker image inspect` reports of the pulled image. */
export const IMAGE_SIZE_BYTES = 734003200;

const STUB_PRELUDE = `#!/bin/bash
line="\${0##*/} $*"
printf '%s\\n' "\${line//$'\\n'/\\\\n}" >>"$TJ_CALLS"
# count NAME: prints how many times NAME was counted, this time included.
count() {
  local n=0
  if [[ -f "$TJ_STATE/$1.count" ]]; then n=$(<"$TJ_STATE/$1.count"); fi
  n=$((n + 1))
  printf '%s' "$n" >"$TJ_STATE/$1.count"
  printf '%s' "$n"
}
# nap SECONDS: waits without a process (a sleep each time costs one): read -t on a FIFO that
# nobody writes, opened read-write so that the open does not block.
nap() { read -rt "$1" _ <>"$TJ_STATE/nap.fifo" || :; }
`;

/**
 * The prelude of the simple stubs, in POSIX sh: dash starts in about a third of bash's time, and a
 * run calls these tens of times. The same log line as {@link STUB_PRELUDE}'s.
 */
const SH_STUB_PRELUDE = `#!/bin/sh
nl='
'
rest="\${0##*/} $*"
line=''
while :; do
  case $rest in
    *"$nl"*) line="$line\${rest%%"$nl"*}\\\\n"; rest=\${rest#*"$nl"} ;;
    *) break ;;
  esac
done
printf '%s\\n' "$line$rest" >>"$TJ_CALLS"
`;

/** Stubs in POSIX sh (after {@link SH_STUB_PRELUDE}). */
const SH_STUBS: Record<string, string> = {
  shutdown: `case $2 in +*) exit "\${STUB_WATCHDOG_EXIT:-0}" ;; esac`,
  sleep: ``,
  date: `exec ${which("date")} "$@"`,
  // The real curl, logged: it speaks HTTP to the stand-in (its --connect-to).
  curl: `exec ${which("curl")} "$@"`,
  lsblk: `printf 'nvme0n1 Amazon Elastic Block Store\\n'
i=1
while [ "$i" -le "\${STUB_INSTANCE_STORE_DISKS:-0}" ]; do
  printf 'nvme%dn1 Amazon EC2 NVMe Instance Storage\\n' "$i"
  i=$((i + 1))
done`,
  "mkfs.xfs": ``,
  mount: ``,
};

/** Stubs in bash (after {@link STUB_PRELUDE}). */
const STUBS: Record<string, string> = {
  docker: `case "$1" in
  info)
    if [[ "$2" == --format ]]; then
      if [[ -n "\${STUB_DOCKER_INFO_SECONDS:-}" ]]; then /bin/sleep "$STUB_DOCKER_INFO_SECONDS"; fi
      printf '%s\\n' "\${STUB_DOCKER_INFO:-}"
      exit 0
    fi
    (( $(count docker-info) > \${STUB_DOCKER_INFO_FAILURES:-0} )) || exit 1 ;;
  inspect) printf '%s\\n' "\${STUB_OOM_KILLED:-}" ;;
  stats)
    if [[ -z "\${STUB_STATS:-}" ]]; then nap 0.5; exit 1; fi
    n=$(count docker-stats)
    mapfile -t lines <<<"$STUB_STATS"
    if (( n <= \${#lines[@]} )); then printf '%s\\n' "\${lines[n - 1]}"; exit 0; fi
    : >"$TJ_STATE/stats.done"
    nap 0.05
    exit 1 ;;
  login) /bin/cat >"$TJ_STATE/docker-login.stdin" ;;
  pull) (( $(count docker-pull) > \${STUB_PULL_FAILURES:-0} )) || { echo "pull: timeout" >&2; exit 1; } ;;
  logs) printf '%s\\n' "\${STUB_LAST_LINE:-}" ;;
  image) printf '%s %s\\n' "123456789012.dkr.ecr.eu-west-1.amazonaws.com/transient-jobs-pi@sha256:${"ab".repeat(32)}" ${IMAGE_SIZE_BYTES} ;;
  run)
    printf '%s\\0' "$@" >"$TJ_STATE/docker-run.argv"
    previous=''
    for arg in "$@"; do
      if [[ $previous == --env-file ]]; then
        /bin/cp "$arg" "$TJ_STATE/docker-run.env"
        ${which("stat")} -c %a "$arg" >"$TJ_STATE/docker-run.env.mode"
      fi
      previous=$arg
    done
    if [[ -n "\${STUB_STATS:-}" ]]; then
      for _ in {1..500}; do [[ -f "$TJ_STATE/stats.done" ]] && break; nap 0.01; done
    fi
    if [[ -n "\${STUB_RUN_SLEEP:-}" ]]; then
      /bin/sleep "$STUB_RUN_SLEEP" </dev/null >/dev/null 2>&1 &
      printf '%s' "$!" >"$TJ_STATE/container.pid"
      # docker run ends with the container: 143 when docker stop's SIGTERM ended it.
      wait "$!" && status=0 || status=$?
    fi
    exit "\${STUB_RUN_EXIT:-\${status:-0}}" ;;
  stop) kill "$(<"$TJ_STATE/container.pid")" ;;
  wait) printf '%s\\n' "\${STUB_STOPPED_EXIT:-143}" ;;
esac`,
};

/** lvm2's commands, for an AMI that has them (in POSIX sh). */
const LVM_STUBS: Record<string, string> = { vgcreate: ``, lvcreate: `` };

/** A temporary sandbox: `bin/` (stubs), `core/` (allowed coreutils), `state/` (logs, records). */
export class ScriptSandbox {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "tj-script-"));
  readonly bin = path.join(this.root, "bin");
  readonly core = path.join(this.root, "core");
  readonly state = path.join(this.root, "state");
  /** The stand-in for IMDS and the AWS APIs; {@link start} it before running a script. */
  readonly aws: AwsStub;
  private connectTo = "";

  constructor(behaviour: StubBehaviour) {
    for (const dir of [this.bin, this.core, this.state]) fs.mkdirSync(dir);
    for (const tool of COREUTILS) {
      fs.symlinkSync(tool === "python3" ? realPython() : which(tool), path.join(this.core, tool));
    }
    const shStubs = { ...SH_STUBS, ...(behaviour.lvm ? LVM_STUBS : {}) };
    for (const [name, body] of Object.entries(shStubs)) {
      fs.writeFileSync(path.join(this.bin, name), `${SH_STUB_PRELUDE}${body}\n`, { mode: 0o755 });
    }
    for (const [name, body] of Object.entries(STUBS)) {
      fs.writeFileSync(path.join(this.bin, name), `${STUB_PRELUDE}${body}\n`, { mode: 0o755 });
    }
    fs.writeFileSync(path.join(this.state, "calls.log"), "");
    mkfifo(path.join(this.state, "nap.fifo"));
    this.aws = new AwsStub(this.state, behaviour);
    fs.mkdirSync(this.runtime);
  }

  /** Where the script keeps its secrets file, instead of the instance's tmpfs. */
  get runtime(): string {
    return path.join(this.root, "run");
  }

  /** Starts the stand-in that the sandboxed script's curl reaches. */
  async start(): Promise<void> {
    this.connectTo = `::${await this.aws.listen()}`;
  }

  /**
   * `script` with its instance paths moved into the sandbox, and its curl pointed at the
   * stand-in over plain HTTP (the host names, and so the signatures, stay AWS's).
   */
  sandboxed(script: string): string {
    if (!this.connectTo) throw new Error("start() the sandbox before sandboxing a script");
    return script
      .replace(/^readonly AWS_SCHEME=.*$/m, "readonly AWS_SCHEME='http'")
      .replace(/^readonly CONNECT_TO=.*$/m, `readonly CONNECT_TO='${this.connectTo}'`)
      .replace(/^readonly RUNTIME_DIR=.*$/m, `readonly RUNTIME_DIR='${this.runtime}'`)
      .replace(
        /^readonly SCRATCH_HOST_DIR=.*$/m,
        `readonly SCRATCH_HOST_DIR='${path.join(this.root, "scratch")}'`,
      );
  }

  env(behaviour: StubBehaviour): NodeJS.ProcessEnv {
    const stub = (value: number | undefined) => (value === undefined ? "" : String(value));
    return {
      PATH: `${this.bin}:${this.core}`,
      LC_ALL: "C",
      TJ_CALLS: path.join(this.state, "calls.log"),
      TJ_STATE: this.state,
      STUB_DOCKER_INFO_FAILURES: stub(behaviour.dockerInfoFailures),
      STUB_PULL_FAILURES: stub(behaviour.pullFailures),
      STUB_RUN_EXIT: stub(behaviour.runExit),
      STUB_RUN_SLEEP: stub(behaviour.runSleepSeconds),
      STUB_STOPPED_EXIT: stub(behaviour.stoppedExit),
      STUB_WATCHDOG_EXIT: stub(behaviour.watchdogExit),
      STUB_LAST_LINE: behaviour.lastLine ?? "",
      STUB_STATS: (behaviour.stats ?? []).join("\n"),
      STUB_DOCKER_INFO: behaviour.dockerInfo ?? "",
      STUB_DOCKER_INFO_SECONDS: stub(behaviour.dockerInfoSeconds),
      STUB_OOM_KILLED: behaviour.oomKilled ?? "",
      // The sampler's file goes to the sandbox, not a /tmp that parallel runs share.
      TMPDIR: this.state,
      STUB_INSTANCE_STORE_DISKS: stub(behaviour.instanceStoreDisks),
    };
  }

  /** `text` with the sandbox's own (random) path written `<sandbox>`, so runs compare equal. */
  private anonymous(text: string): string {
    return text.split(this.root).join("<sandbox>");
  }

  result(status: number | null, stderr: string): ScriptRun {
    const records: Record<string, unknown>[] = [];
    for (let n = 1; fs.existsSync(path.join(this.state, `record-${n}.json`)); n++) {
      records.push(JSON.parse(fs.readFileSync(path.join(this.state, `record-${n}.json`), "utf8")));
    }
    const argvFile = path.join(this.state, "docker-run.argv");
    const loginFile = path.join(this.state, "docker-login.stdin");
    const envFile = path.join(this.state, "docker-run.env");
    return {
      status,
      calls: this.anonymous(fs.readFileSync(path.join(this.state, "calls.log"), "utf8"))
        .split("\n")
        .filter(Boolean),
      records,
      dockerRunArgs: fs.existsSync(argvFile)
        ? this.anonymous(fs.readFileSync(argvFile, "utf8")).split("\0").slice(0, -1)
        : undefined,
      ...(fs.existsSync(envFile)
        ? {
            dockerEnvFile: {
              text: fs.readFileSync(envFile, "utf8"),
              mode: fs.readFileSync(`${envFile}.mode`, "utf8").trim(),
            },
          }
        : {}),
      runtimeFiles: fs.readdirSync(this.runtime),
      ...(fs.existsSync(loginFile) ? { dockerLoginStdin: fs.readFileSync(loginFile, "utf8") } : {}),
      stderr: this.anonymous(stderr),
    };
  }

  async remove(): Promise<void> {
    await this.aws.close();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * `script` with its stop time (see `STOP_MARGIN_MINUTES`) `seconds` after its start instead of
 * minutes before its deadline: how the tests reach it without waiting.
 */
export function withStopAfterSeconds(script: string, seconds: number): string {
  const line = /^readonly STOP_AFTER_SECONDS=\d+$/m;
  if (!line.test(script)) throw new Error("the script has no STOP_AFTER_SECONDS line to replace");
  return script.replace(line, `readonly STOP_AFTER_SECONDS=${seconds}`);
}

/**
 * `script` polling the instance metadata for notices every `seconds` (a fraction too) instead of
 * `NOTICE_POLL_SECONDS` (launcher/initScript.ts).
 */
export function withNoticePollSeconds(script: string, seconds: number): string {
  if (!(seconds > 0)) throw new Error(`withNoticePollSeconds: ${seconds} is not a positive number`);
  const line = /^readonly NOTICE_POLL_SECONDS=\d+$/m;
  if (!line.test(script)) throw new Error("the script has no NOTICE_POLL_SECONDS line to replace");
  return script.replace(line, `readonly NOTICE_POLL_SECONDS=${seconds}`);
}

/**
 * Runs `script` with the stubs. With `interruptWhen`, sends `signal` (default SIGTERM, as systemd
 * does at shutdown; several are sent one after the other) to the script's process group once that
 * file appears in the state folder.
 */
export async function runScript(
  script: string,
  behaviour: StubBehaviour = {},
  interruptWhen?: string,
  signal: NodeJS.Signals | readonly NodeJS.Signals[] = "SIGTERM",
): Promise<ScriptRun> {
  const sandbox = new ScriptSandbox(behaviour);
  try {
    await sandbox.start();
    const file = path.join(sandbox.root, "user-data.sh");
    fs.writeFileSync(file, sandbox.sandboxed(script));
    const child = spawn("/bin/bash", [file], {
      env: sandbox.env(behaviour),
      cwd: sandbox.root,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let poll: NodeJS.Timeout | undefined;
    if (interruptWhen) {
      const target = path.join(sandbox.state, interruptWhen);
      poll = setInterval(() => {
        if (fs.existsSync(target) && child.pid !== undefined) {
          clearInterval(poll);
          for (const each of typeof signal === "string" ? [signal] : signal) {
            process.kill(-child.pid, each);
          }
        }
      }, 20);
    }
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve(code));
    });
    if (poll) clearInterval(poll);
    return sandbox.result(status, stderr);
  } finally {
    await sandbox.remove();
  }
}

/**
 * Starts each run at once, at most `limit` at a time: a run mostly waits (on its stubs, its
 * sleeps, its stand-in), so several share a core. Each promise is marked handled, so that a run
 * that fails before its test awaits it is reported by that test, not as an unhandled rejection.
 */
export function runConcurrently<Runs extends Record<string, () => Promise<unknown>>>(
  runs: Runs,
  limit = 4,
): { [Name in keyof Runs]: ReturnType<Runs[Name]> } {
  const queue: (() => void)[] = [];
  let running = 0;
  const next = () => {
    if (running < limit) queue.shift()?.();
  };
  const started: Record<string, Promise<unknown>> = {};
  for (const [name, run] of Object.entries(runs)) {
    started[name] = new Promise((resolve, reject) => {
      queue.push(() => {
        running++;
        // A run that throws at once fails its own tests, not the others'.
        Promise.resolve()
          .then(run)
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          });
      });
    });
    started[name].catch(() => undefined);
  }
  for (let n = 0; n < limit; n++) next();
  return started as { [Name in keyof Runs]: ReturnType<Runs[Name]> };
}

/** Runs `shellcheck` on `script`; resolves to its output (empty when clean). */
export function shellcheck(script: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("shellcheck", ["--shell=bash", "--severity=style", "-"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) =>
      reject(
        new Error(
          `shellcheck is missing (${error.message}); install it with "apt-get install -y shellcheck"`,
        ),
      ),
    );
    child.once("close", (status) => resolve({ status, output }));
    child.stdin.end(script);
  });
}
