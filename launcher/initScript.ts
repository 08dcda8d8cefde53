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
import { METRIC_NAMESPACE } from "./telemetry";
import { UTILIZATION_FUNCTIONS } from "./utilization";
import { parseSecretReference, secretRegion } from "../lib/secretReferences";
import {
  JOB_NAME_PATTERN,
  JOB_NAME_RULE,
  MAX_DEADLINE_MINUTES,
  MAX_RUN_RETRY_ATTEMPTS,
  MIN_DEADLINE_MINUTES,
  PARAMETER_NAME_PATTERN,
  RESERVED_PARAMETER_NAMES,
  RUN_RECORDS,
  SCRATCH_DIR,
  STOP_MARGIN_MINUTES,
  TAGS,
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
   * Which attempt of the run this instance is, from 1 (see `RunRetryPolicy`): the record goes to
   * `RUN_RECORDS.attemptKey`, and the container gets it as `ATTEMPT`.
   */
  attempt: number;
  /**
   * `s3://<bucket>/` + `RUN_RECORDS.checkpointPrefix(resultsPrefix, runId)`: the same for every
   * attempt of the run; the container gets it as `CHECKPOINT_URI` to save and resume its state.
   */
  checkpointUri: string;
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
 * Seconds between two polls of the instance metadata for an interruption notice: a spot
 * instance gets two minutes' warning, so each second of delay is one less for the job to stop.
 * The script reads it with `read -t`, so a fraction works too (the tests poll faster).
 */
export const NOTICE_POLL_SECONDS = 5;

/**
 * Seconds `docker stop` gives a job between SIGTERM and SIGKILL on an interruption notice: with
 * the poll's delay it leaves about 50 of EC2's 120 seconds to write the attempt record.
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 */
export const INTERRUPTION_GRACE_SECONDS = 60;

/** Seconds of warning EC2 gives before it reclaims a spot instance (the page above). */
export const SPOT_WARNING_SECONDS = 120;

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
  | "attempt"
  | "checkpointUri"
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
  checkParameters(settings.parameters);
  checkSecrets(settings.secrets, settings.parameters);
  for (const flag of ["gpu", "instanceStore"] as const) {
    if (settings[flag] !== undefined && typeof settings[flag] !== "boolean") {
      throw invalid(flag, settings[flag], "true or false");
    }
  }
}

/**
 * The per-attempt inputs of {@link renderInitScript} for attempt `attempt` of run `runId`: the
 * attempt and the run's checkpoint URI (the same for all its attempts).
 */
export function attemptInputs(
  spec: { bucket: string; resultsPrefix: string },
  runId: string,
  attempt: number,
): Pick<InitScriptInput, "attempt" | "checkpointUri"> {
  return {
    attempt,
    checkpointUri: `s3://${spec.bucket}/${RUN_RECORDS.checkpointPrefix(spec.resultsPrefix, runId)}`,
  };
}

/** The DNS suffix of the AWS endpoints of a region: China's regions have their own. */
function awsDomain(region: string): string {
  return region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

/**
 * Host and path prefix of a bucket's objects: virtual-hosted style, unless the name has a dot,
 * which no wildcard certificate of `*.s3.<region>.amazonaws.com` covers over HTTPS; then path
 * style (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).
 */
export function s3Endpoint(bucket: string, region: string): { host: string; path: string } {
  const regional = `s3.${region}.${awsDomain(region)}`;
  return bucket.includes(".")
    ? { host: regional, path: `/${bucket}` }
    : { host: `${bucket}.${regional}`, path: "" };
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

  const attempt = checkedInteger("attempt", input.attempt, 1, MAX_RUN_RETRY_ATTEMPTS + 1);
  const { checkpointUri } = attemptInputs({ bucket, resultsPrefix }, runId, attempt);
  if (input.checkpointUri !== checkpointUri) {
    throw invalid(
      "checkpointUri",
      input.checkpointUri,
      `${JSON.stringify(checkpointUri)}: s3://<bucket>/ and RUN_RECORDS.checkpointPrefix of the job's prefix and the run`,
    );
  }

  const registry = IMAGE_URI.exec(imageUri)?.[1] ?? "";
  const ecr = ECR_REGISTRY.exec(registry);
  const ecrRegistry = ecr ? registry : "";
  const ecrRegion = ecr ? ecr[1] : "";

  const hasSecrets = Object.keys(input.secrets ?? {}).length > 0;
  const domain = awsDomain(region);
  const s3 = s3Endpoint(bucket, region);
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
    ["AWS_DOMAIN", domain],
    ["S3_HOST", s3.host],
    ["S3_PATH", s3.path],
    // Only the tests change these (testing/scriptHarness.ts): curl goes to their stand-in.
    ["AWS_SCHEME", "https"],
    ["CONNECT_TO", ""],
    // The attempt's record: the run's own is the run supervisor's, once the instance has ended.
    ["RECORD_KEY", RUN_RECORDS.attemptKey(resultsPrefix, runId, attempt)],
    ["RESULTS_PREFIX", RUN_RECORDS.resultsPrefix(resultsPrefix)],
    ["LOG_GROUP", logGroup],
    ["ATTEMPT", attempt],
    ["CHECKPOINT_URI", checkpointUri],
    ["NOTICE_POLL_SECONDS", NOTICE_POLL_SECONDS],
    ["INTERRUPTION_GRACE_SECONDS", INTERRUPTION_GRACE_SECONDS],
    ["PULL_ATTEMPTS", pullAttempts],
    ["RETRY_BASE_SECONDS", retryBaseSeconds],
    ["METRIC_NAMESPACE", METRIC_NAMESPACE],
    ["TAG_LAUNCH_REQUESTED_AT", TAGS.launchRequestedAt],
    ["TAG_LAUNCH_ACCEPTED_AT", TAGS.launchAcceptedAt],
    ["TAG_INSTANCE_LAUNCH_TIME", TAGS.instanceLaunchTime],
    ["VOLUME_MICRO_USD_PER_HOUR", volumePrice],
    ["OVERHEAD_SECONDS", INSTANCE_OVERHEAD_SECONDS],
    ["UTILIZATION_SAMPLE_SECONDS", UTILIZATION_SAMPLE_SECONDS],
    ["SCRATCH_HOST_DIR", SCRATCH_HOST_DIR],
    ["SCRATCH_DIR", SCRATCH_DIR],
    ["RUNTIME_DIR", RUNTIME_DIR],
  ];

  const script = [
    "#!/bin/bash",
    `# transient-jobs: init script of run ${runId}.`,
    "# Rendered per run by launcher/initScript.ts; do not edit the rendered copy.",
    "set -euo pipefail",
    "export TZ=UTC0",
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
  const bucket = text(63, "abcdefghijklmnopqrstuvwxyz0123456789");
  const resultsPrefix = RUN_RECORDS.jobPrefix(input.job);
  const runId = `${input.job}-20261123T0300Z`;
  const script = renderInitScript({
    job: input.job,
    environment: input.environment,
    region: input.region,
    // The repository and log group are named from the stack, region and job names, which
    // config keeps well under 100 characters each (lib/resourceNames.ts); buckets have at most 63.
    // Arbitrary characters, as compression would shrink a repeated one to nothing.
    imageUri: `${account}.dkr.ecr.${input.region}.amazonaws.com/${text(100, "abcdefghijklmnopqrstuvwxyz0123456789")}@sha256:${text(64, "0123456789abcdef")}`,
    bucket,
    resultsPrefix,
    logGroup: `/${text(100, "abcdefghijklmnopqrstuvwxyz0123456789-")}`,
    parameters: input.parameters,
    secrets: input.secrets,
    gpu: input.gpu,
    instanceStore: input.instanceStore,
    runId,
    ...attemptInputs({ bucket, resultsPrefix }, runId, MAX_RUN_RETRY_ATTEMPTS + 1),
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

// The static parts of the script. String.raw keeps bash's backslashes; bash's `${` is written
// `$\{` in them, so that JavaScript interpolates nothing, and restored when they are rendered.

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

# When each phase ended, in epoch milliseconds (RunTimings, launcher/contract.ts).
t_start=''
t_docker=''
t_login=''
t_pulled=''
t_container_start=''
t_container_exit=''
t_record=''
boot_seconds=null
image_size=null
overhead_ms=''
latency_ms=''

# stamp NAME: sets NAME to the time in epoch milliseconds, from bash's own clock (no process).
stamp() {
  local t=$EPOCHREALTIME
  printf -v "$1" '%d%.3s' "$\{t%.*}" "$\{t#*.}"
}

# iso_ms MS: an epoch-milliseconds time as an ISO-8601 JSON string, null when empty.
iso_ms() {
  if [[ -z $1 ]]; then printf null; return; fi
  printf '"%(%Y-%m-%dT%H:%M:%S)T.%03dZ"' $(($1 / 1000)) $(($1 % 1000))
}

# epoch_ms ISO: an ISO-8601 time as epoch milliseconds (GNU date), nothing when unreadable.
epoch_ms() {
  [[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]] && date -u -d "$1" +%s%3N 2>/dev/null
}

# seconds MS: milliseconds as seconds with three decimals.
seconds() {
  printf '%s%d.%03d' "$( (($1 < 0)) && echo -)" $(($\{1#-} / 1000)) $(($\{1#-} % 1000))
}

# Reads the launcher's times from the instance's tags (InstanceMetadataTags, enabled by the launch
# template: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html) and
# sets the timings JSON and the two overhead figures. At the end only: the launcher tags the
# instance after RunInstances, perhaps after the script started.
timings=null
measure_timings() {
  local requested accepted launched launch_ms scheduled_ms ran=0 key value n=0
  imds_each "tags/instance/$TAG_LAUNCH_REQUESTED_AT" "tags/instance/$TAG_LAUNCH_ACCEPTED_AT" \
    "tags/instance/$TAG_INSTANCE_LAUNCH_TIME"
  for key in requested accepted launched; do
    value=$\{REPLIES[n++]:-}
    [[ $value =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]] || value=''
    printf -v "$key" '%s' "$value"
  done
  # Billed from the instance's launch, or else from its boot (the kernel's uptime at the start).
  launch_ms=$(epoch_ms "$launched") ||
    { [[ $boot_seconds == null ]] || launch_ms=$((t_start - 10#$\{boot_seconds/./} * 10)); }
  if [[ -n $t_container_start && -n $t_container_exit ]]; then
    ran=$((t_container_exit - t_container_start))
  fi
  [[ -z $launch_ms ]] || overhead_ms=$((t_record - launch_ms - ran))
  scheduled_ms=$(epoch_ms "$SCHEDULED_TIME") || scheduled_ms=''
  if [[ -n $scheduled_ms && -n $t_container_start ]]; then
    latency_ms=$((t_container_start - scheduled_ms))
  fi
  timings=$(printf '{"scheduledTime":%s,"launchRequestedAt":%s,"runInstancesAcceptedAt":%s,"instanceLaunchTime":%s,"bootSeconds":%s,"initScriptStartedAt":%s,"dockerReadyAt":%s,"registryLoggedInAt":%s,"imagePulledAt":%s,"imageSizeBytes":%s,"containerStartedAt":%s,"containerExitedAt":%s,"recordWrittenAt":%s}' \
    "$(json_string "$SCHEDULED_TIME")" "$(json_or_null "$requested")" "$(json_or_null "$accepted")" \
    "$(json_or_null "$launched")" "$boot_seconds" "$(iso_ms "$t_start")" "$(iso_ms "$t_docker")" \
    "$(iso_ms "$t_login")" "$(iso_ms "$t_pulled")" "$image_size" "$(iso_ms "$t_container_start")" \
    "$(iso_ms "$t_container_exit")" "$(iso_ms "$t_record")")
}

log() {
  printf 'transient-jobs %s: %s\n' "$RUN_ID" "$*" >&2
}

# Bash's printf formats times itself (TZ is UTC, set at the top): no date process per stamp.
now() {
  printf '%(%Y-%m-%dT%H:%M:%SZ)T' -1
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
# (imds_token) rather than per value: fewer round trips before the job starts. CONNECT_TO is
# empty on an instance; the tests point curl at their stand-in with it.
imds_token=''
# A session token lives at most 6 hours
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
# the report, perhaps days later, takes a new one.
imds_login() {
  imds_token=$(curl -fsS -m 2 $\{CONNECT_TO:+--connect-to "$CONNECT_TO"} -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://169.254.169.254/latest/api/token) ||
    imds_token=''
}
imds() {
  [ -n "$imds_token" ] || return 1
  curl -fsS -m 2 $\{CONNECT_TO:+--connect-to "$CONNECT_TO"} \
    -H "X-aws-ec2-metadata-token: $imds_token" "http://169.254.169.254/latest/meta-data/$1"
}

# imds_each PATH...: sets REPLIES to the value of each PATH ('' for one IMDS has not), from one
# curl: it makes a request of each URL it is given, and writes each response's status after it.
imds_each() {
  local out part
  REPLIES=()
  [ -n "$imds_token" ] || return 0
  out=$(curl -sS -m 2 $\{CONNECT_TO:+--connect-to "$CONNECT_TO"} -w $'\n%{http_code}\036' \
    -H "X-aws-ec2-metadata-token: $imds_token" "$\{@/#/http://169.254.169.254/latest/meta-data/}")
  for _; do
    part=$\{out%%$'\036'*}
    out=$\{out#*$'\036'}
    if [[ $\{part##*$'\n'} == 200 ]]; then REPLIES+=("$\{part%$'\n'*}"); else REPLIES+=(''); fi
  done
}

# field NAME JSON: sets REPLY to the string field NAME of JSON (one without escapes: keys, tokens,
# ids), with bash's own regex, so no process is started.
field() {
  REPLY=''
  [[ $2 =~ \"$1\"[[:space:]]*:[[:space:]]*\"([^\"\\]*)\" ]] && REPLY=$\{BASH_REMATCH[1]}
}

# The instance role's temporary credentials from IMDS
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html),
# written as a curl config (user = key:secret, the session token header) that only root can read:
# curl reads them from there (-K), so they are on no command line. Fetched again before the
# report, since they rotate during a long run.
aws_config=''
aws_credentials() {
  local role body key secret
  role=$(imds iam/security-credentials/) || return 1
  body=$(imds "iam/security-credentials/$\{role%%$'\n'*}") || return 1
  field AccessKeyId "$body"
  key=$REPLY
  field SecretAccessKey "$body"
  secret=$REPLY
  field Token "$body"
  [[ -n $key && -n $secret && -n $REPLY ]] || return 1
  aws_config="$RUNTIME_DIR/$RUN_ID.curlrc"
  mkdir -p "$RUNTIME_DIR" &&
    (umask 077 && printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' \
      "$key" "$secret" "$REPLY" >"$aws_config")
}

# aws_api SERVICE REGION HOST PATH CURL-ARGS...: one request to an AWS API, signed by curl itself
# (--aws-sigv4, curl 7.75 or later; https://curl.se/docs/manpage.html#--aws-sigv4) with the
# role's credentials, so there is no AWS CLI to install. The response goes to stdout.
aws_api() {
  local service=$1 region=$2 url="$AWS_SCHEME://$3$4"
  shift 4
  [[ -n $aws_config ]] || aws_credentials || return 1
  timeout 60 curl -fsS -m 55 $\{CONNECT_TO:+--connect-to "$CONNECT_TO"} -K "$aws_config" \
    --aws-sigv4 "aws:amz:$region:$service" "$@" "$url"
}

# aws_json SERVICE REGION HOST TARGET: an AWS JSON 1.1 call (ECR, SSM, Secrets Manager: POST /,
# the operation in X-Amz-Target, https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html),
# its JSON body read from stdin, so that no value is on a command line.
aws_json() {
  aws_api "$1" "$2" "$3" / -H "X-Amz-Target: $4" -H 'Content-Type: application/x-amz-json-1.1' \
    --data-binary @-
}

# The instance's id, type and zone (one request: the identity document,
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html) and its
# market, for the record and the cost.
read_metadata() {
  local document
  # curl resolves the "..": /latest/dynamic/instance-identity/document.
  imds_each ../dynamic/instance-identity/document instance-life-cycle
  document=$\{REPLIES[0]:-}
  purchase_option=$\{REPLIES[1]:-}
  field instanceId "$document"
  instance_id=$REPLY
  field instanceType "$document"
  instance_type=$REPLY
  field availabilityZone "$document"
  availability_zone=$REPLY
  case $purchase_option in
    spot | on-demand) ;;
    *) purchase_option='' ;;
  esac
}

docker_ready() {
  timeout 20 docker info >/dev/null 2>&1
}

# ECR GetAuthorizationToken: authorizationToken is base64 of "AWS:<password>"
# (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html);
# the password goes to docker login on stdin.
ecr_login() {
  local body login
  body=$(printf '{}' | aws_json ecr "$ECR_REGION" "api.ecr.$ECR_REGION.$AWS_DOMAIN" \
    AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken) || return 1
  field authorizationToken "$body"
  login=$(printf '%s' "$REPLY" | base64 -d) && [[ $login == AWS:?* ]] || return 1
  printf '%s' "$\{login#AWS:}" |
    timeout 60 docker login --username AWS --password-stdin "$ECR_REGISTRY" >/dev/null
}

${JSON_STRING}

# Prints $1 as a JSON string, or null when it is empty.
json_or_null() {
  if [[ -n $1 ]]; then json_string "$1"; else printf 'null'; fi
}

# usd MICRO: micro-dollars as dollars with 6 decimals.
usd() {
  printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
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
    estimated_cost=$(usd "$cost_micro")
  fi
}

run_record() {
  printf '{"runId":%s,"attempt":%d,"job":%s,"environment":%s,"region":%s,"status":%s,"phase":%s,"exitCode":%s,"message":%s,"scheduledTime":%s,"startedAt":%s,"endedAt":%s,"durationSeconds":%s,"instanceId":%s,"instanceType":%s,"purchaseOption":%s,"availabilityZone":%s,"estimatedCostUsd":%s,"imageUri":%s,"imageDigest":%s,"logGroup":%s,"logStream":%s,"summary":%s,"utilization":%s,"timings":%s}\n' \
    "$(json_string "$RUN_ID")" "$ATTEMPT" "$(json_string "$JOB")" "$(json_string "$ENVIRONMENT")" \
    "$(json_string "$REGION")" "$(json_string "$status")" "$(json_string "$phase")" \
    "$exit_code" "$(json_string "$message")" "$(json_string "$SCHEDULED_TIME")" \
    "$(json_or_null "$started_at")" "$(json_or_null "$ended_at")" "$duration_seconds" \
    "$(json_or_null "$instance_id")" "$(json_or_null "$instance_type")" \
    "$(json_or_null "$purchase_option")" "$(json_or_null "$availability_zone")" \
    "$estimated_cost" "$(json_string "$IMAGE_URI")" "$(json_or_null "$image_digest")" \
    "$(json_string "$LOG_GROUP")" "$(json_string "$RUN_ID")" "$(json_or_null "$summary")" \
    "$utilization" "$timings"
}

# S3 PutObject (REST: PUT of the object; S3 wants the payload's hash or UNSIGNED-PAYLOAD, which
# HTTPS makes safe, in x-amz-content-sha256:
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html; curl signs the
# header's value instead of hashing the body, https://github.com/curl/curl/pull/9804).
put_record() {
  run_record | aws_api s3 "$REGION" "$S3_HOST" "$S3_PATH/$RECORD_KEY" -X PUT \
    -H 'Content-Type: application/json' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    --data-binary @- >/dev/null
}

# query SERVICE REGION ACTION VERSION FIELD=VALUE...: an AWS query-protocol call (CloudWatch,
# SNS: a form POST with Action and Version,
# https://smithy.io/2.0/aws/protocols/aws-query-protocol.html); curl URL-encodes each value.
query() {
  local service=$1 region=$2 action=$3 version=$4 field
  local -a form=(--data-urlencode "Action=$action" --data-urlencode "Version=$version")
  shift 4
  for field; do form+=(--data-urlencode "$field"); done
  aws_api "$service" "$region" "$service.$region.$AWS_DOMAIN" / -m 25 "$\{form[@]}" >/dev/null
}

# metric NAME VALUE UNIT: one PutMetricData member with the job's dimensions, added to metrics.
metrics=()
metric() {
  local m="MetricData.member.$(($\{#metrics[@]} / 9 + 1))" d n=0
  metrics+=("$m.MetricName=$1" "$m.Value=$2" "$m.Unit=$3")
  for d in "Environment=$ENVIRONMENT" "Region=$REGION" "Job=$JOB"; do
    n=$((n + 1))
    metrics+=("$m.Dimensions.member.$n.Name=$\{d%%=*}" "$m.Dimensions.member.$n.Value=$\{d#*=}")
  done
}

# The attempt's metrics, best effort and bounded by its timeout: metrics must not keep the
# instance up. RunSucceeded/RunFailed and the notification are the run supervisor's, once per run.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
put_metrics() {
  metrics=()
  [[ $duration_seconds == null ]] || metric RunDurationSeconds "$duration_seconds" Seconds
  [[ $estimated_cost == null ]] || metric RunEstimatedCostUsd "$estimated_cost" None
  [[ -z $overhead_ms ]] || metric RunOverheadSeconds "$(seconds "$overhead_ms")" Seconds
  [[ -z $latency_ms ]] || metric RunStartLatencySeconds "$(seconds "$latency_ms")" Seconds
  utilization_metrics
  (($\{#metrics[@]})) || return 0
  query monitoring "$REGION" PutMetricData 2010-08-01 "Namespace=$METRIC_NAMESPACE" "$\{metrics[@]}"
}

# The interruption watcher. EC2 warns two minutes before it reclaims a spot instance
# (spot/instance-action: 404 until then, then {"action":...,"time":...},
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html)
# and lists scheduled stops, retirements and reboots in events/maintenance/scheduled
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instances-status-check_sched.html).
# On either it notes the notice and stops the container: SIGTERM, then SIGKILL after
# INTERRUPTION_GRACE_SECONDS, well within the two minutes, so that the record is written before
# EC2 ends the instance. It sleeps with read -t on a pipe nobody writes: no process per poll.
notice_file=''
watcher_pid=''
notice() {
  local body event code
  imds_each spot/instance-action events/maintenance/scheduled
  body=$\{REPLIES[0]:-}
  if [[ -n $body ]]; then
    field action "$body"
    printf 'a spot interruption notice (%s' "$\{REPLY:-terminate}"
    field time "$body"
    printf ' at %s)' "$\{REPLY:-an unknown time}"
    return 0
  fi
  body=$\{REPLIES[1]:-}
  [[ -n $body ]] || return 1
  while [[ $body =~ \{([^{}]*)\} ]]; do
    event=$\{BASH_REMATCH[1]}
    body=$\{body#*"$\{BASH_REMATCH[0]}"}
    field Code "$event"
    code=$REPLY
    field State "$event"
    [[ $REPLY != Completed && $REPLY != Canceled ]] || continue
    case $code in
      instance-stop | instance-retirement | instance-reboot | system-reboot)
        field NotBefore "$event"
        printf 'a scheduled %s event (not before %s)' "$code" "$\{REPLY:-an unknown time}"
        return 0
        ;;
    esac
  done
  return 1
}
watch_notices() {
  local nap text login=$EPOCHSECONDS
  exec {nap}<> <(:)
  while kill -0 "$$" 2>/dev/null; do
    read -rt "$NOTICE_POLL_SECONDS" -u "$nap" _ || true
    # A session token lives 6 hours: a new one every hour, by the clock (polls are slower when
    # IMDS is), and whatever the poll interval (the tests poll a fraction of a second).
    ((EPOCHSECONDS - login < 3600)) || { imds_login; login=$EPOCHSECONDS; }
    text=$(notice) || continue
    printf '%s' "$text" >"$notice_file"
    log "$text: stopping the job"
    timeout $((INTERRUPTION_GRACE_SECONDS + 10)) docker stop --time "$INTERRUPTION_GRACE_SECONDS" \
      "tj-$RUN_ID" >/dev/null 2>&1
    return 0
  done
}
start_watcher() {
  notice_file="$RUNTIME_DIR/$RUN_ID.notice"
  mkdir -p "$RUNTIME_DIR" && rm -f -- "$notice_file" || return 1
  watch_notices </dev/null &
  watcher_pid=$!
}
# interrupted: ends the attempt as interrupted, naming the notice and the container's status.
interrupted() {
  status=interrupted
  message="interrupted by $(<"$notice_file") during $phase$1"
  log "$message"
  exit 143
}

# The EXIT trap: whatever happened, write the run record, report, and power off. It ignores
# signals (a trap would exit before the power-off), errors and unset names.
finish() {
  local code=$?
  trap '' TERM INT HUP
  trap - EXIT
  set +eu
  [[ -z $watcher_pid ]] || kill "$watcher_pid" 2>/dev/null
  [[ -z $secrets_file ]] || rm -f -- "$secrets_file"
  ended_at=$(now)
  imds_login
  [[ -n $instance_id ]] || read_metadata
  aws_credentials || log "no credentials from the instance metadata; reporting will fail"
  if [[ -z $started_at ]]; then started_at=$ended_at; fi
  measure
  summarise_utilization quick
  # A container the shutdown stopped under the script ended about now.
  [[ -z $t_container_start || -n $t_container_exit ]] || stamp t_container_exit
  stamp t_record
  measure_timings
  if [[ -z $message ]]; then message="the init script exited with status $code during $phase"; fi
  log "run $status: $message"
  retry 3 "writing the attempt record" put_record || log "the attempt record could not be written"
  put_metrics || log "the metrics could not be published"
  rm -f -- "$aws_config" "$notice_file"
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
stamp t_start
started_epoch=$((t_start / 1000))
printf -v started_at '%(%Y-%m-%dT%H:%M:%SZ)T' "$started_epoch"
stop_epoch=$((started_epoch + STOP_AFTER_SECONDS))
# /proc/uptime: seconds since boot, with two decimals (https://man7.org/linux/man-pages/man5/proc_uptime.5.html).
read -r boot_seconds _ </proc/uptime && [[ $boot_seconds =~ ^[0-9]+\.[0-9]{2}$ ]] || boot_seconds=null

# What the record says of the instance is read at the end (read_metadata): nothing before the
# job but what it needs.
phase=metadata
imds_login
start_watcher || fail "could not start the interruption watcher"

phase=docker
retry 12 "waiting for Docker" docker_ready || fail "the Docker daemon did not become ready"
stamp t_docker

phase=login
if [[ -n $ECR_REGISTRY ]]; then
  retry 3 "logging in to $ECR_REGISTRY" ecr_login || fail "could not log in to $ECR_REGISTRY"
  stamp t_login
fi

phase=pull
retry "$PULL_ATTEMPTS" "pulling $IMAGE_URI" until_stop docker pull --quiet "$IMAGE_URI" || {
  past_stop && out_of_time "still pulling $IMAGE_URI at the stop time"
  fail "could not pull $IMAGE_URI"
}
stamp t_pulled
# One inspect for the digest and the size (bytes): https://docs.docker.com/reference/cli/docker/image/inspect/
read -r image_digest image_size < <(docker image inspect --format '{{index .RepoDigests 0}} {{.Size}}' \
  "$IMAGE_URI" 2>/dev/null) || true
image_digest=$\{image_digest##*@}
[[ $image_digest == sha256:* ]] || image_digest=''
[[ $image_size =~ ^[0-9]+$ ]] || image_size=null
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

// read_secret NAME KIND ID REGION JSON-KEY: one secret into the env file, read with SSM
// GetParameter or Secrets Manager GetSecretValue over JSON 1.1
// (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html). The
// value comes back as a JSON string, escapes and all, which python3 decodes: the ECS-optimized
// AL2023 AMI has it, as its dnf and the amazon-efs-utils its build installs are Python
// (https://github.com/aws/amazon-ecs-ami/blob/main/al2023.pkr.hcl). `printf` is a builtin and the
// request body goes on stdin, so the value is on no command line; the env file holds one line per
// variable, so a value with a line break is refused. Rendered only for a job with secrets: every byte counts against the
// 16 KB of user data.
const SECRET_FUNCTIONS = String.raw`read_secret() {
  local v
  case $2 in
    ssm) v=$(printf '{"Name":%s,"WithDecryption":true}' "$(json_string "$3")" |
      aws_json ssm "$4" "ssm.$4.$AWS_DOMAIN" AmazonSSM.GetParameter) ;;
    *) v=$(printf '{"SecretId":%s}' "$(json_string "$3")" |
      aws_json secretsmanager "$4" "secretsmanager.$4.$AWS_DOMAIN" secretsmanager.GetSecretValue) ;;
  esac || fail "could not read secret $1 from $2 $3 (missing, or the instance role may not read it)"
  v=$(printf '%s' "$v" | python3 -c 'import json,sys;d=json.load(sys.stdin);v=d["Parameter"]["Value"] if "Parameter" in d else d["SecretString"];k=sys.argv[1];print(json.loads(v)[k] if k else v,end="")' "$5" 2>/dev/null) ||
    fail "secret $1: $2 $3 $([[ -n $5 ]] && echo "is not a JSON object with the key $5" || echo "came back unreadable")"
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
// https://docs.aws.amazon.com/ebs/latest/userguide/raid-config.html) with LVM
// (`lvcreate --stripes`, https://man7.org/linux/man-pages/man8/lvcreate.8.html) when the AMI has
// lvm2. Nothing is installed on the run path: the ECS-optimized AL2023 AMI's build installs
// neither mdadm nor lvm2 (https://github.com/aws/amazon-ecs-ami/blob/main/al2023.pkr.hcl), so
// without LVM the first disk alone is the scratch space. A type of the job without one gets the
// root-volume folder, as every other job does.
const MOUNT_INSTANCE_STORE = String.raw`# shellcheck disable=SC2046
set -- $(lsblk -dno NAME,MODEL | awk '/EC2 NVMe Instance Storage/ {print "/dev/" $1}')
if (($# > 1)) && command -v lvcreate >/dev/null; then
  { timeout 60 vgcreate -qq tj "$@" && timeout 60 lvcreate -qq -y -i $# -l 100%FREE -n scratch tj; } >/dev/null ||
    fail "could not stripe $*"
  set -- /dev/tj/scratch
elif (($# > 1)); then
  log "no lvm2 on this AMI: scratch is $1 alone, not all $# instance-store disks"
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
    '[[ ! -s $notice_file ]] || interrupted ", before the job started"',
    // Sampling starts with the container, not before the steps that come first.
    "start_sampler",
    "stamp t_container_start",
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
  --env "CHECKPOINT_URI=$CHECKPOINT_URI" \
  --env "ATTEMPT=$ATTEMPT" \
  --env "AWS_REGION=$REGION"` + " \\"; // a raw template cannot end in a backslash

const RUN_COMMAND_TAIL = String.raw`  "$IMAGE_URI"; then
  exit_code=0
else
  exit_code=$?
fi
stamp t_container_exit`;

// docker stop: SIGTERM, then SIGKILL after the grace; docker wait: the container's exit status.
// https://docs.docker.com/reference/cli/docker/container/stop/
// https://docs.docker.com/reference/cli/docker/container/wait/
const MAIN_AFTER_RUN = String.raw`
# The messages below name the instance type: read now, after the job, not before it.
read_metadata
# until_stop killed the client at the stop time; the container still runs.
if ((exit_code == 137)) && past_stop; then
  status=timed-out
  log "the job is still running at the stop time; stopping it"
  timeout $((STOP_GRACE_SECONDS + 30)) docker stop --time "$STOP_GRACE_SECONDS" "tj-$RUN_ID" \
    >/dev/null || log "docker stop failed"
  exit_code=$(timeout 30 docker wait "tj-$RUN_ID") || exit_code=''
  [[ $exit_code =~ ^[0-9]+$ ]] || exit_code=null
  stamp t_container_exit
  message="still running $STOP_MARGIN_MINUTES min before the deadline: stopped, exit status $exit_code"
fi
summarise_utilization

# The job's last output line (Docker keeps a local copy of awslogs output), for the notification.
summary=$(timeout 20 docker logs --tail 1 "tj-$RUN_ID" 2>&1 | tr -d '
') || summary=''
summary=$(printf '%.200s' "$summary")

# The watcher stopped the container on a notice: the attempt is interrupted, not failed.
[[ ! -s $notice_file ]] || interrupted ": stopped, exit status $exit_code"
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
const STATIC_FUNCTIONS = [
  FUNCTIONS.replaceAll("$\\{", "${"),
  UTILIZATION_FUNCTIONS,
  NO_SECRETS_FILE,
].map(withoutComments);
const STATIC_SECRET_FUNCTIONS = withoutComments(SECRET_FUNCTIONS);
const STATIC_MAIN_BEFORE_RUN = withoutComments(MAIN_BEFORE_RUN.replaceAll("$\\{", "${"));
const STATIC_MAIN_SECRETS = withoutComments(MAIN_SECRETS);
const STATIC_RUN_COMMAND_HEAD = withoutComments(RUN_COMMAND_HEAD);
const STATIC_RUN_COMMAND_TAIL = withoutComments(RUN_COMMAND_TAIL);
const STATIC_MAIN_AFTER_RUN = withoutComments(MAIN_AFTER_RUN);
