/**
 * The job's parameters: environment variables (the contract with the init script) and command
 * line flags for local runs, validated together before any work starts. Pure: the environment,
 * the arguments, the CPU count and the clock are passed in.
 */

/** Where the result goes. */
export type OutputTarget =
  | {
      kind: "s3";
      bucket: string;
      /** Key prefix without leading or trailing slash, e.g. `jobs/pi/results`. */
      prefix: string;
      region: string;
      /** Objects larger than this are sent with a multipart upload. */
      multipartThresholdBytes: number;
    }
  | {
      kind: "local";
      /** Folder that receives `<run id>/`, relative to the working directory or absolute. */
      dir: string;
      /** Replace the results of a run with the same id (`--overwrite`); otherwise refuse. */
      overwrite: boolean;
    };

/** Where the run's checkpoint is kept between its attempts (CHECKPOINT_URI). */
export type CheckpointTarget =
  | {
      kind: "s3";
      bucket: string;
      /** Without leading or trailing slash; may be empty. */ prefix: string;
    }
  | { kind: "local"; dir: string };

/** Validated parameters of one run. */
export interface JobParams {
  durationSeconds: number;
  runId: string;
  workers: number;
  output: OutputTarget;
  /** Where to save and resume the run's state; none: every attempt starts from scratch. */
  checkpoint?: CheckpointTarget;
  /** Seconds between the checkpoints saved after finished steps (one is also saved on a stop). */
  checkpointIntervalSeconds: number;
}

/** What the command line asked for besides parameters. */
export type Invocation = { kind: "run"; params: JobParams } | { kind: "help" };

/** Invalid parameters; `problems` has one line per bad value, naming it, the rule and the fix. */
export class ParamError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid parameters:\n  ${problems.join("\n  ")}`);
    this.name = "ParamError";
  }
}

/** Defaults, declared once; the README's contract table lists the same values. */
export const PARAM_DEFAULTS = {
  durationSeconds: 10,
  resultsDir: "results",
  resultsPrefix: "results",
  multipartThresholdBytes: 8 * 1024 * 1024,
  checkpointIntervalSeconds: 300,
} as const;

export const MAX_DURATION_SECONDS = 86_400;
export const MAX_WORKERS = 1024;
/** S3's limit for a single PUT. */
export const MAX_MULTIPART_THRESHOLD_BYTES = 5 * 1024 ** 3;

/** Command line flags: the variable each one sets and an example value for messages. */
export const FLAGS: ReadonlyMap<string, { variable: string; example: string }> = new Map([
  ["--duration", { variable: "DURATION_SECONDS", example: "10" }],
  ["--workers", { variable: "WORKERS", example: "2" }],
  ["--out", { variable: "RESULTS_DIR", example: "results" }],
  ["--run-id", { variable: "RUN_ID", example: "pi-test-1" }],
  ["--checkpoint", { variable: "CHECKPOINT_URI", example: "checkpoints/pi-test-1" }],
]);

export const USAGE = `Usage: npm run job -- [--duration SECONDS] [--workers N] [--out DIR] [--run-id ID] [--overwrite] [--checkpoint DIR]
       (in the image: node dist/main.js [options])

Computes as many digits of Pi as fit in the duration and stores them with a manifest.

  --duration SECONDS  time budget, 1 to ${MAX_DURATION_SECONDS} (DURATION_SECONDS, default ${PARAM_DEFAULTS.durationSeconds})
  --workers N         worker threads (WORKERS, default: number of CPUs)
  --out DIR           local results folder (RESULTS_DIR, default ./${PARAM_DEFAULTS.resultsDir})
  --run-id ID         run id (RUN_ID, default local-<UTC time>)
  --overwrite         replace the results of an earlier local run with the same id
  --checkpoint DIR    save the run's state there (on a stop and every CHECKPOINT_INTERVAL_SECONDS,
                      default ${PARAM_DEFAULTS.checkpointIntervalSeconds}) and resume from it when the same --run-id runs again
                      (CHECKPOINT_URI: a folder, file:///folder/ or s3://bucket/prefix/)

With RESULTS_BUCKET set, results go to s3://RESULTS_BUCKET/RESULTS_PREFIX/RUN_ID/ instead.
`;

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9!_.*'()=-]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** An S3 key prefix: "/"-separated segments, none empty, "." or "..", at most 512 characters. */
function isKeyPrefix(prefix: string): boolean {
  return (
    prefix.length <= 512 &&
    prefix.split("/").every((s) => PREFIX_SEGMENT.test(s) && !/^\.+$/.test(s))
  );
}

/** `local-20261123T030405Z` for `now`. */
export function defaultRunId(now: Date): string {
  return `local-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}

/** Where `--overwrite` is kept among the flag values: no variable sets it. */
const OVERWRITE = "--overwrite";

/**
 * The job's flags npm took for its own: `npm run job --duration 10` (without `--`) sets
 * `npm_config_duration=true` and passes only `10` on.
 */
export function flagsTakenByNpm(env: Readonly<Record<string, string | undefined>>): string[] {
  return [...FLAGS.keys(), OVERWRITE].filter(
    (flag) => env[`npm_config_${flag.slice(2).replace(/-/g, "_")}`] !== undefined,
  );
}

/** A warning when more worker threads than cores were asked for: they only contend. */
export function workersWarning(workers: number, cpus: number): string | undefined {
  return workers > cpus
    ? `--workers ${workers} is more than the ${cpus} core(s) of this machine; the extra threads share cores and make each step slower, not faster`
    : undefined;
}

/** Splits the arguments into flag values (by variable name) or a help request. */
function parseFlags(argv: readonly string[], problems: string[]): Record<string, string> | "help" {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--overwrite") {
      values[OVERWRITE] = "true";
      continue;
    }
    const [flag, inline] = arg.startsWith("--") ? splitOnce(arg, "=") : [arg, undefined];
    const known = FLAGS.get(flag);
    if (!known) {
      problems.push(
        `${JSON.stringify(arg)} is not an option; use one of ${[...FLAGS.keys()].join(", ")} (see --help)`,
      );
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      problems.push(`${flag} needs a value, e.g. ${flag} ${known.example}`);
      continue;
    }
    if (inline === undefined) i++;
    values[known.variable] = value;
  }
  return values;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** A whole number within [min, max], or a problem line naming `name` and an example. */
function wholeNumber(
  name: string,
  raw: string,
  range: { min: number; max: number; unit: string; example: number },
  problems: string[],
): number | undefined {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    const example = name.startsWith("--") ? `${name} ${range.example}` : `${name}=${range.example}`;
    problems.push(
      `${name}: ${JSON.stringify(raw)} is not a whole number of ${range.unit} from ${range.min} to ${range.max}; use e.g. ${example}`,
    );
    return undefined;
  }
  return value;
}

/**
 * Validates the environment and the command line together (flags win over variables) and
 * applies the defaults. Throws {@link ParamError} listing every bad value.
 */
export function parseInvocation(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
  context: { cpus: number; now: Date },
): Invocation {
  const problems: string[] = [];
  const taken = flagsTakenByNpm(env);
  if (taken.length > 0 && argv.some((arg) => !arg.startsWith("--"))) {
    throw new ParamError([
      `npm took ${taken.join(", ")} for itself and passed on only ${argv.map((a) => JSON.stringify(a)).join(" ")}: put "--" before the job's options, e.g. npm run job -- ${taken[0]}${taken[0] === OVERWRITE ? "" : ` ${FLAGS.get(taken[0])?.example ?? ""}`}`,
    ]);
  }
  const flags = parseFlags(argv, problems);
  if (flags === "help") return { kind: "help" };
  const flagFor = (variable: string) =>
    [...FLAGS].find(([, known]) => known.variable === variable)?.[0];
  // A value, the name to blame in messages (the flag if given there), or undefined when unset.
  const read = (variable: string): { raw: string; name: string } | undefined => {
    if (flags[variable] !== undefined) {
      return { raw: flags[variable], name: flagFor(variable) ?? variable };
    }
    const raw = env[variable];
    return raw === undefined || raw === "" ? undefined : { raw, name: variable };
  };

  // A whole number of seconds, 1 to MAX_DURATION_SECONDS, or `fallback` when unset.
  const seconds = (variable: string, example: number, fallback: number) => {
    const given = read(variable);
    return given
      ? wholeNumber(
          given.name,
          given.raw,
          { min: 1, max: MAX_DURATION_SECONDS, unit: "seconds", example },
          problems,
        )
      : fallback;
  };

  const durationSeconds = seconds("DURATION_SECONDS", 10, PARAM_DEFAULTS.durationSeconds);

  const workersRaw = read("WORKERS");
  const workers = workersRaw
    ? wholeNumber(
        workersRaw.name,
        workersRaw.raw,
        { min: 1, max: MAX_WORKERS, unit: "threads", example: 2 },
        problems,
      )
    : Math.max(1, Math.min(MAX_WORKERS, context.cpus));

  const runIdRaw = read("RUN_ID");
  if (runIdRaw && !RUN_ID.test(runIdRaw.raw)) {
    problems.push(
      `${runIdRaw.name}: ${JSON.stringify(runIdRaw.raw)} is not a valid run id; use 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. pi-20261123T0300Z)`,
    );
  }

  const region = read("AWS_REGION");
  if (region && !REGION.test(region.raw)) {
    problems.push(
      `AWS_REGION: ${JSON.stringify(region.raw)} is not an AWS region name; use e.g. eu-west-1`,
    );
  }

  const bucket = read("RESULTS_BUCKET");
  const prefixRaw = read("RESULTS_PREFIX");
  const dirRaw = read("RESULTS_DIR");
  const thresholdRaw = read("RESULTS_MULTIPART_THRESHOLD_BYTES");
  let output: OutputTarget | undefined;
  if (bucket) {
    if (!BUCKET.test(bucket.raw) || bucket.raw.includes("..")) {
      problems.push(
        `RESULTS_BUCKET: ${JSON.stringify(bucket.raw)} is not an S3 bucket name; use 3 to 63 lowercase letters, digits, "." or "-", starting and ending with a letter or digit`,
      );
    }
    if (!region) {
      problems.push(
        "AWS_REGION: not set but RESULTS_BUCKET is; set AWS_REGION to the bucket's region (e.g. eu-west-1)",
      );
    }
    if (!runIdRaw) {
      problems.push(
        "RUN_ID: not set but RESULTS_BUCKET is; the launcher sets it on every run (e.g. RUN_ID=pi-20261123T0300Z)",
      );
    }
    if (dirRaw) {
      problems.push(
        `${dirRaw.name}: a local folder cannot be used with RESULTS_BUCKET; unset RESULTS_BUCKET to write locally, or drop ${dirRaw.name}`,
      );
    }
    const prefix = prefixRaw?.raw ?? PARAM_DEFAULTS.resultsPrefix;
    if (!isKeyPrefix(prefix)) {
      problems.push(
        `RESULTS_PREFIX: ${JSON.stringify(prefix)} is not a key prefix; use "/"-separated segments of letters, digits and !_.*'()=- with no leading, trailing or double "/" and no "." or ".." segment (e.g. jobs/pi/results)`,
      );
    }
    const threshold = thresholdRaw
      ? wholeNumber(
          thresholdRaw.name,
          thresholdRaw.raw,
          { min: 1, max: MAX_MULTIPART_THRESHOLD_BYTES, unit: "bytes", example: 8388608 },
          problems,
        )
      : PARAM_DEFAULTS.multipartThresholdBytes;
    output = {
      kind: "s3",
      bucket: bucket.raw,
      prefix,
      region: region?.raw ?? "",
      multipartThresholdBytes: threshold ?? 0,
    };
  } else {
    for (const unused of [prefixRaw, thresholdRaw]) {
      if (unused) {
        problems.push(
          `${unused.name}: applies only to S3 output but RESULTS_BUCKET is not set; set RESULTS_BUCKET or unset ${unused.name}`,
        );
      }
    }
    output = {
      kind: "local",
      dir: dirRaw?.raw ?? PARAM_DEFAULTS.resultsDir,
      overwrite: flags[OVERWRITE] === "true",
    };
  }

  const checkpointRaw = read("CHECKPOINT_URI");
  const checkpoint = checkpointRaw && checkpointTarget(checkpointRaw, problems);
  if (checkpoint?.kind === "s3" && !region) {
    problems.push(
      `${checkpointRaw?.name}: an S3 checkpoint needs AWS_REGION; set AWS_REGION to the bucket's region (e.g. eu-west-1)`,
    );
  }
  if (checkpointRaw && !runIdRaw) {
    problems.push(
      `${checkpointRaw.name}: a checkpoint is resumed by the run with the same id, but RUN_ID is not set; set RUN_ID (or --run-id), e.g. --run-id pi-test-1`,
    );
  }
  const checkpointIntervalSeconds = seconds(
    "CHECKPOINT_INTERVAL_SECONDS",
    300,
    PARAM_DEFAULTS.checkpointIntervalSeconds,
  );

  if (problems.length > 0) throw new ParamError(problems);
  return {
    kind: "run",
    params: {
      durationSeconds: durationSeconds as number,
      runId: runIdRaw?.raw ?? defaultRunId(context.now),
      workers: workers as number,
      output,
      ...(checkpoint ? { checkpoint } : {}),
      checkpointIntervalSeconds: checkpointIntervalSeconds as number,
    },
  };
}

/**
 * CHECKPOINT_URI: `s3://bucket/prefix/` (what the init script passes), `file:///folder/` or a
 * plain folder path (`--checkpoint`); a problem line otherwise.
 */
function checkpointTarget(
  { raw, name }: { raw: string; name: string },
  problems: string[],
): CheckpointTarget | undefined {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw);
  if (s3) {
    const [, bucket, rest] = s3;
    const prefix = rest.replace(/\/$/, "");
    const validPrefix = prefix === "" || isKeyPrefix(prefix);
    if (!BUCKET.test(bucket) || bucket.includes("..") || !validPrefix) {
      problems.push(
        `${name}: ${JSON.stringify(raw)} is not an S3 location; use s3://<bucket>/<prefix>/ with a bucket name of 3 to 63 lowercase letters, digits, "." or "-" and "/"-separated key segments (e.g. s3://tj-results/jobs/pi/checkpoints/pi-20261123T0300Z/)`,
      );
      return undefined;
    }
    return { kind: "s3", bucket, prefix };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !raw.startsWith("file:///")) {
    problems.push(
      `${name}: ${JSON.stringify(raw)} is neither s3://, file:/// nor a folder path; use e.g. s3://tj-results/jobs/pi/checkpoints/pi-test-1/ or checkpoints/pi-test-1`,
    );
    return undefined;
  }
  return { kind: "local", dir: raw.startsWith("file://") ? decodeURI(raw.slice(7)) : raw };
}
