/**
 * The instance init script (user data), rendered per run by the launcher Lambda.
 *
 * The script body is static; only the value block at its top is generated, and every value in it
 * is validated here and single-quoted. The script reaches the outside world only through commands
 * looked up on PATH (`shutdown`, `curl`, `aws`, `docker`, `dnf`, `sleep`, `timeout`, `date`, `tr`,
 * `sed`), which is also how the tests replace them. Signals that arrive while it reports are
 * ignored (`trap ''`), so that the power-off always runs.
 * https://www.gnu.org/software/bash/manual/html_node/Bourne-Shell-Builtins.html#index-trap
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { InvalidLaunchSpecError } from "./errors";
import { INSTANCE_OVERHEAD_SECONDS } from "./prices";
import { logsConsoleUrl, METRIC_NAMESPACE, notificationSubject } from "./telemetry";
import { UTILIZATION_FUNCTIONS } from "./utilization";
import { parseSecretReference, secretRegion } from "../lib/secretReferences";
import {
  JOB_NAME_PATTERN,
  JOB_NAME_RULE,
  MAX_DEADLINE_MINUTES,
  MIN_DEADLINE_MINUTES,
  PARAMETER_NAME_PATTERN,
  RESERVED_PARAMETER_NAMES,
  RUN_RECORDS,
  SCRATCH_DIR,
  STOP_MARGIN_MINUTES,
  UTILIZATION_SAMPLE_SECONDS,
  type JobLaunchSpec,
} from "./contract";

/** What {@link renderInitScript} needs: the job's spec fields plus this run's values. */
export interface InitScriptInput extends Pick<
  JobLaunchSpec,
  | "job"
  | "environment"
  | "region"
  | "imageUri"
  | "bucket"
  | "resultsPrefix"
  | "logGroup"
  | "topicArn"
  | "parameters"
  | "secrets"
  | "gpu"
  | "instanceStore"
> {
  /** Run id (see `runIdFor`): the log stream name and the run record's file name. */
  runId: string;
  /** ISO-8601 scheduled time of the run, copied into the run record. */
  scheduledTime: string;
  /**
   * Minutes from the script's start to the deadline, at least {@link MIN_DEADLINE_MINUTES}. The
   * script stops the job {@link STOP_MARGIN_MINUTES} before it and reports; the backstop
   * `shutdown -h +N` powers the instance off at it.
   */
  deadlineMinutes: number;
  /** How many times `docker pull` is tried. Default 5. */
  pullAttempts?: number;
  /** First wait between retries in seconds; it doubles each retry, up to 60 s. Default 5. */
  retryBaseSeconds?: number;
  /**
   * Estimated price per hour, in micro-dollars, of each `<instance type>/<market>` the run may
   * be launched as (see `hourlyPriceTable`); the script picks its own from IMDS. Default none.
   */
  instancePrices?: Record<string, number>;
  /** Estimated price per hour of the root volume, in micro-dollars. Default unknown. */
  volumeMicroUsdPerHour?: number;
}

/**
 * Where the instance keeps the run's secrets file: a tmpfs, so values are never written to a disk
 * (https://www.freedesktop.org/software/systemd/man/latest/file-hierarchy.html: /run is in memory).
 */
export const RUNTIME_DIR = "/run/transient-jobs";

/** Where the instance mounts its scratch space (instance store or a root-volume folder). */
export const SCRATCH_HOST_DIR = "/var/lib/transient-jobs/scratch";

/**
 * EC2 accepts at most 16 KB of user data before base64 encoding
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html); the limit applies to the
 * compressed script (see {@link encodeUserData}).
 */
export const USER_DATA_MAX_BYTES = 16384;

/**
 * The user data of a run: the script gzip-compressed, which cloud-init recognises and
 * uncompresses before it runs it
 * (https://cloudinit.readthedocs.io/en/latest/explanation/format.html#gzip-compressed-content),
 * so the 16 KB hold about three times as much script. The same script always gives the same
 * bytes (no timestamp in the header), so a retried launch sends the same request.
 */
export function encodeUserData(script: string): Buffer {
  return gzipSync(Buffer.from(script, "utf8"), { level: 9 });
}

/** The script in user data as EC2 returns it (base64), compressed or not. */
export function decodeUserData(base64: string): string {
  const data = Buffer.from(base64, "base64");
  const gzipped = data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
  return (gzipped ? gunzipSync(data) : data).toString("utf8");
}

/**
 * Seconds `docker stop` gives a job between SIGTERM and SIGKILL at the stop time: time for the job
 * to save its last result (Docker's default is 10 s).
 * https://docs.docker.com/reference/cli/docker/container/stop/
 */
export const STOP_GRACE_SECONDS = 60;

/**
 * How late after the deadline tag the backstop may power an instance off: the tag counts from the
 * RunInstances call, the backstop from the script's start, which boot and cloud-init delay (about
 * a minute on Amazon Linux 2023), and the power-off itself takes a minute or so. It must stay
 * under the reaper's grace (`DEFAULT_GRACE_MINUTES`, launcher/reaper.ts) so that the reaper only
 * terminates instances whose backstop failed. The backstop cannot count from the tag itself:
 * the user data must not depend on the launch time, or a retried RunInstances with the same
 * ClientToken would no longer match.
 */
export const BACKSTOP_LATENESS_MINUTES = 5;

const ECR_REGISTRY = /^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const IMAGE_URI =
  /^([a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d{1,5})?)\/[a-z0-9]+(?:(?:[._]|__|-+|\/)[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;
const PRICE_KEY = /^[a-z][a-z0-9-]*\.[a-z0-9-]+\/(?:spot|on-demand)$/;
/** Largest price the script's 64-bit arithmetic can multiply by a week of seconds. */
const MAX_MICRO_USD_PER_HOUR = 1_000_000_000;

const RULES: Record<string, { pattern: RegExp; rule: string }> = {
  runId: { pattern: /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, rule: "letters, digits and hyphens" },
  job: { pattern: JOB_NAME_PATTERN, rule: JOB_NAME_RULE },
  environment: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    rule: "a Pulumi stack name: letters, digits, '.', '_' and '-'",
  },
  region: { pattern: /^[a-z]{2}(?:-[a-z]+)+-\d+$/, rule: "an AWS region such as eu-west-1" },
  scheduledTime: {
    pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/,
    rule: "an ISO-8601 UTC time such as 2026-11-23T03:00:00Z",
  },
  imageUri: {
    pattern: IMAGE_URI,
    rule: "an image reference <registry-host>/<repository>[:tag][@sha256:digest]",
  },
  bucket: {
    pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    rule: "an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')",
  },
  resultsPrefix: {
    pattern: /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/,
    rule: "S3 key segments of letters, digits, '_', '.' and '-' separated by single '/', without leading or trailing '/'",
  },
  logGroup: {
    pattern: /^[A-Za-z0-9_./#-]{1,512}$/,
    rule: "a CloudWatch Logs group name (letters, digits, '_', '-', '/', '.', '#')",
  },
};

function invalid(field: string, value: unknown, rule: string): InvalidLaunchSpecError {
  return new InvalidLaunchSpecError(
    `initScript.${field}: ${JSON.stringify(value)} is invalid; it must be ${rule}`,
  );
}

function checked(field: keyof typeof RULES & keyof InitScriptInput, value: unknown): string {
  const { pattern, rule } = RULES[field];
  if (typeof value !== "string" || !pattern.test(value)) throw invalid(field, value, rule);
  if (field === "resultsPrefix" && value.split("/").some((s) => s === "." || s === "..")) {
    throw invalid(field, value, `${rule}, and without "." or ".." segments`);
  }
  return value;
}

function checkedInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** Quotes `value` as one bash word: single quotes, with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  if (value.includes("\0")) {
    throw new InvalidLaunchSpecError(
      `shellQuote: a value contains a NUL character, which no shell word can hold`,
    );
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `--env NAME=value` arguments for the job parameters, sorted by name so that the rendered
 * script (and so the launch request and its ClientToken) does not depend on key order.
 */
function parameterArguments(parameters: Record<string, string>): string[] {
  return Object.keys(parameters)
    .sort()
    .map((name) => `  --env ${shellQuote(`${name}=${parameters[name]}`)} \\`);
}

/**
 * `read_secrets`: one call per secret, sorted by name, reading it with the instance role into the
 * run's env file. Only references are rendered: the values exist on the instance alone.
 */
function secretReaders(secrets: Record<string, string> | undefined, region: string): string {
  const calls = Object.keys(secrets ?? {})
    .sort()
    .map((name) => {
      const reference = parseSecretReference(secrets![name]);
      if (typeof reference === "string") {
        throw invalid(`secrets.${name}`, secrets![name], `a secret reference; it ${reference}`);
      }
      const where = shellQuote(secretRegion(reference, region));
      const id = reference.kind === "ssm" ? reference.name : reference.secretId;
      const key = reference.kind === "ssm" ? "" : (reference.jsonKey ?? "");
      return `  read_secret ${name} ${reference.kind} ${shellQuote(id)} ${where} ${shellQuote(key)}`;
    });
  return ["read_secrets() {", ...calls, "}"].join("\n");
}

/** Throws naming the secret whose name breaks the parameter rules or clashes with a parameter. */
function checkSecrets(secrets: unknown, parameters: Record<string, string>): void {
  if (secrets === undefined) return;
  if (typeof secrets !== "object" || secrets === null || Array.isArray(secrets)) {
    throw invalid("secrets", secrets, "an object of NAME: reference strings");
  }
  for (const [name, reference] of Object.entries(secrets)) {
    if (!PARAMETER_NAME_PATTERN.test(name) || RESERVED_PARAMETER_NAMES.includes(name)) {
      throw invalid(`secrets.${name}`, name, "a parameter name the launcher does not set itself");
    }
    if (Object.hasOwn(parameters, name)) {
      throw invalid(`secrets.${name}`, name, "a name that is not also a parameter");
    }
    if (typeof reference !== "string") throw invalid(`secrets.${name}`, reference, "a string");
  }
  secretReaders(secrets as Record<string, string>, "eu-west-1");
}

/** Throws naming the parameter that breaks the contract's parameter rules. */
function checkParameters(parameters: Record<string, string>): void {
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    throw invalid("parameters", parameters, "an object of NAME: value strings");
  }
  for (const name of Object.keys(parameters).sort()) {
    const value: unknown = parameters[name];
    if (!PARAMETER_NAME_PATTERN.test(name)) {
      throw invalid(`parameters.${name}`, name, "a name matching ^[A-Z_][A-Z0-9_]*$");
    }
    if (RESERVED_PARAMETER_NAMES.includes(name)) {
      throw invalid(
        `parameters.${name}`,
        name,
        `a name other than ${RESERVED_PARAMETER_NAMES.join(", ")}, which the launcher sets itself`,
      );
    }
    if (typeof value !== "string") throw invalid(`parameters.${name}`, value, "a string");
    shellQuote(value);
  }
}

/**
 * `price_of TYPE/MARKET`: prints the price per hour in micro-dollars, nothing when unknown. A
 * `case` over validated keys rather than an associative array, whose lookups need `${...}`.
 */
function priceTable(prices: Record<string, number> | undefined): string {
  if (prices !== undefined && (typeof prices !== "object" || prices === null)) {
    throw invalid("instancePrices", prices, "an object of <type>/<market>: micro-dollars");
  }
  const entries = Object.keys(prices ?? {})
    .sort()
    .map((key) => {
      if (!PRICE_KEY.test(key)) {
        throw invalid(`instancePrices.${key}`, key, "a key <instance type>/<spot|on-demand>");
      }
      const value = checkedInteger(
        `instancePrices.${key}`,
        prices![key],
        0,
        MAX_MICRO_USD_PER_HOUR,
      );
      return `    ${shellQuote(key)}) printf '%s' ${value} ;;`;
    });
  return ["price_of() {", "  case $1 in", ...entries, "    *) ;;", "  esac", "}"].join("\n");
}

/** The part of an init script that is the same for every run of a job: its launch spec's. */
export type ScriptSettings = Omit<
  InitScriptInput,
  | "runId"
  | "scheduledTime"
  | "pullAttempts"
  | "retryBaseSeconds"
  | "instancePrices"
  | "volumeMicroUsdPerHour"
>;

/**
 * Checks, once at deploy time, the values a job's launch spec puts in every one of its init
 * scripts, so that the launcher checks only what changes per run. Each value is also single-quoted
 * where it is used, so a value that slipped past this could not run as code; it would fail the run.
 * Throws {@link InvalidLaunchSpecError} naming the field.
 */
export function checkScriptSettings(settings: ScriptSettings): void {
  for (const field of [
    "job",
    "environment",
    "region",
    "imageUri",
    "bucket",
    "resultsPrefix",
    "logGroup",
  ] as const) {
    checked(field, settings[field]);
  }
  const deadlineMinutes = settings.deadlineMinutes;
  if (
    typeof deadlineMinutes !== "number" ||
    !Number.isInteger(deadlineMinutes) ||
    deadlineMinutes < MIN_DEADLINE_MINUTES ||
    deadlineMinutes > MAX_DEADLINE_MINUTES
  ) {
    throw invalid(
      "deadlineMinutes",
      deadlineMinutes,
      `an integer from ${MIN_DEADLINE_MINUTES} to ${MAX_DEADLINE_MINUTES}: the script stops the job ${STOP_MARGIN_MINUTES} minutes before the deadline to report, and the job needs the rest; raise maxRuntimeMinutes`,
    );
  }
  if (
    settings.topicArn !== undefined &&
    settings.topicArn !== "" &&
    !TOPIC_ARN.test(settings.topicArn)
  ) {
    throw invalid("topicArn", settings.topicArn, "an SNS topic ARN");
  }
  checkParameters(settings.parameters);
  checkSecrets(settings.secrets, settings.parameters);
  for (const flag of ["gpu", "instanceStore"] as const) {
    if (settings[flag] !== undefined && typeof settings[flag] !== "boolean") {
      throw invalid(flag, settings[flag], "true or false");
    }
  }
}

/**
 * Renders the init script of one run: a bash script that
 * 1. schedules the backstop power-off at the deadline before doing anything else,
 * 2. reads instance id, type and zone from IMDSv2, installs the AWS CLI if it is missing,
 *    waits for Docker, logs in to ECR with the instance role and pulls the image (with retries),
 * 3. runs the container with the `awslogs` log driver (non-blocking) and the run's environment;
 *    a job still running (or an image still pulling) {@link STOP_MARGIN_MINUTES} before the
 *    deadline is stopped (`docker stop`, {@link STOP_GRACE_SECONDS} of grace) and the run is
 *    `timed-out`,
 * 4. on exit, whatever happened, measures the run (duration, estimated cost from the price of
 *    the instance type and market IMDS reports), writes
 *    `s3://<bucket>/<resultsPrefix>/runs/<runId>.json`, puts its metrics, publishes a short
 *    outcome to SNS if a topic is set (both best effort), and powers off.
 *
 * Checks the per-run values (run id, scheduled time, prices); the job's own were checked at deploy
 * time by {@link checkScriptSettings}. Throws {@link InvalidLaunchSpecError} naming the field when
 * a value breaks its rule, or when the script exceeds {@link USER_DATA_MAX_BYTES}.
 */
export function renderInitScript(input: InitScriptInput): string {
  const runId = checked("runId", input.runId);
  const scheduledTime = checked("scheduledTime", input.scheduledTime);
  const { job, environment, region, imageUri, bucket, resultsPrefix, logGroup } = input;
  const deadlineMinutes = input.deadlineMinutes;
  const pullAttempts = checkedInteger("pullAttempts", input.pullAttempts ?? 5, 1, 20);
  const retryBaseSeconds = checkedInteger("retryBaseSeconds", input.retryBaseSeconds ?? 5, 1, 60);
  const volumePrice =
    input.volumeMicroUsdPerHour === undefined
      ? ""
      : checkedInteger(
          "volumeMicroUsdPerHour",
          input.volumeMicroUsdPerHour,
          0,
          MAX_MICRO_USD_PER_HOUR,
        );

  const topicArn = input.topicArn ?? "";
  const topicRegion = TOPIC_ARN.exec(topicArn)?.[1] ?? "";

  const registry = IMAGE_URI.exec(imageUri)?.[1] ?? "";
  const ecr = ECR_REGISTRY.exec(registry);
  const ecrRegistry = ecr ? registry : "";
  const ecrRegion = ecr ? ecr[1] : "";

  const hasSecrets = Object.keys(input.secrets ?? {}).length > 0;
  const values: [string, string | number][] = [
    ["RUN_ID", runId],
    ["JOB", job],
    ["ENVIRONMENT", environment],
    ["SCHEDULED_TIME", scheduledTime],
    ["DEADLINE_MINUTES", deadlineMinutes],
    ["STOP_AFTER_SECONDS", (deadlineMinutes - STOP_MARGIN_MINUTES) * 60],
    ["STOP_MARGIN_MINUTES", STOP_MARGIN_MINUTES],
    ["STOP_GRACE_SECONDS", STOP_GRACE_SECONDS],
    ["REGION", region],
    ["IMAGE_URI", imageUri],
    ["ECR_REGISTRY", ecrRegistry],
    ["ECR_REGION", ecrRegion],
    ["BUCKET", bucket],
    ["RECORD_KEY", RUN_RECORDS.recordKey(resultsPrefix, runId)],
    ["RESULTS_PREFIX", RUN_RECORDS.resultsPrefix(resultsPrefix)],
    ["LOG_GROUP", logGroup],
    ["TOPIC_ARN", topicArn],
    ["TOPIC_REGION", topicRegion],
    // Rendered here, by the launcher's own rule, rather than built in bash: see notificationSubject.
    ["SUBJECT_SUCCEEDED", notificationSubject(environment, job, "succeeded", region)],
    ["SUBJECT_FAILED", notificationSubject(environment, job, "failed", region)],
    ["SUBJECT_TIMED_OUT", notificationSubject(environment, job, "timed-out", region)],
    ["PULL_ATTEMPTS", pullAttempts],
    ["RETRY_BASE_SECONDS", retryBaseSeconds],
    ["LOGS_URL", logsConsoleUrl(region, logGroup, runId)],
    ["METRIC_NAMESPACE", METRIC_NAMESPACE],
    ["VOLUME_MICRO_USD_PER_HOUR", volumePrice],
    ["OVERHEAD_SECONDS", INSTANCE_OVERHEAD_SECONDS],
    ["UTILIZATION_SAMPLE_SECONDS", UTILIZATION_SAMPLE_SECONDS],
    ["SCRATCH_HOST_DIR", SCRATCH_HOST_DIR],
    ["SCRATCH_DIR", SCRATCH_DIR],
    ...(hasSecrets ? [["RUNTIME_DIR", RUNTIME_DIR] as [string, string]] : []),
  ];

  const script = [
    "#!/bin/bash",
    `# transient-jobs: init script of run ${runId}.`,
    "# Rendered per run by launcher/initScript.ts; do not edit the rendered copy.",
    "set -euo pipefail",
    "",
    ...values.map(([name, value]) =>
      typeof value === "number"
        ? `readonly ${name}=${value}`
        : // The console URL's `$252F` escapes are literal text, not expansions.
          `${value.includes("$") ? "# shellcheck disable=SC2016\n" : ""}readonly ${name}=${shellQuote(value)}`,
    ),
    priceTable(input.instancePrices),
    "",
    ...STATIC_FUNCTIONS,
    ...(hasSecrets
      ? [STATIC_SECRET_FUNCTIONS, withoutComments(secretReaders(input.secrets, region))]
      : []),
    STATIC_MAIN_BEFORE_RUN,
    ...(hasSecrets ? [STATIC_MAIN_SECRETS] : []),
    withoutComments(scratchSteps(input.instanceStore === true)),
    STATIC_RUN_COMMAND_HEAD,
    ...jobEnvironmentArguments(hasSecrets, input.gpu === true),
    ...parameterArguments(input.parameters),
    STATIC_RUN_COMMAND_TAIL,
    ...(hasSecrets ? ['rm -f -- "$secrets_file"'] : []),
    STATIC_MAIN_AFTER_RUN,
  ].join("\n");

  const bytes = encodeUserData(script).length;
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new InvalidLaunchSpecError(
      `initScript: the rendered script of run ${runId} is ${bytes} bytes compressed, over the EC2 user data limit of ${USER_DATA_MAX_BYTES}; shorten the job parameters`,
    );
  }
  return script;
}

/** What {@link assertParametersFit} needs to know of a job: what a deployment cannot lengthen. */
export interface ParameterFitInput {
  job: string;
  environment: string;
  /** The longest region name the job runs in. */
  region: string;
  /** Every instance type the job may run as (each gets a price entry in both markets). */
  instanceTypes: readonly string[];
  parameters: Record<string, string>;
  /** Secret references: their calls lengthen the script. */
  secrets?: Record<string, string>;
  /** The GPU and instance-store steps, known at deploy time (config assumes neither). */
  gpu?: boolean;
  instanceStore?: boolean;
}

/**
 * Checks at deploy time that a job's parameters leave its init script within
 * {@link USER_DATA_MAX_BYTES}, whatever the deployment and the run add: the script is rendered
 * with the longest value each deploy-time field (ECR repository, bucket, log group, topic) and
 * per-run field (run id, scheduled time, deadline, prices) can take, so a job that passes here
 * cannot fail at its first launch for size. Throws {@link InvalidLaunchSpecError} like the
 * renderer, naming the parameters.
 */
export function assertParametersFit(input: ParameterFitInput): void {
  const account = "123456789012";
  const text = arbitraryText();
  const script = renderInitScript({
    job: input.job,
    environment: input.environment,
    region: input.region,
    // The repository, log group and topic are named from the stack, region and job names, which
    // config keeps well under 100 characters each (lib/resourceNames.ts); buckets have at most 63.
    // Arbitrary characters, as compression would shrink a repeated one to nothing.
    imageUri: `${account}.dkr.ecr.${input.region}.amazonaws.com/${text(100, "abcdefghijklmnopqrstuvwxyz0123456789")}@sha256:${text(64, "0123456789abcdef")}`,
    bucket: text(63, "abcdefghijklmnopqrstuvwxyz0123456789"),
    resultsPrefix: RUN_RECORDS.jobPrefix(input.job),
    logGroup: `/${text(100, "abcdefghijklmnopqrstuvwxyz0123456789-")}`,
    topicArn: `arn:aws:sns:${input.region}:${account}:${text(100, "abcdefghijklmnopqrstuvwxyz0123456789-")}`,
    parameters: input.parameters,
    secrets: input.secrets,
    gpu: input.gpu,
    instanceStore: input.instanceStore,
    runId: `${input.job}-20261123T0300Z`,
    scheduledTime: "2026-11-23T03:00:00Z",
    deadlineMinutes: MAX_DEADLINE_MINUTES,
    instancePrices: Object.fromEntries(
      input.instanceTypes.flatMap((type) =>
        ["spot", "on-demand"].map((market) => [
          `${type}/${market}`,
          MAX_MICRO_USD_PER_HOUR - Number(text(6, "0123456789")),
        ]),
      ),
    ),
    volumeMicroUsdPerHour: MAX_MICRO_USD_PER_HOUR,
  });
  const bytes = encodeUserData(script).length;
  if (bytes > USER_DATA_MAX_BYTES - FIT_MARGIN_BYTES) {
    throw new InvalidLaunchSpecError(
      `initScript: with the longest values a deployment and a run can add, the script of job ${input.job} is ${bytes} bytes compressed, over the ${USER_DATA_MAX_BYTES - FIT_MARGIN_BYTES} that leave room under EC2's user data limit of ${USER_DATA_MAX_BYTES}; shorten the job parameters`,
    );
  }
}

/**
 * Bytes kept free at deploy time: real names and prices compress a little differently from the
 * arbitrary ones the check renders with.
 */
const FIT_MARGIN_BYTES = 256;

/** Deterministic arbitrary text: `text(length, alphabet)`, a different string at each call. */
function arbitraryText(): (length: number, alphabet: string) => string {
  let state = 0x2545f491;
  return (length, alphabet) =>
    Array.from({ length }, () => {
      // xorshift32: cheap, and as hard to compress as real names or harder.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return alphabet[(state >>> 0) % alphabet.length];
    }).join("");
}

// The static parts of the script. String.raw keeps bash's backslashes; they contain no `${`, so
// nothing in them is interpolated by JavaScript.

/**
 * Prints $1 as a JSON string: newlines, returns and tabs become spaces, other control characters
 * are dropped, backslashes and quotes are escaped. Pure bash (pattern substitution, ranges in
 * ASCII order: bash 5's default `globasciiranges`): the record and the metrics quote some thirty
 * values, and a pipeline of tr and sed for each cost a hundred processes per run.
 * A plain string, not String.raw: bash's `${...}` must reach the script as written.
 */
const JSON_STRING = [
  "# Prints $1 as a JSON string; newlines and tabs become spaces, other control characters are dropped.",
  "json_string() {",
  "  local s=${1//[$'\\n\\r\\t']/ }",
  "  s=${s//[$'\\001'-$'\\037']/}",
  "  s=${s//\\\\/\\\\\\\\}",
  '  s=${s//\\"/\\\\\\"}',
  '  printf \'"%s"\' "$s"',
  "}",
].join("\n");

const FUNCTIONS = String.raw`status=failed
phase=watchdog
message=''
exit_code=null
started_at=''
ended_at=''
instance_id=''
instance_type=''
availability_zone=''
purchase_option=''
image_digest=''
summary=''
started_epoch=''
stop_epoch=''
duration_seconds=null
cost_micro=''
estimated_cost=null

log() {
  printf 'transient-jobs %s: %s\n' "$RUN_ID" "$*" >&2
}

now() {
  date -u +%Y-%m-%dT%H:%M:%SZ
}

# Stops the run: the EXIT trap records the failure and powers off.
fail() {
  message=$1
  log "failed during $phase: $message"
  exit 1
}

# Like fail, for a run that reached its stop time.
out_of_time() {
  status=timed-out
  message=$1
  log "timed out during $phase: $message"
  exit 124
}

# Bash's own clock: checking it cannot fail.
past_stop() {
  ((EPOCHSECONDS >= stop_epoch))
}

# until_stop COMMAND...: COMMAND, killed (137) if still running at the stop time; --foreground
# keeps it in the script's process group, which signals reach.
until_stop() {
  local left=$((stop_epoch - EPOCHSECONDS))
  if ((left <= 0)); then return 124; fi
  timeout --foreground --signal=KILL "$left" "$@"
}

# retry ATTEMPTS WHAT COMMAND...: runs COMMAND until it succeeds, at most ATTEMPTS times, waiting
# RETRY_BASE_SECONDS between the first two attempts and twice as long each time after (at most 60 s).
retry() {
  local attempts=$1 what=$2 attempt=1 delay=$RETRY_BASE_SECONDS
  shift 2
  until "$@"; do
    if ((attempt >= attempts)); then
      log "$what failed $attempt times; giving up"
      return 1
    fi
    log "$what failed (attempt $attempt of $attempts); retrying in $delay s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

# imds PATH: one value of the instance metadata, over IMDSv2, with the token fetched once
# (imds_token) rather than per value: fewer round trips before the job starts.
imds_token=''
imds() {
  [ -n "$imds_token" ] || return 1
  curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $imds_token" \
    "http://169.254.169.254/latest/meta-data/$1"
}

docker_ready() {
  timeout 20 docker info >/dev/null 2>&1
}

ecr_login() {
  timeout 60 aws ecr get-login-password --region "$ECR_REGION" |
    timeout 60 docker login --username AWS --password-stdin "$ECR_REGISTRY" >/dev/null
}

${JSON_STRING}

# Prints $1 as a JSON string, or null when it is empty.
json_or_null() {
  if [[ -n $1 ]]; then json_string "$1"; else printf 'null'; fi
}

# usd DECIMALS MICRO: micro-dollars as dollars with 6 (JSON) or 4 (messages) decimals.
usd() {
  if (($1 == 6)); then
    printf '%d.%06d' $(($2 / 1000000)) $(($2 % 1000000))
  else
    printf '$%d.%04d' $(($2 / 1000000)) $(($2 % 1000000 / 100))
  fi
}

human_duration() {
  if (($1 >= 3600)); then
    printf '%dh %02dm' $(($1 / 3600)) $(($1 % 3600 / 60))
  elif (($1 >= 60)); then
    printf '%dm %02ds' $(($1 / 60)) $(($1 % 60))
  else
    printf '%ds' "$1"
  fi
}

# Sets the duration and, when this instance type and market have a price, the estimated cost:
# (instance + volume price per hour) x (script time + boot and power-off overhead).
measure() {
  local ended_epoch price
  if [[ -z $started_epoch ]]; then return 0; fi
  ended_epoch=$(date -u +%s) || return 0
  duration_seconds=$((ended_epoch - started_epoch))
  price=$(price_of "$instance_type/$purchase_option")
  if [[ -n $price && -n $VOLUME_MICRO_USD_PER_HOUR ]]; then
    cost_micro=$(((price + VOLUME_MICRO_USD_PER_HOUR) * (duration_seconds + OVERHEAD_SECONDS) / 3600))
    estimated_cost=$(usd 6 "$cost_micro")
  fi
}

run_record() {
  printf '{"runId":%s,"job":%s,"environment":%s,"region":%s,"status":%s,"phase":%s,"exitCode":%s,"message":%s,"scheduledTime":%s,"startedAt":%s,"endedAt":%s,"durationSeconds":%s,"instanceId":%s,"instanceType":%s,"purchaseOption":%s,"availabilityZone":%s,"estimatedCostUsd":%s,"imageUri":%s,"imageDigest":%s,"logGroup":%s,"logStream":%s,"summary":%s,"utilization":%s}\n' \
    "$(json_string "$RUN_ID")" "$(json_string "$JOB")" "$(json_string "$ENVIRONMENT")" \
    "$(json_string "$REGION")" "$(json_string "$status")" "$(json_string "$phase")" \
    "$exit_code" "$(json_string "$message")" "$(json_string "$SCHEDULED_TIME")" \
    "$(json_or_null "$started_at")" "$(json_or_null "$ended_at")" "$duration_seconds" \
    "$(json_or_null "$instance_id")" "$(json_or_null "$instance_type")" \
    "$(json_or_null "$purchase_option")" "$(json_or_null "$availability_zone")" \
    "$estimated_cost" "$(json_string "$IMAGE_URI")" "$(json_or_null "$image_digest")" \
    "$(json_string "$LOG_GROUP")" "$(json_string "$RUN_ID")" "$(json_or_null "$summary")" \
    "$utilization"
}

put_record() {
  run_record | timeout 60 aws s3 cp - "s3://$BUCKET/$RECORD_KEY" --region "$REGION" \
    --content-type application/json --only-show-errors
}

# metric NAME VALUE UNIT: one MetricDatum with the job's dimensions, as JSON.
metric() {
  printf '{"MetricName":"%s","Dimensions":[{"Name":"Environment","Value":%s},{"Name":"Region","Value":%s},{"Name":"Job","Value":%s}],"Value":%s,"Unit":"%s"}' \
    "$1" "$(json_string "$ENVIRONMENT")" "$(json_string "$REGION")" "$(json_string "$JOB")" "$2" "$3"
}

# Best effort, bounded by its timeout, like notify: metrics must not keep the instance up.
put_metrics() {
  local data
  if [[ $status == succeeded ]]; then
    data=$(metric RunSucceeded 1 Count)
  else
    data=$(metric RunFailed 1 Count)
  fi
  if [[ $duration_seconds != null ]]; then
    data+=",$(metric RunDurationSeconds "$duration_seconds" Seconds)"
  fi
  if [[ $estimated_cost != null ]]; then
    data+=",$(metric RunEstimatedCostUsd "$estimated_cost" None)"
  fi
  data+=$(utilization_metrics)
  timeout 30 aws cloudwatch put-metric-data --region "$REGION" --namespace "$METRIC_NAMESPACE" \
    --metric-data "[$data]" >/dev/null
}

# One line of facts about the run for the message: time, machine, cost.
run_facts() {
  local facts=Ran
  if [[ $duration_seconds != null ]]; then facts+=" for $(human_duration "$duration_seconds")"; fi
  if [[ -n $instance_type ]]; then facts+=" on $instance_type"; fi
  if [[ -n $purchase_option ]]; then facts+=" $purchase_option"; fi
  if [[ -n $availability_zone ]]; then facts+=" in $availability_zone"; fi
  if [[ -n $instance_id ]]; then facts+=" ($instance_id)"; fi
  if [[ -n $cost_micro ]]; then
    facts+=", estimated cost $(usd 4 "$cost_micro")"
  else
    facts+=", no cost estimate (no price for this instance type and region)"
  fi
  printf '%s.' "$facts"
}

# Best effort, bounded by its timeout: a missing topic permission must not keep the instance up.
notify() {
  if [[ -z $TOPIC_ARN ]]; then return 0; fi
  local where='' text subject
  if [[ $status != succeeded && $phase != finished ]]; then where=" during $phase"; fi
  text="$RUN_ID $status$where: $message."
  text+=$'\n'"Job $JOB, environment $ENVIRONMENT, region $REGION, scheduled $SCHEDULED_TIME."
  text+=$'\n'"$(run_facts)"
  if [[ -n $summary ]]; then text+=$'\n'"Result: $summary"; fi
  text+=$'\n'"Logs: $LOGS_URL"$'\n'"Record: s3://$BUCKET/$RECORD_KEY"
  case $status in
    succeeded) subject=$SUBJECT_SUCCEEDED ;;
    timed-out) subject=$SUBJECT_TIMED_OUT ;;
    *) subject=$SUBJECT_FAILED ;;
  esac
  timeout 30 aws sns publish --region "$TOPIC_REGION" --topic-arn "$TOPIC_ARN" \
    --subject "$subject" --message "$text" >/dev/null
}

# The EXIT trap: whatever happened, write the run record, report, and power off. It ignores
# signals (a trap would exit before the power-off), errors and unset names.
finish() {
  local code=$?
  trap '' TERM INT HUP
  trap - EXIT
  set +eu
  [[ -z $secrets_file ]] || rm -f -- "$secrets_file"
  ended_at=$(now)
  if [[ -z $started_at ]]; then started_at=$ended_at; fi
  measure
  summarise_utilization quick
  if [[ -z $message ]]; then message="the init script exited with status $code during $phase"; fi
  log "run $status: $message"
  retry 3 "writing the run record" put_record || log "the run record could not be written"
  put_metrics || log "the metrics could not be published"
  notify || log "the outcome could not be published"
  log "powering off"
  shutdown -h now
}

on_signal() {
  trap '' TERM INT HUP
  message="interrupted by SIG$1 during $phase (deadline reached or instance shutting down)"
  exit 143
}

trap finish EXIT
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP
`;

const MAIN_BEFORE_RUN = String.raw`# The backstop first: whatever happens below, even a hung Docker daemon, the instance powers off
# (and terminates) at the deadline. The job is stopped earlier, to report while the network is up.
shutdown -h "+$DEADLINE_MINUTES" "transient-jobs run $RUN_ID reached its deadline" ||
  fail "could not schedule the power-off at the deadline"
started_at=$(now)
started_epoch=$(date -u +%s) || started_epoch=''
stop_epoch=$((EPOCHSECONDS + STOP_AFTER_SECONDS))

phase=metadata
imds_token=$(curl -fsS -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' \
  http://169.254.169.254/latest/api/token) || imds_token=''
instance_id=$(imds instance-id) || instance_id=''
instance_type=$(imds instance-type) || instance_type=''
availability_zone=$(imds placement/availability-zone) || availability_zone=''
purchase_option=$(imds instance-life-cycle) || purchase_option=''
case $purchase_option in
  spot | on-demand) ;;
  *) purchase_option='' ;;
esac

phase=aws-cli
if ! command -v aws >/dev/null 2>&1; then
  log "installing the AWS CLI"
  retry 3 "installing awscli-2" timeout 300 dnf install -y awscli-2 ||
    fail "the AWS CLI is missing and could not be installed"
fi

phase=docker
retry 12 "waiting for Docker" docker_ready || fail "the Docker daemon did not become ready"

phase=login
if [[ -n $ECR_REGISTRY ]]; then
  retry 3 "logging in to $ECR_REGISTRY" ecr_login || fail "could not log in to $ECR_REGISTRY"
fi

phase=pull
retry "$PULL_ATTEMPTS" "pulling $IMAGE_URI" until_stop docker pull --quiet "$IMAGE_URI" || {
  past_stop && out_of_time "still pulling $IMAGE_URI at the stop time"
  fail "could not pull $IMAGE_URI"
}
image_digest=$(docker image inspect --format '{{index .RepoDigests 0}}' "$IMAGE_URI" |
  sed -n 's/.*@//p') || image_digest=''
`;

/**
 * The container's secrets file, GPUs and scratch space, as `docker run` arguments. Secrets go in
 * an env file (one NAME=value per line, https://docs.docker.com/reference/cli/docker/container/run/#env),
 * never `--env NAME=value`, which any process could read on the command line.
 * `--gpus all` needs the NVIDIA container toolkit of the ECS GPU AMI
 * (https://docs.docker.com/engine/containers/resource_constraints/#gpu).
 */
function jobEnvironmentArguments(secrets: boolean, gpu: boolean): string[] {
  return [
    '  --mount "type=bind,source=$SCRATCH_HOST_DIR,target=$SCRATCH_DIR" \\',
    '  --env "SCRATCH_DIR=$SCRATCH_DIR" \\',
    ...(secrets ? ['  --env-file "$secrets_file" \\'] : []),
    ...(gpu ? ["  --gpus all \\"] : []),
  ];
}

// read_secret NAME KIND ID REGION JSON-KEY: one secret into the env file. `printf` is a builtin,
// so the value is on no command line; the env file holds one line per variable, so a value with a
// line break is refused. Rendered only for a job with secrets: every byte counts against the
// 16 KB of user data.
const SECRET_FUNCTIONS = String.raw`read_secret() {
  local v
  case $2 in
    ssm) v=$(timeout 60 aws ssm get-parameter --region "$4" --name "$3" --with-decryption \
      --query Parameter.Value --output text) ;;
    *) v=$(timeout 60 aws secretsmanager get-secret-value --region "$4" --secret-id "$3" \
      --query SecretString --output text) ;;
  esac || fail "could not read secret $1 from $2 $3 (missing, or the instance role may not read it)"
  if [[ -n $5 ]]; then
    v=$(printf '%s' "$v" | python3 -c 'import json,sys;print(json.load(sys.stdin)[sys.argv[1]],end="")' "$5" 2>/dev/null) ||
      fail "secret $1: $2 $3 is not a JSON object with the key $5"
  fi
  [[ $v != *[$'\n\r']* ]] || fail "secret $1 ($2 $3) holds a line break, which an env file cannot carry"
  printf '%s=%s\n' "$1" "$v" >>"$secrets_file"
}
`;

const MAIN_SECRETS = String.raw`phase=secrets
secrets_file="$RUNTIME_DIR/$RUN_ID.env"
{ mkdir -p "$RUNTIME_DIR" && (umask 077 && : >"$secrets_file"); } || fail "no $secrets_file"
read_secrets
`;

// The env file goes as soon as the container ends, and in `finish` whatever happened.
const NO_SECRETS_FILE = "secrets_file=''";

// Scratch space, rendered for a job whose instance types have an instance store. Its disks are
// the NVMe devices whose model is "Amazon EC2 NVMe Instance Storage"
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ssd-instance-store.html); several are
// striped into one (RAID 0: scratch needs no redundancy,
// https://docs.aws.amazon.com/ebs/latest/userguide/raid-config.html). A type of the job without
// one gets the root-volume folder, as every other job does.
const MOUNT_INSTANCE_STORE = String.raw`# shellcheck disable=SC2046
set -- $(lsblk -dno NAME,MODEL | awk '/EC2 NVMe Instance Storage/ {print "/dev/" $1}')
if (($# > 1)); then
  command -v mdadm >/dev/null || timeout 300 dnf install -y mdadm >/dev/null
  timeout 120 mdadm --create /dev/md/tj --run -l 0 -n $# "$@" >/dev/null || fail "no RAID of $*"
  set -- /dev/md/tj
fi
if (($# > 0)); then
  { timeout 600 mkfs.xfs -f -q "$1" && timeout 60 mount "$1" "$SCRATCH_HOST_DIR"; } ||
    fail "could not mount $1"
fi`;

// Mode 1777: the job may run as any user, and the sticky bit keeps users from deleting each
// other's files.
function scratchSteps(instanceStore: boolean): string {
  return [
    "phase=scratch",
    'mkdir -p "$SCRATCH_HOST_DIR" || fail "no $SCRATCH_HOST_DIR"',
    ...(instanceStore ? [MOUNT_INSTANCE_STORE] : []),
    'chmod 1777 "$SCRATCH_HOST_DIR"',
    "",
    "phase=run",
    'past_stop && out_of_time "the stop time came before the job could start"',
    // Sampling starts with the container, not before the steps that come first.
    "start_sampler",
  ].join("\n");
}

// mode=non-blocking: in the default blocking mode a slow or unreachable CloudWatch Logs blocks the
// job's writes to stdout; a bounded buffer drops lines instead.
// https://docs.docker.com/engine/logging/configure/#configure-the-delivery-mode-of-log-messages-from-container-to-log-driver
const RUN_COMMAND_HEAD =
  String.raw`# The parameters' single quotes are meant (SC2016); shellcheck exempts docker, not until_stop.
# shellcheck disable=SC2016
if until_stop docker run --name "tj-$RUN_ID" \
  --log-driver awslogs \
  --log-opt mode=non-blocking \
  --log-opt max-buffer-size=4m \
  --log-opt "awslogs-region=$REGION" \
  --log-opt "awslogs-group=$LOG_GROUP" \
  --log-opt "awslogs-stream=$RUN_ID" \
  --env "RUN_ID=$RUN_ID" \
  --env "RESULTS_BUCKET=$BUCKET" \
  --env "RESULTS_PREFIX=$RESULTS_PREFIX" \
  --env "AWS_REGION=$REGION"` + " \\"; // a raw template cannot end in a backslash

const RUN_COMMAND_TAIL = String.raw`  "$IMAGE_URI"; then
  exit_code=0
else
  exit_code=$?
fi`;

// docker stop: SIGTERM, then SIGKILL after the grace; docker wait: the container's exit status.
// https://docs.docker.com/reference/cli/docker/container/stop/
// https://docs.docker.com/reference/cli/docker/container/wait/
const MAIN_AFTER_RUN = String.raw`
# until_stop killed the client at the stop time; the container still runs.
if ((exit_code == 137)) && past_stop; then
  status=timed-out
  log "the job is still running at the stop time; stopping it"
  timeout $((STOP_GRACE_SECONDS + 30)) docker stop --time "$STOP_GRACE_SECONDS" "tj-$RUN_ID" \
    >/dev/null || log "docker stop failed"
  exit_code=$(timeout 30 docker wait "tj-$RUN_ID") || exit_code=''
  [[ $exit_code =~ ^[0-9]+$ ]] || exit_code=null
  message="still running $STOP_MARGIN_MINUTES min before the deadline: stopped, exit status $exit_code"
fi
summarise_utilization

# The job's last output line (Docker keeps a local copy of awslogs output), for the notification.
summary=$(timeout 20 docker logs --tail 1 "tj-$RUN_ID" 2>&1 | tr -d '
') || summary=''
summary=$(printf '%.200s' "$summary")

[[ $status == timed-out ]] || case $exit_code in
  0)
    status=succeeded
    phase=finished
    message="the job exited with status 0"
    ;;
  125 | 126 | 127)
    message="docker run failed with status $exit_code; the container did not start"
    ;;
  *)
    phase=finished
    message="the job exited with status $exit_code"
    ;;
esac
# A container the OOM killer ended (or one killed by SIGKILL) says so, with the memory it had.
if [[ $status != timed-out ]] && [[ $oom_killed == true && $exit_code != 0 || $exit_code == 137 ]]; then
  message=$(memory_message)
fi
`;

/**
 * `script` without its comment lines, but for shellcheck's directives: the comments are for the
 * readers of this file, and each byte of the rendered copy is one less for the job's parameters
 * in EC2's 16 KB of user data. No line of the static parts that starts with `#` is inside a
 * quoted string or here-document, so none is code.
 */
export function withoutComments(script: string): string {
  return script
    .split("\n")
    .filter((line) => !/^\s*#(?! shellcheck )/.test(line) && line.trim() !== "")
    .map((line) => line.trimStart())
    .join("\n");
}

// The static parts as the script carries them, computed once.
const STATIC_FUNCTIONS = [FUNCTIONS, UTILIZATION_FUNCTIONS, NO_SECRETS_FILE].map(withoutComments);
const STATIC_SECRET_FUNCTIONS = withoutComments(SECRET_FUNCTIONS);
const STATIC_MAIN_BEFORE_RUN = withoutComments(MAIN_BEFORE_RUN);
const STATIC_MAIN_SECRETS = withoutComments(MAIN_SECRETS);
const STATIC_RUN_COMMAND_HEAD = withoutComments(RUN_COMMAND_HEAD);
const STATIC_RUN_COMMAND_TAIL = withoutComments(RUN_COMMAND_TAIL);
const STATIC_MAIN_AFTER_RUN = withoutComments(MAIN_AFTER_RUN);
