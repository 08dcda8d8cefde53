/**
 * What `npm run plan` prints: the program evaluated offline under Pulumi's mocks, and per region
 * and job the resources `pulumi up` would create and the next 3 runs.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { configWarnings, JobConfig, readStackConfig, StackConfig } from "../config";
import { METRICS } from "../launcher/telemetry";
import { jobAlarmKeys } from "../lib/resourceNames";
import {
  describeGpus,
  instanceStoreGB,
  instanceTypeFacts,
  jobHardware,
  type InstanceTypeFacts,
} from "../components/instanceTypeFacts";
import {
  dstWarningsForYear,
  formatDstWarning,
  nextRunTimes,
  parseScheduleExpression,
} from "../lib/scheduleExpression";
import {
  callResult,
  evaluateProgram,
  Evaluation,
  loadConfigFile,
  loadStackConfig,
  RecordedResource,
} from "./engine";
import { HELP, parsePlanArgs, type PlanOptions } from "./planArgs";

/** Formats `date` as wall-clock time in `timezone`, e.g. `2026-11-24 06:00 GMT`. */
export function formatInZone(date: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${get("timeZoneName")}`;
}

/** The ancestors of a resource, nearest first. */
function ancestors(
  resource: RecordedResource,
  byUrn: Map<string, RecordedResource>,
): RecordedResource[] {
  const chain: RecordedResource[] = [];
  for (
    let parent = resource.parent && byUrn.get(resource.parent);
    parent;
    parent = parent.parent && byUrn.get(parent.parent)
  ) {
    chain.push(parent);
  }
  return chain;
}

/**
 * What a metric-math alarm watches, in one line: `<expression> > 90, peak = RunPeakMemoryPercent
 * (Maximum, 300 s), …`; undefined for an alarm on one metric (its name says enough).
 */
export function mathAlarmText(alarm: RecordedResource): string | undefined {
  const queries = alarm.inputs.metricQueries as
    | Array<{
        id: string;
        expression?: string;
        returnData?: boolean;
        metric?: { metricName: string; stat: string; period: number };
      }>
    | undefined;
  const watched = queries?.find((q) => q.returnData !== false && q.expression);
  if (!queries || !watched) return undefined;
  const operators: Record<string, string> = {
    GreaterThanThreshold: ">",
    GreaterThanOrEqualToThreshold: ">=",
    LessThanThreshold: "<",
    LessThanOrEqualToThreshold: "<=",
  };
  const metrics = queries
    .filter((q) => q.metric)
    .map((q) => `${q.id} = ${q.metric!.metricName} (${q.metric!.stat}, ${q.metric!.period} s)`);
  const operator = operators[String(alarm.inputs.comparisonOperator)] ?? "?";
  return `${watched.expression} ${operator} ${String(alarm.inputs.threshold)}; ${metrics.join(", ")}`;
}

/** What EC2 says of an instance type in a region: the offline engine's answer by default. */
export type InstanceTypeLookup = (instanceType: string, region: string) => InstanceTypeFacts;

const engineInstanceType: InstanceTypeLookup = (instanceType, region) =>
  instanceTypeFacts(
    callResult("aws:ec2/getInstanceType:getInstanceType", { instanceType }, region),
  );

/** The lines a job's real-job keys add to the plan: its image, secrets, permissions, hardware. */
export function jobDetails(job: JobConfig, region: string, lookUp: InstanceTypeLookup): string[] {
  const lines = [
    job.imageUri === undefined
      ? `image: built from ${job.image}`
      : `image: ${job.imageUri} (built elsewhere: no repository, no build)`,
  ];
  const secrets = Object.keys(job.secrets).sort();
  if (secrets.length > 0) {
    lines.push(
      `secrets (read on the instance): ${secrets.map((n) => `${n} from ${job.secrets[n]}`).join(", ")}`,
    );
  }
  for (const arn of job.policies.managed) lines.push(`own permissions: managed policy ${arn}`);
  for (const statement of job.policies.statements) {
    const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]).join(", ");
    lines.push(
      `own permissions: ${statement.Effect} ${list(statement.Action)} on ${list(statement.Resource)}`,
    );
  }
  const facts = Object.fromEntries(job.instanceTypes.map((t) => [t, lookUp(t, region)]));
  const hardware = jobHardware(job.instanceTypes, job.architecture, facts, "instanceTypes");
  if (typeof hardware === "string") return [...lines, `hardware: ${hardware}`];
  if (hardware.gpu) {
    lines.push(
      `GPUs: ${job.instanceTypes.map((t) => describeGpus(t, facts[t])).join(", ")}; ECS GPU AMI, docker run --gpus all`,
    );
  }
  const stores = job.instanceTypes.filter((t) => instanceStoreGB(facts[t]) > 0);
  lines.push(
    stores.length > 0
      ? `scratch (SCRATCH_DIR): NVMe instance store, ${stores.map((t) => `${t} ${instanceStoreGB(facts[t])} GB`).join(", ")}`
      : `scratch (SCRATCH_DIR): a folder on the ${job.volumeGiB} GiB root volume`,
  );
  return lines;
}

/** Renders the plan text for a config and the resources its evaluation recorded. */
export function renderPlan(
  config: StackConfig,
  resources: RecordedResource[],
  now: Date,
  lookUp: InstanceTypeLookup = engineInstanceType,
): string {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const lines: string[] = [];
  const line = (indent: number, text: string) => lines.push(`${" ".repeat(indent)}${text}`);
  const show = (r: RecordedResource) => `+ ${r.type.padEnd(52)} ${r.name}`;
  // Custom resources and remote components (e.g. awsx:ecr:Image) are what the engine creates;
  // the stack itself is Pulumi's bookkeeping, not something `pulumi up` creates in AWS.
  const custom = resources
    .filter(
      (r) =>
        r.type !== "pulumi:pulumi:Stack" && (r.custom || !r.type.startsWith("transient-jobs:")),
    )
    .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  line(
    0,
    `Stack ${config.environment}: ${config.regions.length} region(s), ${config.jobs.length} job(s), ${custom.length} resources to create (offline plan; nothing is deployed)`,
  );
  const listed = new Set<RecordedResource>();
  for (const region of config.regions) {
    const stackComponent = resources.find(
      (r) => r.type === "transient-jobs:index:RegionalJobStack" && r.name.endsWith(region.name),
    );
    const inRegion = custom.filter(
      (r) => stackComponent && ancestors(r, byUrn).includes(stackComponent),
    );
    lines.push("");
    line(
      0,
      `Region ${region.name} (${region.enabled ? "enabled" : "disabled: schedules paused"}) — ${inRegion.length} resources`,
    );
    const jobComponents = resources.filter(
      (r) => r.type === "transient-jobs:index:ScheduledJob" && r.parent === stackComponent?.urn,
    );
    const shared = inRegion.filter(
      (r) => !ancestors(r, byUrn).some((a) => jobComponents.includes(a)),
    );
    line(2, "shared:");
    shared.forEach((r) => line(4, show(r)));
    inRegion.forEach((r) => listed.add(r));
    for (const component of jobComponents) {
      const job = config.jobs.find((j) => component.name === `${stackComponent!.name}-${j.name}`);
      if (!job) continue;
      const resourcesOfJob = inRegion.filter((r) => ancestors(r, byUrn).includes(component));
      // What Scheduler will be given, after the region's offset, not the configured text.
      const expression = String(
        resourcesOfJob.find((r) => r.type === "aws:scheduler/schedule:Schedule")?.inputs
          .scheduleExpression ?? job.schedule,
      );
      const schedule = parseScheduleExpression(expression);
      const runs = nextRunTimes(schedule, job.timezone, now, 3).map((d) =>
        formatInZone(d, job.timezone),
      );
      line(
        2,
        `job ${job.name}: ${expression} in ${job.timezone}; instance types ${job.instanceTypes.join(", ")}`,
      );
      line(4, `next runs: ${runs.join(" | ")}`);
      // The next three runs do not show a run that a DST transition drops months from now.
      for (const warning of dstWarningsForYear(schedule, job.timezone, now)) {
        line(4, `warning: ${formatDstWarning(job.name, expression, job.timezone, warning)}`);
      }
      jobDetails(job, region.name, lookUp).forEach((detail) => line(4, detail));
      resourcesOfJob.forEach((r) => line(4, show(r)));
      // The job's alarms belong to the region's RegionalAlarms; those on metric math say what
      // they compute, with the metrics the runs publish.
      const { memory, interruptions } = jobAlarmKeys(job.name);
      for (const key of [memory, interruptions]) {
        for (const alarm of inRegion.filter(
          (r) =>
            r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" &&
            r.name.endsWith(`-alarms-${key}`),
        )) {
          line(4, `alarm ${alarm.name}: ${mathAlarmText(alarm) ?? "one metric"}`);
        }
      }
      line(
        4,
        `metrics per run: ${[METRICS.duration, METRICS.cost, METRICS.peakMemoryPercent, METRICS.meanCpuPercent, METRICS.oomKilled].join(", ")} (on the dashboard)`,
      );
      line(
        4,
        `metrics per attempt: ${[METRICS.startLatencySeconds, METRICS.overheadSeconds, METRICS.interrupted, METRICS.lost, METRICS.retried].join(", ")} (on the dashboard)`,
      );
    }
  }
  // Whatever belongs to no region (the environment's dashboard) is listed too, so the count in
  // the first line is the number of resources shown.
  const global = custom.filter((r) => !listed.has(r));
  lines.push("");
  line(0, `Global (not per region) — ${global.length} resources`);
  global.forEach((r) => line(2, show(r)));
  return lines.join("\n");
}

/** Evaluates a program for its plan; tests pass one that reuses their evaluations. */
export type PlanEvaluator = (stack: string, config: Record<string, string>) => Promise<Evaluation>;

/** What `npm run plan -- <argv>` prints: the help or the plan. */
export async function planOutput(
  argv: string[],
  evaluate: PlanEvaluator = evaluateProgram,
): Promise<string> {
  const options = parsePlanArgs(argv);
  return options === "help" ? HELP : planFor(options, evaluate);
}

/** The plan of a parsed command line. */
export async function planFor(
  options: PlanOptions,
  evaluate: PlanEvaluator = evaluateProgram,
): Promise<string> {
  const rawConfig = options.configFile
    ? loadConfigFile(path.resolve(options.configFile))
    : loadStackConfig(options.stack);
  const config = readStackConfig(rawConfig, options.stack);
  // What the program warns about besides DST (shown per job): e.g. a price the Price List lacks.
  const warnings: string[] = [];
  const log = pulumi.log as { warn: typeof pulumi.log.warn };
  const warn = log.warn;
  log.warn = async (message) => void warnings.push(message);
  let resources: RecordedResource[];
  try {
    ({ resources } = await evaluate(options.stack, rawConfig));
  } finally {
    log.warn = warn;
  }
  const plan = renderPlan(config, resources, options.now);
  // Config's own warnings come from the config itself, so a reused evaluation shows them too.
  const other = [
    ...new Set([
      ...configWarnings(config),
      ...warnings.filter((w) => !/clocks go forward|occurs twice/.test(w)),
    ]),
  ];
  return other.length > 0
    ? [plan, "", "Warnings:", ...other.map((w) => `  ${w}`)].join("\n")
    : plan;
}
