/**
 * How much of its instance a run's container uses: the figures of a run record's `utilization`
 * (`RunUtilization`, launcher/contract.ts), defined here in TypeScript and computed on the
 * instance by the bash part of the init script ({@link UTILIZATION_FUNCTIONS}) with the same
 * integer arithmetic, so that the tests can run both on the same `docker stats` samples.
 *
 * - A sample is one `docker stats --no-stream --format '{{.MemUsage}}|{{.CPUPerc}}'` line of the
 *   job's container, e.g. `1.5GiB / 7.629GiB|153.27%`: the memory it uses (the page cache left
 *   out, as Docker counts it) over the limit (no limit is set, so the host's memory), and its CPU
 *   as a percentage of one CPU, up to 100 × vCPUs
 *   (https://docs.docker.com/reference/cli/docker/container/stats/,
 *   https://manpages.ubuntu.com/manpages/jammy/man1/docker-container-stats.1.html). Sizes are
 *   go-units' binary sizes (`KiB` … `TiB`), or decimal ones (`kB` … `TB`) in old Docker versions.
 * - The instance's memory and vCPUs are Docker's own view (`docker info`'s `MemTotal`, `NCPU`):
 *   what the container's percentages are of.
 * - Whether the kernel's OOM killer ended a process of the container is Docker's
 *   `State.OOMKilled` (`docker inspect`). It is set for any process of the container, not only
 *   the job's main one (https://github.com/moby/moby/issues/43564), and on cgroup v2 it has been
 *   seen unset for a container that exited 137 after an OOM kill
 *   (https://github.com/hashicorp/nomad/issues/13119): the record says what Docker says, and the
 *   failure message of an unexplained 137 names the peak memory, so a reader can judge.
 */
import type { RunUtilization } from "./contract";
import { UTILIZATION_SAMPLE_SECONDS } from "./contract";

/** One sample: the container's memory in bytes and its CPU in hundredths of a percent of one CPU. */
export interface UtilizationSample {
  memoryBytes: number;
  cpuHundredths: number;
}

/** What Docker says of the instance: its memory in bytes and vCPUs, or null when it did not say. */
export interface DockerInstance {
  memoryBytes: number | null;
  vcpus: number | null;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  "": 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  kB: 1000,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};

/** `1.5GiB` (or `115.2 MiB`) → whole bytes, rounded down; undefined for anything else. */
export function bytesOfDockerSize(text: string): number | undefined {
  const match = /^(\d+)(?:\.(\d+))?([A-Za-z]*)$/.exec(text.replace(/ /g, ""));
  const factor = match ? SIZE_UNITS[match[3]] : undefined;
  if (!match || factor === undefined) return undefined;
  const fraction = match[2] ?? "";
  const digits = BigInt(`${match[1]}${fraction}`);
  return Number((digits * BigInt(factor)) / 10n ** BigInt(fraction.length));
}

/** `153.27%` → 15327 (hundredths of a percent; further decimals dropped); undefined otherwise. */
export function hundredthsOfPercent(text: string): number | undefined {
  const match = /^(\d+)(?:\.(\d{1,2})\d*)?%$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** One `docker stats` line (`<usage> / <limit>|<cpu>%`) as a sample; undefined if unreadable. */
export function parseDockerStatsLine(line: string): UtilizationSample | undefined {
  const bar = line.lastIndexOf("|");
  if (bar < 0) return undefined;
  const memoryBytes = bytesOfDockerSize(line.slice(0, bar).split(" / ")[0].trim());
  const cpuHundredths = hundredthsOfPercent(line.slice(bar + 1).trim());
  if (memoryBytes === undefined || cpuHundredths === undefined) return undefined;
  return { memoryBytes, cpuHundredths };
}

/** Hundredths as a number with two decimals: 1234 → 12.34. */
const fromHundredths = (hundredths: number): number => hundredths / 100;

/**
 * The run record's `utilization` from the samples, the instance and Docker's OOM flag: peak and
 * mean memory (bytes, and % of the instance's memory), mean and 95th-percentile CPU (% of all
 * vCPUs; the p95 is the nearest-rank one, the ⌈0.95 n⌉-th smallest sample), all rounded down to
 * hundredths. Figures that need a sample or an instance value are null without one.
 */
export function summariseUtilization(
  samples: readonly UtilizationSample[],
  instance: DockerInstance,
  oomKilled: boolean | null,
): RunUtilization {
  const n = samples.length;
  const memory =
    instance.memoryBytes !== null && instance.memoryBytes > 0 ? instance.memoryBytes : null;
  const vcpus = instance.vcpus !== null && instance.vcpus > 0 ? instance.vcpus : null;
  const summary: RunUtilization = {
    samples: n,
    intervalSeconds: UTILIZATION_SAMPLE_SECONDS,
    instanceMemoryBytes: memory,
    instanceVcpus: vcpus,
    peakMemoryBytes: null,
    meanMemoryBytes: null,
    peakMemoryPercent: null,
    meanMemoryPercent: null,
    meanCpuPercent: null,
    p95CpuPercent: null,
    oomKilled,
  };
  if (n === 0) return summary;
  const peak = Math.max(...samples.map((s) => s.memoryBytes));
  const memorySum = samples.reduce((sum, s) => sum + s.memoryBytes, 0);
  const cpuSum = samples.reduce((sum, s) => sum + s.cpuHundredths, 0);
  const sortedCpu = samples.map((s) => s.cpuHundredths).sort((a, b) => a - b);
  const p95 = sortedCpu[Math.ceil((95 * n) / 100) - 1];
  const mean = Math.floor(memorySum / n);
  summary.peakMemoryBytes = peak;
  summary.meanMemoryBytes = mean;
  if (memory !== null) {
    // BigInt: bytes × 10,000 leaves the exact range of a double, not bash's 64-bit integers.
    const percent = (bytes: number) =>
      fromHundredths(Number((BigInt(bytes) * 10000n) / BigInt(memory)));
    summary.peakMemoryPercent = percent(peak);
    summary.meanMemoryPercent = percent(mean);
  }
  if (vcpus !== null) {
    summary.meanCpuPercent = fromHundredths(Math.floor(cpuSum / (n * vcpus)));
    summary.p95CpuPercent = fromHundredths(Math.floor(p95 / vcpus));
  }
  return summary;
}

/** The utilization of a container that ran with nothing measured: no sample, no instance. */
export function unmeasuredUtilization(): RunUtilization {
  return summariseUtilization([], { memoryBytes: null, vcpus: null }, null);
}

/** `8053063680` → `7.5 GiB`: binary units, rounded to one decimal, as the tools print sizes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The init script's sampler and summary, in bash, kept short (every byte counts against the
 * 16 KB of user data that the job's parameters share). `start_sampler` runs just before
 * `docker run` and returns at once: a background loop appends Docker's view of the instance
 * (`<vCPUs> <memory bytes>`) once, then one `docker stats --no-stream` line of the container
 * every `UTILIZATION_SAMPLE_SECONDS`, to a file; nothing is installed and nothing waits for it.
 * `summarise_utilization` stops it, asks Docker whether the OOM killer struck (not with
 * `quick`, for a script interrupted on its way down), and sets `utilization` (the record's JSON),
 * `oom_killed`, `peak_memory`, `instance_memory`, `peak_memory_percent` and `mean_cpu_percent`
 * by {@link summariseUtilization}'s rules, in bash arithmetic (the p95 through an array indexed
 * by the sample value, which bash lists in ascending order). `bytes_of` reads Docker's sizes as
 * {@link bytesOfDockerSize} does. Bash's `${` is written `$\{`: a raw template cannot hold it.
 */
export const UTILIZATION_FUNCTIONS =
  String.raw`samples_file="$\{TMPDIR:-/tmp}/tj-$RUN_ID.utilization"
sampler_pid=''
utilization=null
oom_killed=''
peak_memory=''
instance_memory=''
peak_memory_percent=''
mean_cpu_percent=''

bytes_of() {
  local u p=_KMGT base=1000
  [[ $\{1// /} =~ ^([0-9]+)\.?([0-9]*)([kKMGT]?)(i?)B$ ]] || return 1
  u=$\{BASH_REMATCH[3]^^}
  p=$\{p%%"$u"*}
  [[ -n $u ]] || p=''
  [[ -z $\{BASH_REMATCH[4]} ]] || base=1024
  printf '%d' $((10#$\{BASH_REMATCH[1]}$\{BASH_REMATCH[2]} * base ** $\{#p} / 10 ** $\{#BASH_REMATCH[2]}))
}

hundredths() {
  printf '%d.%02d' $(($1 / 100)) $(($1 % 100))
}

gib() {
  printf '%d.%d' $(($1 >> 30)) $((($1 & 1073741823) * 10 >> 30))
}

start_sampler() {
  : >"$samples_file" || return 0
  (
    set +e
    timeout 20 docker info --format '{{.NCPU}} {{.MemTotal}}'
    while sleep "$UTILIZATION_SAMPLE_SECONDS"; do
      timeout 20 docker stats --no-stream --format '{{.MemUsage}}|{{.CPUPerc}}' "tj-$RUN_ID"
    done
  ) >>"$samples_file" 2>/dev/null &
  sampler_pid=$!
}

summarise_utilization() {
  local line m c f n=0 ms=0 cs=0 seen=0 v p95=0 cpus='' peak=null mean=null pp=null mp=null mc=null pc=null
  local -a counts=()
  [[ -n $sampler_pid ]] || return 0
  kill "$sampler_pid" 2>/dev/null || :
  wait "$sampler_pid" 2>/dev/null || :
  sampler_pid=''
  [[ $\{1:-} == quick ]] ||
    oom_killed=$(timeout 10 docker inspect --format '{{.State.OOMKilled}}' "tj-$RUN_ID" 2>/dev/null) || :
  [[ $oom_killed == true || $oom_killed == false ]] || oom_killed=''
  while read -r line; do
    if [[ $line =~ ^([1-9][0-9]*)\ ([1-9][0-9]*)$ ]]; then
      cpus=$\{BASH_REMATCH[1]} instance_memory=$\{BASH_REMATCH[2]}
    elif m=$(bytes_of "$\{line%% / *}") && [[ $\{line##*|} =~ ^([0-9]+)(\.([0-9]{1,2})[0-9]*)?%$ ]]; then
      f=$\{BASH_REMATCH[3]}00
      c=$((10#$\{BASH_REMATCH[1]} * 100 + 10#$\{f:0:2}))
      n=$((n + 1)) ms=$((ms + m)) cs=$((cs + c))
      counts[c]=$(($\{counts[c]:-0} + 1))
      if ((m > $\{peak_memory:-0})); then peak_memory=$m; fi
    fi
  done <"$samples_file"
  for v in "$\{!counts[@]}"; do
    seen=$((seen + counts[v]))
    if ((seen * 100 >= 95 * n)); then
      p95=$v
      break
    fi
  done
  if ((n > 0)); then
    peak=$peak_memory mean=$((ms / n))
    if [[ -n $instance_memory ]]; then
      peak_memory_percent=$(hundredths $((peak * 10000 / instance_memory)))
      pp=$peak_memory_percent mp=$(hundredths $((mean * 10000 / instance_memory)))
    fi
    if [[ -n $cpus ]]; then
      mean_cpu_percent=$(hundredths $((cs / (n * cpus))))
      mc=$mean_cpu_percent pc=$(hundredths $((p95 / cpus)))
    fi
  fi
  utilization=$(printf '{"samples":%d,"intervalSeconds":%d,"instanceMemoryBytes":%s,"instanceVcpus":%s,"peakMemoryBytes":%s,"meanMemoryBytes":%s,"peakMemoryPercent":%s,"meanMemoryPercent":%s,"meanCpuPercent":%s,"p95CpuPercent":%s,"oomKilled":%s}' \
    "$n" "$UTILIZATION_SAMPLE_SECONDS" "$\{instance_memory:-null}" "$\{cpus:-null}" "$peak" "$mean" "$pp" "$mp" "$mc" "$pc" "$\{oom_killed:-null}")
}

memory_message() {
  local on="on $\{instance_type:-the instance}"
  [[ -z $instance_memory ]] || on+=" with $(gib "$instance_memory") GiB"
  [[ -z $peak_memory_percent ]] || on+=" (peak sampled $(gib "$peak_memory") GiB, $peak_memory_percent%)"
  if [[ $oom_killed == true ]]; then
    printf "the kernel's OOM killer ended the job (exit status %s): out of memory %s; use an instance type with more memory" "$exit_code" "$on"
  else
    printf 'the job was killed by SIGKILL (exit status 137) %s; Docker reports no OOM kill' "$on"
  fi
}

utilization_metrics() {
  local oom=0
  [[ $oom_killed != true ]] || oom=1
  [[ -z $peak_memory_percent ]] || metric RunPeakMemoryPercent "$peak_memory_percent" Percent
  [[ -z $mean_cpu_percent ]] || metric RunMeanCpuPercent "$mean_cpu_percent" Percent
  [[ -z $oom_killed ]] || metric RunOomKilled $oom Count
}`.replaceAll("$\\{", "${");
