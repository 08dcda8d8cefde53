/**
 * The stored form of a result: the data object (`pi.txt`) and its manifest. Pure: the manifest
 * is built from the exact bytes that will be stored, so its hash and count describe them.
 */
import { createHash } from "node:crypto";

/** Name of the data object inside the run's folder. */
export const DATA_FILE = "pi.txt";
/** Name of the manifest inside the run's folder. */
export const MANIFEST_FILE = "manifest.json";
/** Content types of the two objects. */
export const DATA_CONTENT_TYPE = "text/plain";
export const MANIFEST_CONTENT_TYPE = "application/json";
/** The algorithm name written to manifests. */
export const ALGORITHM = "chudnovsky-binary-splitting";

/** Why a run stopped. */
export type StopReason =
  /** The next step would not have finished in time (the normal end). */
  | "planned"
  /** A step was cut off at the deadline; its work was dropped. */
  | "deadline"
  /** SIGTERM or SIGINT; the last finished step was kept. */
  | "signal"
  /** The largest supported digit count was reached. */
  | "max-digits";

/** `manifest.json`. Field names are part of the job contract (see README). */
export interface Manifest {
  runId: string;
  algorithm: string;
  /** Version of the job package. */
  version: string;
  /** Decimal places in the data object (after "3."). */
  digits: number;
  /** Seconds from `startedAt` to `finishedAt`. */
  seconds: number;
  /** Hex SHA-256 of the data object's bytes. */
  sha256: string;
  /** Size of the data object in bytes. */
  bytes: number;
  /** Data object name, next to the manifest. */
  dataFile: string;
  contentType: string;
  /** When the job process started and when the computation ended, ISO-8601 UTC. */
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  workers: number;
  stopReason: StopReason;
  /** Each step's target and time, in order (earlier attempts' included); the data holds the last. */
  steps: { digits: number; seconds: number }[];
  /**
   * Present when this attempt resumed from a checkpoint: the digits it started from and the
   * seconds of DURATION_SECONDS the run's earlier attempts had used.
   */
  resumed?: { digits: number; usedSeconds: number };
}

/** Bytes of the data object for `pi` (`"3.1415…"`): the digits and a final newline. */
export function encodePiData(pi: string): Buffer {
  if (!/^3\.\d+$/.test(pi)) {
    throw new Error(
      `encodePiData: expected "3." followed by digits, got ${JSON.stringify(pi.slice(0, 20))}`,
    );
  }
  return Buffer.from(`${pi}\n`, "ascii");
}

/** Hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Seconds rounded to milliseconds. */
function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** Everything {@link buildManifest} needs besides the data. */
export interface ManifestInput {
  runId: string;
  version: string;
  startedAt: Date;
  finishedAt: Date;
  durationSeconds: number;
  workers: number;
  stopReason: StopReason;
  steps: readonly { digits: number; ms: number }[];
  resumed?: { digits: number; usedMs: number };
}

/** The manifest describing `data` (as made by {@link encodePiData}). */
export function buildManifest(data: Buffer, input: ManifestInput): Manifest {
  const text = data.toString("ascii");
  const match = /^3\.(\d+)\n$/.exec(text);
  if (!match) throw new Error("buildManifest: data is not in the pi.txt format (3.<digits>\\n)");
  return {
    runId: input.runId,
    algorithm: ALGORITHM,
    version: input.version,
    digits: match[1].length,
    seconds: seconds(input.finishedAt.getTime() - input.startedAt.getTime()),
    sha256: sha256Hex(data),
    bytes: data.length,
    dataFile: DATA_FILE,
    contentType: DATA_CONTENT_TYPE,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    durationSeconds: input.durationSeconds,
    workers: input.workers,
    stopReason: input.stopReason,
    steps: input.steps.map((s) => ({ digits: s.digits, seconds: seconds(s.ms) })),
    ...(input.resumed
      ? { resumed: { digits: input.resumed.digits, usedSeconds: seconds(input.resumed.usedMs) } }
      : {}),
  };
}

/** The manifest as stored: pretty JSON with a final newline. */
export function encodeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
}

/** Where a result was stored, for the log line and the caller. */
export interface StoredLocation {
  /** `s3://bucket/key` or a file path. */
  data: string;
  manifest: string;
}

/** Stores the data object, then the manifest: a manifest's presence means its data is complete. */
export interface ResultWriter {
  /** Where a run's objects go, e.g. `s3://bucket/jobs/pi/results/<run>/`. */
  readonly destination: string;
  /** Checks, before any work, that the result can be written there; throws if not. */
  prepare(): Promise<void>;
  write(data: Buffer, manifest: Manifest): Promise<StoredLocation>;
}
