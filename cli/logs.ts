/**
 * `npm run logs -- <run-id> [--stack dev] [--region …] [--no-follow] [--interval 5] [--json]`
 * prints a run's container log (the `awslogs` stream named after the run id, in its job's log
 * group) and, by default, follows it until the run's record says it ended.
 */
import { CliError, CommandSpec, COMMON_FLAGS, formatHelp, parseArgs } from "./args";
import { CliDeps, Main, runAsProcess } from "./io";
import { FoundRun, parseRunId, readRecord } from "./runRecords";
import { logsSdk } from "./sdk";
import { readStackOutputs, selectRegions, stackFlag, StackOutputs } from "./stackOutputs";

export const LOGS_SPEC: CommandSpec = {
  usage: "npm run logs --",
  summary: "Print a run's job log (its CloudWatch Logs stream) and follow it until the run ends.",
  positionals: ["run-id"],
  flags: [
    COMMON_FLAGS.stack,
    COMMON_FLAGS.region,
    {
      name: "follow",
      type: "boolean",
      description:
        "keep printing new lines until the run's record appears (--no-follow: print and exit)",
      default: true,
    },
    {
      name: "interval",
      type: "integer",
      placeholder: "<seconds>",
      description: "seconds between polls while following",
      min: 1,
      max: 300,
      default: 5,
    },
    COMMON_FLAGS.json,
  ],
  notes: [
    "examples:",
    "  npm run logs -- --stack dev pi-20261123T0600Z",
    "  npm run logs -- --stack prod --region us-east-1 --no-follow hourly-pi-20261123T1200Z",
    "",
    "The stream appears when the container starts (a minute or two after the launch).",
    "exit status: 0 run succeeded (or still running with --no-follow), 1 run failed or error,",
    "             2 bad command line",
  ],
};

interface Stream {
  region: string;
  logGroup: string;
}

async function streamExists(deps: CliDeps, region: string, logGroup: string, runId: string) {
  const page = await deps.logs(region).send(
    new (logsSdk().DescribeLogStreamsCommand)({
      logGroupName: logGroup,
      logStreamNamePrefix: runId,
      limit: 5,
    }),
  );
  return (page.logStreams ?? []).some((s) => s.logStreamName === runId);
}

/** Prints every event after `token`; returns the token to continue from. */
async function drain(
  deps: CliDeps,
  stream: Stream,
  runId: string,
  token: string | undefined,
  json: boolean,
): Promise<string | undefined> {
  for (;;) {
    const page = await deps.logs(stream.region).send(
      new (logsSdk().GetLogEventsCommand)({
        logGroupName: stream.logGroup,
        logStreamName: runId,
        startFromHead: true,
        ...(token ? { nextToken: token } : {}),
      }),
    );
    const events = page.events ?? [];
    for (const event of events) {
      const time = new Date(event.timestamp ?? 0).toISOString().replace(/\.\d{3}Z$/, "Z");
      const message = (event.message ?? "").replace(/\n$/, "");
      deps.io.out(json ? JSON.stringify({ timestamp: time, message }) : `${time}  ${message}`);
    }
    const next = page.nextForwardToken;
    if (events.length === 0 || next === undefined || next === token) return next ?? token;
    token = next;
  }
}

function outcome(deps: CliDeps, run: FoundRun, json: boolean): number {
  const { record } = run;
  if (json) {
    deps.io.out(
      JSON.stringify({
        runId: record.runId,
        status: record.status,
        phase: record.phase,
        message: record.message,
      }),
    );
  } else {
    deps.io.err(
      `run ${record.runId} ${record.status}${record.status === "succeeded" ? "" : ` during ${record.phase ?? "?"}`}: ${record.message ?? ""}`,
    );
  }
  return record.status === "succeeded" ? 0 : 1;
}

async function recordOf(deps: CliDeps, outputs: StackOutputs, region: string, runId: string) {
  return readRecord(deps.s3(region), region, outputs.regions[region].bucketName, runId);
}

/** `npm run logs`. */
export const main: Main = async (argv, deps) => {
  const args = parseArgs(argv, LOGS_SPEC);
  if (args.help) {
    deps.io.out(formatHelp(LOGS_SPEC));
    return 0;
  }
  const [runId] = args.positionals;
  const { job } = parseRunId(runId);
  const json = args.flags.json === true;
  const follow = args.flags.follow !== false;
  const intervalMs = (args.flags.interval as number) * 1000;
  const outputs = await readStackOutputs(args.flags.stack as string | undefined, deps.pulumi);
  const candidates: Stream[] = selectRegions(outputs, args.flags.region as string | undefined)
    .filter(([, out]) => job in out.jobs)
    .map(([region, out]) => ({ region, logGroup: out.jobs[job].logGroupName }));
  if (candidates.length === 0) {
    throw new CliError(
      `no region of stack ${outputs.stack ?? "(selected)"}${args.flags.region ? ` in ${args.flags.region}` : ""} runs job "${job}" (the job of run ${runId})`,
    );
  }

  let stream: Stream | undefined;
  let waiting = false;
  for (;;) {
    for (const candidate of candidates) {
      if (await streamExists(deps, candidate.region, candidate.logGroup, runId)) {
        stream = candidate;
        break;
      }
    }
    if (stream) break;
    // No stream: the run may have ended before its container started (e.g. the pull failed).
    for (const candidate of candidates) {
      const run = await recordOf(deps, outputs, candidate.region, runId);
      if (run) {
        deps.io.err(`run ${runId} wrote no log: it ended before its container started.`);
        return outcome(deps, run, json);
      }
    }
    const where = candidates.map((c) => `${c.logGroup} (${c.region})`).join(", ");
    if (!follow) {
      throw new CliError(
        `no log stream ${runId} in ${where} yet, and no run record: the run has not started its container (or was never launched; see npm run runs -- ${stackFlag(outputs)}--job ${job})`,
      );
    }
    if (!waiting) {
      deps.io.err(`waiting for log stream ${runId} in ${where}...`);
      waiting = true;
    }
    await deps.sleep(intervalMs);
  }

  if (!json) deps.io.err(`${stream.logGroup} (${stream.region}), stream ${runId}:`);
  let token = await drain(deps, stream, runId, undefined, json);
  for (;;) {
    const run = await recordOf(deps, outputs, stream.region, runId);
    if (run) {
      // The record is written after the container exits: its last lines are already there.
      await drain(deps, stream, runId, token, json);
      return outcome(deps, run, json);
    }
    if (!follow) return 0;
    await deps.sleep(intervalMs);
    token = await drain(deps, stream, runId, token, json);
  }
};

if (require.main === module) runAsProcess(main);
