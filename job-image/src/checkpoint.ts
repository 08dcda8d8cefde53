/**
 * A run's state between its attempts: when an attempt is interrupted (a spot reclaim, a stop),
 * the next attempt of the same run resumes from it instead of starting again. It holds the last
 * verified digits, the steps so far (the planner predicts from them), the series part summed so
 * far (extended by the next step when it has P) and the compute time already used, which counts
 * against DURATION_SECONDS. One object, `checkpoint.bin`, replaced whole: a reader sees the
 * previous state or the new one, never a mix.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { SeriesPart } from "./chudnovsky";
import type { StepTiming } from "./planner";

/** Name of the checkpoint object inside CHECKPOINT_URI. */
export const CHECKPOINT_FILE = "checkpoint.bin";

/** The first line of every checkpoint: what it is and the format's version. */
const MAGIC = "transient-jobs pi checkpoint 1\n";

/** A run's state, as the attempt that wrote it left it. */
export interface Checkpoint {
  runId: string;
  /** Milliseconds of DURATION_SECONDS the run's attempts have used so far. */
  usedMs: number;
  /** The last verified result, `"3.1415…"`. */
  pi: string;
  /** The steps that led to it, in order. */
  steps: StepTiming[];
  /** The series part of terms `[0, terms)`; extendable when it has `p`. */
  terms: number;
  part: SeriesPart;
}

/** A checkpoint that cannot be used: another run's, truncated, altered or of another format. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

interface Header {
  runId: string;
  usedMs: number;
  steps: StepTiming[];
  terms: number;
  /** Byte lengths and signs of the body's sections, in order: q, t, p (if any), then the places. */
  sections: { name: "q" | "t" | "p" | "places"; bytes: number; negative?: boolean }[];
  /** Hex SHA-256 of the body. */
  sha256: string;
}

function bigintBytes(value: bigint): Buffer {
  const hex = (value < 0n ? -value : value).toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex");
}

function bytesBigint(bytes: Buffer, negative: boolean): bigint {
  const value = bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString("hex")}`);
  return negative ? -value : value;
}

/** The stored form of `checkpoint`: the format line, a JSON header line, then binary sections. */
export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  if (!/^3\.\d+$/.test(checkpoint.pi)) {
    throw new Error(`encodeCheckpoint: pi must be "3." and digits`);
  }
  const numbers: [Header["sections"][number]["name"], bigint][] = [
    ["q", checkpoint.part.q],
    ["t", checkpoint.part.t],
  ];
  if (checkpoint.part.p !== undefined) numbers.push(["p", checkpoint.part.p]);
  const chunks = numbers.map(([, value]) => bigintBytes(value));
  chunks.push(Buffer.from(checkpoint.pi.slice(2), "ascii"));
  const body = Buffer.concat(chunks);
  const header: Header = {
    runId: checkpoint.runId,
    usedMs: Math.round(checkpoint.usedMs),
    steps: checkpoint.steps,
    terms: checkpoint.terms,
    sections: [
      ...numbers.map(([name, value], i) => ({
        name,
        bytes: chunks[i].length,
        ...(value < 0n ? { negative: true } : {}),
      })),
      { name: "places" as const, bytes: chunks[chunks.length - 1].length },
    ],
    sha256: createHash("sha256").update(body).digest("hex"),
  };
  return Buffer.concat([Buffer.from(`${MAGIC}${JSON.stringify(header)}\n`, "utf8"), body]);
}

/**
 * The checkpoint in `data`, which must be `runId`'s. Throws {@link CheckpointError} saying what
 * is wrong with it; the caller then starts the run again rather than resume from bad state.
 */
export function decodeCheckpoint(data: Buffer, runId: string): Checkpoint {
  if (data.subarray(0, MAGIC.length).toString("utf8") !== MAGIC) {
    throw new CheckpointError("it is not a Pi job checkpoint of format 1");
  }
  const headerEnd = data.indexOf(0x0a, MAGIC.length);
  if (headerEnd < 0) throw new CheckpointError("its header is cut off");
  let header: Header;
  try {
    header = JSON.parse(data.subarray(MAGIC.length, headerEnd).toString("utf8")) as Header;
  } catch {
    throw new CheckpointError("its header is not JSON");
  }
  if (
    typeof header?.runId !== "string" ||
    typeof header.sha256 !== "string" ||
    !Array.isArray(header.sections) ||
    !Array.isArray(header.steps) ||
    !Number.isSafeInteger(header.terms) ||
    !Number.isFinite(header.usedMs)
  ) {
    throw new CheckpointError("its header lacks runId, usedMs, steps, terms, sections or sha256");
  }
  if (header.runId !== runId) {
    throw new CheckpointError(`it belongs to run ${JSON.stringify(header.runId)}, not ${runId}`);
  }
  const body = data.subarray(headerEnd + 1);
  const expected = header.sections.reduce((sum, s) => sum + s.bytes, 0);
  if (expected !== body.length) {
    throw new CheckpointError(`its body has ${body.length} bytes, not ${expected}`);
  }
  if (createHash("sha256").update(body).digest("hex") !== header.sha256) {
    throw new CheckpointError("its body does not match its SHA-256");
  }
  const values: Partial<Record<Header["sections"][number]["name"], Buffer>> = {};
  const signs: Partial<Record<string, boolean>> = {};
  let offset = 0;
  for (const section of header.sections) {
    values[section.name] = body.subarray(offset, offset + section.bytes);
    signs[section.name] = section.negative === true;
    offset += section.bytes;
  }
  const places = values.places?.toString("ascii") ?? "";
  if (!values.q || !values.t || !/^\d+$/.test(places)) {
    throw new CheckpointError("it lacks the series part or the digits");
  }
  const part: SeriesPart = {
    q: bytesBigint(values.q, false),
    t: bytesBigint(values.t, signs.t === true),
  };
  if (values.p) part.p = bytesBigint(values.p, false);
  return {
    runId,
    usedMs: header.usedMs,
    pi: `3.${places}`,
    steps: header.steps,
    terms: header.terms,
    part,
  };
}

/** Where a run's checkpoint is kept: a local folder or an S3 prefix. */
export interface CheckpointStore {
  /** For messages: `s3://bucket/prefix/checkpoint.bin` or a file path. */
  readonly location: string;
  /** The stored checkpoint's bytes, or undefined when there is none yet. */
  load(): Promise<Buffer | undefined>;
  /** Replaces the stored checkpoint with `data`, whole. */
  save(data: Buffer): Promise<void>;
}

/** A {@link CheckpointStore} in a local folder: written to a temporary name, flushed, renamed. */
export class LocalCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(dir: string) {
    this.location = path.join(dir, CHECKPOINT_FILE);
  }

  async load(): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async save(data: Buffer): Promise<void> {
    await fs.mkdir(path.dirname(this.location), { recursive: true });
    const temporary = `${this.location}.partial`;
    const handle = await fs.open(temporary, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, this.location);
  }
}

/** What a checkpoint is made of at a moment of the run, besides what the saver knows. */
export interface RunState {
  pi: string;
  steps: readonly StepTiming[];
}

/** Options of {@link CheckpointSaver}. */
export interface CheckpointSaverOptions {
  store: CheckpointStore;
  runId: string;
  /** Milliseconds the run's earlier attempts used. */
  usedBefore: number;
  /** The series cache the steps update (read when a checkpoint is taken). */
  series: { terms: number; part?: SeriesPart };
  /** Least milliseconds between two periodic saves. */
  intervalMs: number;
  /** Milliseconds since this attempt started (performance.now in the job). */
  now: () => number;
  /** Told about saves that failed: a periodic save's failure does not stop the run. */
  warn: (message: string) => void;
}

/**
 * Saves the run's checkpoint after steps, at most once per interval and one at a time in the
 * background (the next step runs meanwhile), and on demand at a stop.
 */
export class CheckpointSaver {
  private lastSavedAt: number;
  private saving: Promise<void> | undefined;

  constructor(private readonly options: CheckpointSaverOptions) {
    this.lastSavedAt = options.now();
  }

  /** Where the checkpoints go. */
  get location(): string {
    return this.options.store.location;
  }

  /** After a verified step: saves in the background when the interval has passed. */
  stepVerified(state: RunState): void {
    if (this.saving || this.options.now() - this.lastSavedAt < this.options.intervalMs) return;
    this.saving = this.save(state)
      .catch((error: unknown) =>
        this.options.warn(
          `saving the checkpoint to ${this.options.store.location} failed (${error instanceof Error ? error.message : String(error)}); the run goes on`,
        ),
      )
      .finally(() => (this.saving = undefined));
  }

  /** At a stop: waits for a save under way, then saves the state now. Rejects if it fails. */
  async saveNow(state: RunState): Promise<void> {
    await this.saving;
    await this.save(state);
  }

  private async save(state: RunState): Promise<void> {
    const { series } = this.options;
    if (!series.part) return;
    // Taken synchronously: the steps replace the cache's part, never change it in place.
    const data = encodeCheckpoint({
      runId: this.options.runId,
      usedMs: this.options.usedBefore + this.options.now(),
      pi: state.pi,
      steps: [...state.steps],
      terms: series.terms,
      part: series.part,
    });
    this.lastSavedAt = this.options.now();
    await this.options.store.save(data);
  }
}
