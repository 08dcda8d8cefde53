/**
 * `npm run runs -- [--stack dev] [--region …] [--job …] [--last 20] [--month 2026-11] [--json]`
 * lists run history from the run records in the stack's buckets, newest first, with estimated
 * cost sums per region and month. `npm run runs -- show <run-id>` prints one run and where its
 * logs are.
 */
import type { RunUtilization } from "../launcher/contract";
import { formatUsd } from "../launcher/prices";
import type { Advice } from "../launcher/rightSizing";
import { formatBytes } from "../launcher/utilization";
import { logsConsoleUrl } from "../launcher/telemetry";
import { CommandSpec, COMMON_FLAGS, formatHelp, parseArgs, UsageError, CliError } from "./args";
import { CliDeps, formatDuration, formatTable, Main, runAsProcess } from "./io";
import { adviseFromAws } from "./instanceAdvice";
import { FoundRun, listRunIds, mapLimited, parseRunId, readRecord } from "./runRecords";
import { readStackOutputs, selectRegions, stackFlag, StackOutputs } from "./stackOutputs";

export const RUNS_SPEC: CommandSpec = {
  usage: "npm run runs --",
  summary:
    "List the runs of a stack's jobs from their run records (newest first), with estimated costs per region and month; or show one run.",
  positionals: ["show?", "run-id?"],
  synopsis: ["npm run runs -- [flags]", "npm run runs -- show <run-id> [flags]"],
  flags: [
    COMMON_FLAGS.stack,
    COMMON_FLAGS.region,
    {
      name: "job",
      type: "string",
      placeholder: "<job>",
      description: "only this job",
      pattern: {
        regex: /^[a-z0-9][a-z0-9-]{0,62}$/,
        rule: "a job name (lower-case letters, digits, -)",
      },
    },
    {
      name: "last",
      type: "integer",
      placeholder: "<n>",
      description: "how many runs to list; with --month, default all of the month",
      min: 1,
      max: 10000,
    },
    {
      name: "month",
      type: "string",
      placeholder: "<yyyy-mm>",
      description: "only runs scheduled in this UTC month",
      pattern: { regex: /^\d{4}-(0[1-9]|1[0-2])$/, rule: "a month such as 2026-11" },
    },
    COMMON_FLAGS.json,
  ],
  notes: [
    "examples:",
    "  npm run runs -- --stack dev",
    "  npm run runs -- --stack prod --region us-east-1 --job nightly-pi --month 2026-11",
    "  npm run runs -- --stack dev show pi-20261123T0600Z",
    "",
    "A run appears when it ends (its instance writes the record just before powering off).",
    "Costs are estimates from AWS's prices at launch; n/a: no price was found. ~ marks one computed here.",
    "With --job, the list ends with right-size advice per region from the runs' memory and CPU,",
    "EC2's instance types (DescribeInstanceTypes) and on-demand prices (AWS Price List).",
    "exit status: 0 listed or shown, 1 AWS/Pulumi error or run not found, 2 bad command line",
  ],
};

/** Default number of runs listed. */
export const DEFAULT_LAST = 20;

/** One line of the cost summary. */
export interface CostSum {
  region: string;
  month: string;
  runs: number;
  succeeded: number;
  failed: number;
  estimatedCostUsd: number;
  /** Runs without any estimate (type or region missing from the price table). */
  unpriced: number;
}

/** Sums estimated cost (and counts runs) per region and UTC month of the scheduled time. */
export function costSums(runs: FoundRun[]): CostSum[] {
  const sums = new Map<string, CostSum>();
  for (const run of runs) {
    const month = (run.record.scheduledTime ?? run.record.startedAt ?? "").slice(0, 7) || "?";
    const key = `${run.region} ${month}`;
    const sum = sums.get(key) ?? {
      region: run.region,
      month,
      runs: 0,
      succeeded: 0,
      failed: 0,
      estimatedCostUsd: 0,
      unpriced: 0,
    };
    sum.runs++;
    if (run.record.status === "succeeded") sum.succeeded++;
    else sum.failed++;
    if (run.costUsd === undefined) sum.unpriced++;
    else sum.estimatedCostUsd = Math.round((sum.estimatedCostUsd + run.costUsd) * 1e6) / 1e6;
    sums.set(key, sum);
  }
  return [...sums.values()].sort((a, b) =>
    a.month === b.month ? a.region.localeCompare(b.region) : b.month.localeCompare(a.month),
  );
}

function costText(run: FoundRun): string {
  if (run.costUsd === undefined) return "n/a";
  return `${run.costEstimatedHere ? "~" : ""}${formatUsd(run.costUsd)}`;
}

function scheduledText(run: FoundRun): string {
  const time = run.record.scheduledTime ?? parseRunId(run.record.runId).time.toISOString();
  return time.replace(/:\d{2}(\.\d{3})?Z$/, "").replace("T", " ");
}

/** The `memory` and `cpu` lines of `show` for a run's utilization. */
export function utilizationRows(u: RunUtilization): Array<[string, string]> {
  const share = (percent: number | null) => (percent === null ? "" : ` (${percent}%)`);
  const of = u.instanceMemoryBytes === null ? "" : ` of ${formatBytes(u.instanceMemoryBytes)}`;
  const memory =
    u.peakMemoryBytes === null || u.meanMemoryBytes === null
      ? "not sampled"
      : `peak ${formatBytes(u.peakMemoryBytes)}${share(u.peakMemoryPercent)}, mean ${formatBytes(u.meanMemoryBytes)}${share(u.meanMemoryPercent)}${of}`;
  const oom =
    u.oomKilled === true
      ? "; OOM-killed"
      : u.oomKilled === false
        ? "; not OOM-killed"
        : "; OOM kill not known";
  const vcpus = u.instanceVcpus === null ? "the vCPUs" : `${u.instanceVcpus} vCPUs`;
  const cpu =
    u.meanCpuPercent === null || u.p95CpuPercent === null
      ? "not sampled"
      : `mean ${u.meanCpuPercent}%, p95 ${u.p95CpuPercent}% of ${vcpus}`;
  return [
    ["memory", `${memory}${oom}`],
    ["cpu", `${cpu}; ${u.samples} sample(s), one every ${u.intervalSeconds} s or so`],
  ];
}

/**
 * Right-size advice per region for `job`'s runs (newest first): one line each. An AWS error
 * (e.g. a missing `pricing:GetProducts` permission) becomes the region's line, not a failure:
 * the list is still worth having.
 */
async function adviceByRegion(
  deps: CliDeps,
  job: string,
  runs: FoundRun[],
): Promise<Array<{ region: string; advice?: Advice; error?: string }>> {
  const regions = [...new Set(runs.map((r) => r.region))].sort();
  return Promise.all(
    regions.map(async (region) => {
      try {
        const mine = runs.filter((r) => r.region === region && r.record.job === job);
        return {
          region,
          advice: await adviseFromAws(deps.ec2(region), deps.pricing(), region, mine),
        };
      } catch (error) {
        const { name, message } = error as Error;
        return { region, error: `no advice: ${name}: ${message}` };
      }
    }),
  );
}

/** Lists the runs; returns the exit status. */
async function listRuns(
  deps: CliDeps,
  outputs: StackOutputs,
  flags: Record<string, unknown>,
): Promise<number> {
  const regions = selectRegions(outputs, flags.region as string | undefined);
  const job = flags.job as string | undefined;
  const month = flags.month as string | undefined;
  const last =
    (flags.last as number | undefined) ?? (month ? Number.MAX_SAFE_INTEGER : DEFAULT_LAST);
  const sources = regions.flatMap(([region, out]) =>
    Object.keys(out.jobs)
      .filter((name) => job === undefined || name === job)
      .map((name) => ({ region, bucket: out.bucketName, job: name })),
  );
  if (job !== undefined && sources.length === 0) {
    const known = [...new Set(regions.flatMap(([, out]) => Object.keys(out.jobs)))].join(", ");
    throw new UsageError(`--job: "${job}" is not a job of the selected regions (${known})`);
  }

  const listed = (
    await mapLimited(sources, 4, async (source) =>
      (await listRunIds(deps.s3(source.region), source.bucket, source.job)).map((runId) => ({
        ...source,
        runId,
        time: parseRunId(runId).time,
      })),
    )
  )
    .flat()
    .filter((r) => month === undefined || r.time.toISOString().startsWith(month))
    .sort((a, b) => b.time.getTime() - a.time.getTime() || a.region.localeCompare(b.region))
    .slice(0, last);
  const runs = (
    await mapLimited(listed, 8, (r) => readRecord(deps.s3(r.region), r.region, r.bucket, r.runId))
  ).filter((r): r is FoundRun => r !== undefined);
  const sums = costSums(runs);
  const advice = job !== undefined && runs.length > 0 ? await adviceByRegion(deps, job, runs) : [];

  if (flags.json) {
    deps.io.out(
      JSON.stringify(
        {
          stack: outputs.stack ?? null,
          runs: runs.map((r) => ({
            region: r.region,
            record: `s3://${r.bucket}/${r.key}`,
            durationSeconds: r.durationSeconds ?? null,
            estimatedCostUsd: r.costUsd ?? null,
            costEstimatedByCli: r.costEstimatedHere,
            ...r.record,
          })),
          costs: sums,
          ...(job !== undefined ? { advice } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }

  const scope = `stack ${outputs.stack ?? "(selected)"}, ${regions.length === 1 ? "region" : "regions"} ${regions.map(([r]) => r).join(", ")}${job ? `, job ${job}` : ""}${month ? `, ${month}` : ""}`;
  if (runs.length === 0) {
    const jobs = [...new Set(sources.map((s) => s.job))];
    deps.io.out(
      `No runs recorded (${scope}). A run writes its record when it ends; start one with:\n  npm run launch -- ${stackFlag(outputs)}--job ${jobs[0] ?? "<job>"}`,
    );
    return 0;
  }
  deps.io.out(`Runs of ${scope}: ${runs.length} shown, newest first`);
  deps.io.out(
    formatTable(
      ["RUN ID", "REGION", "SCHEDULED (UTC)", "STATUS", "TYPE", "MARKET", "DURATION", "EST. COST"],
      runs.map((r) => [
        r.record.runId,
        r.region,
        scheduledText(r),
        r.record.status,
        r.record.instanceType ?? "-",
        r.record.purchaseOption ?? "-",
        formatDuration(r.durationSeconds),
        costText(r),
      ]),
      [6, 7],
    ),
  );
  deps.io.out("");
  deps.io.out("Estimated cost per region and month (the runs above):");
  deps.io.out(
    formatTable(
      ["MONTH", "REGION", "RUNS", "SUCCEEDED", "OTHER", "EST. COST"],
      sums.map((s) => [
        s.month,
        s.region,
        String(s.runs),
        String(s.succeeded),
        String(s.failed),
        `${formatUsd(s.estimatedCostUsd)}${s.unpriced ? ` (+${s.unpriced} unpriced)` : ""}`,
      ]),
      [2, 3, 4, 5],
    ),
  );
  if (runs.some((r) => r.costEstimatedHere)) {
    deps.io.out("~ estimated here from the record's times and the prices it carries.");
  }
  deps.io.out(
    "Between runs nothing runs: the idle cost is storage only (results, run records, images, logs).",
  );
  for (const { region, advice: found, error } of advice) {
    deps.io.out("");
    deps.io.out(`Right-size advice for job ${job} in ${region}: ${found?.text ?? error}`);
  }
  return 0;
}

/** Finds a run's record in the stack's buckets. */
export async function findRun(
  deps: CliDeps,
  outputs: StackOutputs,
  runId: string,
  region: string | undefined,
): Promise<FoundRun> {
  const { job } = parseRunId(runId);
  const regions = selectRegions(outputs, region).filter(([, out]) => job in out.jobs);
  if (regions.length === 0) {
    throw new CliError(
      `no region of stack ${outputs.stack ?? "(selected)"} runs job "${job}" (the job of run ${runId})`,
    );
  }
  const found = (
    await Promise.all(
      regions.map(([name, out]) => readRecord(deps.s3(name), name, out.bucketName, runId)),
    )
  ).filter((r): r is FoundRun => r !== undefined);
  if (found.length === 0) {
    throw new CliError(
      `no run record for ${runId} in ${regions.map(([name, out]) => `s3://${out.bucketName} (${name})`).join(", ")}; a run writes it when it ends: if it is still running, follow it with npm run logs -- ${stackFlag(outputs)}${runId}`,
    );
  }
  return found[0];
}

async function showRun(
  deps: CliDeps,
  outputs: StackOutputs,
  runId: string,
  flags: Record<string, unknown>,
): Promise<number> {
  const run = await findRun(deps, outputs, runId, flags.region as string | undefined);
  const { record } = run;
  const logGroup = record.logGroup ?? outputs.regions[run.region].jobs[record.job]?.logGroupName;
  const logStream = record.logStream ?? record.runId;
  if (flags.json) {
    deps.io.out(
      JSON.stringify(
        {
          region: run.region,
          record: `s3://${run.bucket}/${run.key}`,
          durationSeconds: run.durationSeconds ?? null,
          estimatedCostUsd: run.costUsd ?? null,
          costEstimatedByCli: run.costEstimatedHere,
          logs: logGroup
            ? { logGroup, logStream, url: logsConsoleUrl(run.region, logGroup, logStream) }
            : null,
          ...record,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const status = [
    record.status,
    record.phase ? `phase ${record.phase}` : "",
    record.exitCode !== undefined && record.exitCode !== null ? `exit code ${record.exitCode}` : "",
  ].filter(Boolean);
  const instance = [
    record.instanceId,
    record.instanceType,
    record.purchaseOption,
    record.availabilityZone ? `in ${record.availabilityZone}` : "",
  ].filter(Boolean);
  const rows: Array<[string, string]> = [
    ["status", status.length > 1 ? `${status[0]} (${status.slice(1).join(", ")})` : status[0]],
    ["message", record.message ?? "-"],
    ["scheduled", record.scheduledTime ?? "-"],
    ["started", record.startedAt ?? "-"],
    ["ended", record.endedAt ?? "-"],
    ["duration", formatDuration(run.durationSeconds)],
    ["instance", instance.length ? instance.join(" ") : "-"],
    ["estimated cost", costText(run)],
    [
      "image",
      record.imageDigest ? `${record.imageUri} (${record.imageDigest})` : (record.imageUri ?? "-"),
    ],
    ...(record.summary ? ([["result", record.summary]] as Array<[string, string]>) : []),
    ...(record.utilization ? utilizationRows(record.utilization) : []),
    ...(record.deadline ? ([["deadline", record.deadline]] as Array<[string, string]>) : []),
    ["record", `s3://${run.bucket}/${run.key}`],
    [
      "logs",
      logGroup
        ? `group ${logGroup}, stream ${logStream}\nnpm run logs -- ${stackFlag(outputs)}${record.runId}\n${logsConsoleUrl(run.region, logGroup, logStream)}`
        : "-",
    ],
  ];
  deps.io.out(
    `Run ${record.runId} (job ${record.job}, stack ${outputs.stack ?? record.environment ?? "(selected)"}, region ${run.region})`,
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) {
    const [first, ...more] = value.split("\n");
    deps.io.out(`  ${key.padEnd(width)}  ${first}`);
    for (const line of more) deps.io.out(`  ${"".padEnd(width)}  ${line}`);
  }
  return 0;
}

/** `npm run runs`. */
export const main: Main = async (argv, deps) => {
  const args = parseArgs(argv, RUNS_SPEC);
  if (args.help) {
    deps.io.out(formatHelp(RUNS_SPEC));
    return 0;
  }
  const [command, runId] = args.positionals;
  if (command !== undefined && command !== "show") {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(command)}: the only command is "show <run-id>"; see npm run runs -- --help`,
    );
  }
  if (command === "show") {
    if (runId === undefined)
      throw new UsageError("show needs a <run-id>, e.g. show pi-20261123T0600Z");
    parseRunId(runId);
    for (const flag of ["job", "last", "month"]) {
      if (args.flags[flag] !== undefined) throw new UsageError(`--${flag} does not apply to show`);
    }
  }
  const outputs = await readStackOutputs(args.flags.stack as string | undefined, deps.pulumi);
  return command === "show"
    ? showRun(deps, outputs, runId!, args.flags)
    : listRuns(deps, outputs, args.flags);
};

if (require.main === module) runAsProcess(main);
