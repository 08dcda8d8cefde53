/**
 * `npm run launch -- --stack dev [--region eu-west-1] --job pi [--at <time>] [--json]` starts a
 * run now by invoking the deployed launcher with the event a schedule sends (plus
 * `manual: true`), so the same run ids, idempotency and concurrency policy apply.
 */
import { runIdFor } from "../launcher/runId";
import { CliError, CommandSpec, COMMON_FLAGS, formatHelp, parseArgs, UsageError } from "./args";
import { Main, runAsProcess } from "./io";
import { lambdaSdk } from "./sdk";
import { readStackOutputs, selectRegions, stackFlag } from "./stackOutputs";

export const LAUNCH_SPEC: CommandSpec = {
  usage: "npm run launch --",
  summary:
    "Start a run of one job now, through the deployed launcher (same path as the schedule: run ids, idempotency and the concurrency policy apply).",
  positionals: [],
  flags: [
    COMMON_FLAGS.stack,
    {
      ...COMMON_FLAGS.region,
      description: "region to run in; required when the job runs in several",
    },
    {
      name: "job",
      type: "string",
      placeholder: "<job>",
      description: "the job to run (required)",
      pattern: {
        regex: /^[a-z0-9][a-z0-9-]{0,62}$/,
        rule: "a job name (lower-case letters, digits, -)",
      },
    },
    {
      name: "at",
      type: "string",
      placeholder: "<iso-time>",
      description:
        "the scheduled time to claim, e.g. to re-run a missed run; default now (to the minute)",
      pattern: {
        regex: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$/,
        rule: "an ISO-8601 UTC time such as 2026-11-23T06:00:00Z",
      },
    },
    COMMON_FLAGS.json,
  ],
  notes: [
    "examples:",
    "  npm run launch -- --stack dev --job pi",
    "  npm run launch -- --stack prod --region us-east-1 --job nightly-pi --at 2026-11-23T01:30:00Z",
    "",
    "A launch in the same minute as another run of the job is that run (same run id).",
    "exit status: 0 launched (or already running), 3 skipped by the concurrency policy or",
    "             already run (that minute's run has ended),",
    "             1 not launched (AWS error, no capacity), 2 bad command line",
  ],
};

/** Exit status of a run skipped by the concurrency policy, or one that has already run. */
export const EXIT_SKIPPED = 3;

interface LauncherResult {
  status: "launched" | "skipped" | "failed" | "ended";
  runId: string;
  job: string;
  region: string;
  scheduledTime: string;
  instanceId?: string;
  instanceType?: string;
  purchaseOption?: string;
  availabilityZone?: string;
  deadline?: string;
  existing?: boolean;
  attempts?: unknown[];
  replacedInstanceIds?: string[];
  reason?: string;
  warnings?: string[];
}

/** `npm run launch`. */
export const main: Main = async (argv, deps) => {
  const args = parseArgs(argv, LAUNCH_SPEC);
  if (args.help) {
    deps.io.out(formatHelp(LAUNCH_SPEC));
    return 0;
  }
  const job = args.flags.job as string | undefined;
  if (!job) throw new UsageError("--job is required, e.g. --job pi; see npm run launch -- --help");
  const outputs = await readStackOutputs(args.flags.stack as string | undefined, deps.pulumi);
  const regions = selectRegions(outputs, args.flags.region as string | undefined).filter(
    ([, out]) => job in out.jobs,
  );
  if (regions.length === 0) {
    const known = [...new Set(Object.values(outputs.regions).flatMap((r) => Object.keys(r.jobs)))];
    throw new UsageError(
      `--job: "${job}" is not deployed in ${args.flags.region ? `region ${args.flags.region} of ` : ""}stack ${outputs.stack ?? "(selected)"} (jobs: ${known.join(", ")})`,
    );
  }
  if (regions.length > 1) {
    throw new UsageError(
      `--region is required: job ${job} runs in ${regions.map(([r]) => r).join(", ")}`,
    );
  }
  const [region, out] = regions[0];
  const at = args.flags.at ? new Date(args.flags.at as string) : deps.now();
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`--at: "${args.flags.at}" is not a valid time`);
  at.setUTCSeconds(0, 0);
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  // The deadline counts from the request, so `--at` re-runs an old run with its full runtime.
  const event = { job, scheduledTime: iso(at), manual: true, requestedTime: iso(deps.now()) };
  if (!args.flags.json) {
    deps.io.err(
      `Invoking ${out.launcherFunctionName} in ${region} for run ${runIdFor(job, at)}${out.enabled === false ? " (the region's schedules are disabled; a manual launch still runs)" : ""}...`,
    );
  }

  const response = await deps.lambda(region).send(
    new (lambdaSdk().InvokeCommand)({
      FunctionName: out.launcherFunctionName,
      InvocationType: "RequestResponse",
      Payload: Buffer.from(JSON.stringify(event)),
    }),
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
  let payload: Record<string, unknown> = {};
  try {
    payload = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new CliError(
      `the launcher answered with something other than JSON: ${text.slice(0, 200)}`,
    );
  }
  if (response.FunctionError) {
    const type = String(payload.errorType ?? response.FunctionError);
    const message = String(payload.errorMessage ?? text);
    if (args.flags.json) {
      deps.io.out(
        JSON.stringify(
          { status: "error", region, errorType: type, errorMessage: message },
          null,
          2,
        ),
      );
      return 1;
    }
    throw new CliError(
      `the launcher did not launch ${runIdFor(job, at)}: ${type}: ${message}\n  details: the launcher's log group in ${region}; npm run runs -- ${stackFlag(outputs)}--region ${region} --job ${job}`,
    );
  }
  const result = payload as unknown as LauncherResult;
  if (args.flags.json) {
    deps.io.out(JSON.stringify({ ...result, region }, null, 2));
    return result.status === "skipped" || result.status === "ended"
      ? EXIT_SKIPPED
      : result.status === "launched"
        ? 0
        : 1;
  }
  const stack = stackFlag(outputs);
  if (result.status === "skipped") {
    deps.io.out(`Skipped ${result.runId}: ${result.reason}`);
    deps.io.out(`The running one: npm run runs -- ${stack}--region ${region} --job ${job}`);
    return EXIT_SKIPPED;
  }
  if (result.status === "ended") {
    // The minute names the run: a run that already happened is not launched twice.
    deps.io.out(`Not launched: ${result.reason}.`);
    deps.io.out(`Its record:  npm run runs -- ${stack}show ${result.runId}`);
    deps.io.out(`To run again, pick another minute with --at, or leave --at out to launch now.`);
    return EXIT_SKIPPED;
  }
  if (result.status !== "launched") {
    throw new CliError(`unexpected launcher answer: ${text.slice(0, 300)}`);
  }
  const attempts = result.attempts?.length ?? 0;
  deps.io.out(
    result.existing
      ? `Run ${result.runId} was already launched (a launch in the same minute is the same run):`
      : `Launched ${result.runId} (job ${job}, stack ${outputs.stack ?? "(selected)"}, region ${region})`,
  );
  deps.io.out(
    `  instance   ${result.instanceId} ${result.instanceType} ${result.purchaseOption} in ${result.availabilityZone}${result.existing ? "" : ` (${attempts} attempt${attempts === 1 ? "" : "s"})`}`,
  );
  deps.io.out(`  deadline   ${result.deadline}`);
  if (result.replacedInstanceIds?.length) {
    deps.io.out(`  replaced   ${result.replacedInstanceIds.join(", ")}`);
  }
  for (const warning of result.warnings ?? []) deps.io.out(`  warning    ${warning}`);
  deps.io.out(`Follow it:   npm run logs -- ${stack}${result.runId}`);
  deps.io.out(
    `Its record:  npm run runs -- ${stack}show ${result.runId}   (written when the run ends)`,
  );
  return 0;
};

if (require.main === module) runAsProcess(main);
