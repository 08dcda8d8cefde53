/**
 * The job's entry point (`node dist/main.js`): parameters, the run loop on a worker pool, the
 * result written to S3 or a local folder. Exit codes: 0 done, 1 failed, 2 invalid parameters,
 * 143 stopped by SIGTERM/SIGINT (after writing what was done).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  Checkpoint,
  CheckpointError,
  CheckpointSaver,
  CheckpointStore,
  decodeCheckpoint,
  LocalCheckpointStore,
} from "./checkpoint";
import { runPiJob } from "./job";
import { LocalResultWriter } from "./localWriter";
import { buildManifest, encodePiData, ResultWriter } from "./manifest";
import { JobParams, ParamError, parseInvocation, USAGE, workersWarning } from "./params";
import { computePiDigits, createSeriesCache } from "./pi";
import { INCREMENTAL_PLANNER } from "./planner";
import { createProgressReporter, formatCount } from "./progress";
import { WorkerPool } from "./workerPool";

/** Exit codes, part of the job contract. */
export const EXIT = { ok: 0, failed: 1, badParameters: 2, stopped: 143 } as const;

/** The longest writing the result may take before the run fails (a hung disk or network). */
export const WRITE_TIMEOUT_MS = 120_000;

/** `work`, or a rejection naming `what` once `timeoutMs` has passed. */
async function within<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the result, failing after `timeoutMs` instead of hanging past the instance's deadline. */
export async function writeWithin(
  writer: ResultWriter,
  data: Buffer,
  manifest: Parameters<ResultWriter["write"]>[1],
  timeoutMs = WRITE_TIMEOUT_MS,
): Promise<Awaited<ReturnType<ResultWriter["write"]>>> {
  return within(
    writer.write(data, manifest),
    timeoutMs,
    `writing the result to ${writer.destination}`,
  );
}

/**
 * Checks that the result can be written (`writer.prepare()`), before any computation, under the
 * same time limit as the write itself.
 */
export async function prepareWithin(
  writer: ResultWriter,
  timeoutMs = WRITE_TIMEOUT_MS,
): Promise<void> {
  await within(writer.prepare(), timeoutMs, `checking that ${writer.destination} can be written`);
}

/** Time kept for writing the result: 5% of the duration, from 0.2 s to 15 s. */
export function writeReserveMs(durationSeconds: number): number {
  return Math.min(15_000, Math.max(200, durationSeconds * 50));
}

/** The job package's version, from the package.json next to `src/` or `dist/`. */
export function jobVersion(): string {
  const file = path.join(__dirname, "..", "package.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}

/**
 * The writer of the run's result. `replacing`: this attempt resumes the run, so an earlier
 * attempt's result of the same run id is replaced.
 */
async function createWriter(
  params: JobParams,
  replacing: boolean,
): Promise<{ writer: ResultWriter; close: () => void }> {
  const { output } = params;
  if (output.kind === "local") {
    return {
      writer: new LocalResultWriter(output.dir, params.runId, output.overwrite || replacing),
      close: () => undefined,
    };
  }
  // Loaded only for S3 output: the SDK takes a few hundred milliseconds to load.
  const [{ S3Client }, { S3ResultWriter }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("./s3Writer"),
  ]);
  const client = new S3Client({ region: output.region });
  const writer = new S3ResultWriter(client, {
    bucket: output.bucket,
    prefix: output.prefix,
    runId: params.runId,
    multipartThresholdBytes: output.multipartThresholdBytes,
  });
  return { writer, close: () => client.destroy() };
}

/** The run's checkpoint store, if it has one. */
async function openCheckpoints(
  params: JobParams,
): Promise<{ store: CheckpointStore; close: () => void } | undefined> {
  const target = params.checkpoint;
  if (!target) return undefined;
  if (target.kind === "local") {
    return { store: new LocalCheckpointStore(target.dir), close: () => undefined };
  }
  const [{ S3Client }, { S3CheckpointStore }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("./s3Checkpoint"),
  ]);
  // AWS_REGION is required with an S3 checkpoint (params.ts).
  const client = new S3Client({ region: process.env.AWS_REGION });
  return {
    store: new S3CheckpointStore(client, target.bucket, target.prefix),
    close: () => client.destroy(),
  };
}

/**
 * The checkpoint an earlier attempt of this run left, if any. One that cannot be used (another
 * run's, damaged) is reported and ignored: the run starts again. One that cannot be read fails
 * the run: starting again would silently throw away the earlier attempts' work.
 */
async function loadCheckpoint(
  store: CheckpointStore,
  runId: string,
  out: (text: string) => void,
): Promise<Checkpoint | undefined> {
  const data = await within(store.load(), WRITE_TIMEOUT_MS, `reading ${store.location}`);
  if (!data) return undefined;
  try {
    return decodeCheckpoint(data, runId);
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    out(
      `pi: warning: the checkpoint ${store.location} cannot be used (${error.message}); starting the run again\n`,
    );
    return undefined;
  }
}

async function run(params: JobParams, out: (text: string) => void): Promise<number> {
  // performance.now() counts from process start, so the budget includes Node's own start-up.
  const startedAt = new Date(Date.now() - performance.now());
  const fullDeadline = params.durationSeconds * 1000 - writeReserveMs(params.durationSeconds);

  // Installed first, so a signal during start-up is handled too.
  const stop = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      // A second signal (e.g. a second Ctrl-C while writing): give up at once.
      process.exit(EXIT.stopped);
    }
    out(`\npi: ${name} received; keeping the last verified step\n`);
    stop.abort("signal");
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  let closeWriter: (() => void) | undefined;
  let closeCheckpoints: (() => void) | undefined;
  let pool: WorkerPool | undefined;
  // Less when this attempt resumes: the earlier attempts used part of the duration.
  let deadline = fullDeadline;
  const progress = createProgressReporter({
    write: out,
    tty: process.stdout.isTTY === true,
    leftMs: () => deadline - performance.now(),
  });
  try {
    // The threads start while the checkpoint is read.
    const threads = new WorkerPool(params.workers);
    pool = threads;
    const checkpoints = await openCheckpoints(params);
    closeCheckpoints = checkpoints?.close;
    const resumed = checkpoints && (await loadCheckpoint(checkpoints.store, params.runId, out));
    deadline = fullDeadline - (resumed?.usedMs ?? 0);
    const { writer, close } = await createWriter(params, resumed !== undefined);
    closeWriter = close;
    // The write check overlaps the threads' start-up (it costs the budget nothing then); both end
    // before any computation, and a failed check ends the run here.
    await Promise.all([prepareWithin(writer), threads.ready()]);
    out(
      `pi: run ${params.runId}, ${params.durationSeconds} s on ${params.workers} worker thread(s), results to ${writer.destination}\n`,
    );
    if (resumed) {
      out(
        `pi: resuming from ${checkpoints?.store.location}: ${formatCount(resumed.pi.length - 2)} digits, ${Math.round(resumed.usedMs / 1000)} s of ${params.durationSeconds} s used\n`,
      );
    }
    // The series part of the terms summed so far: each step adds only its new terms.
    const cache = resumed ? { terms: resumed.terms, part: resumed.part } : createSeriesCache();
    const saver =
      checkpoints &&
      new CheckpointSaver({
        store: checkpoints.store,
        runId: params.runId,
        usedBefore: resumed?.usedMs ?? 0,
        series: cache,
        intervalMs: params.checkpointIntervalSeconds * 1000,
        now: () => performance.now(),
        warn: (message) => out(`pi: warning: ${message}\n`),
      });
    const result = await runPiJob({
      deadline,
      signal: stop.signal,
      planner: INCREMENTAL_PLANNER,
      compute: (digits, signal, step) =>
        computePiDigits(digits, { pool: threads, signal, cache, keepP: step.mayContinue }),
      onStepStarted: (target) => progress.stepStarted(target),
      onStepFinished: (digits, ms) => progress.stepFinished(digits, ms),
      onStepVerified: (state) => saver?.stepVerified(state),
      ...(resumed
        ? {
            resume: {
              pi: resumed.pi,
              steps: resumed.steps,
              extendable: resumed.part.p !== undefined,
            },
          }
        : {}),
    });
    progress.stop();
    if (saver && result.pi && result.stopReason === "signal") {
      // Stopped (a spot reclaim, a scheduled stop): the next attempt resumes from here.
      await within(
        saver.saveNow({ pi: result.pi, steps: result.steps }),
        WRITE_TIMEOUT_MS,
        `saving the checkpoint to ${saver.location}`,
      );
      out(`pi: saved the checkpoint to ${saver.location}\n`);
    }
    // Stop the threads now: a step abandoned at the deadline would otherwise keep a core busy.
    await threads.close();
    if (!result.pi) {
      if (result.stopReason === "signal") {
        out("pi: stopped before the first step finished; nothing to write\n");
        return EXIT.stopped;
      }
      throw new Error(
        `no step finished within ${params.durationSeconds} s; set a longer DURATION_SECONDS`,
      );
    }
    const data = encodePiData(result.pi);
    const manifest = buildManifest(data, {
      runId: params.runId,
      version: jobVersion(),
      startedAt,
      finishedAt: new Date(startedAt.getTime() + result.endedAt),
      durationSeconds: params.durationSeconds,
      workers: params.workers,
      stopReason: result.stopReason,
      steps: result.steps,
      ...(resumed ? { resumed: { digits: resumed.pi.length - 2, usedMs: resumed.usedMs } } : {}),
    });
    const stored = await writeWithin(writer, data, manifest);
    out(
      `pi: ${formatCount(manifest.digits)} digits in ${manifest.seconds} s (${result.stopReason}); wrote ${stored.data} and ${stored.manifest}\n`,
    );
    return result.stopReason === "signal" ? EXIT.stopped : EXIT.ok;
  } finally {
    progress.stop();
    await pool?.close();
    closeWriter?.();
    closeCheckpoints?.();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

/** Parses the parameters, runs the job and returns the exit code; never rejects. */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const out = (text: string) => void process.stdout.write(text);
  try {
    const invocation = parseInvocation(env, argv, {
      cpus: os.availableParallelism(),
      now: new Date(),
    });
    if (invocation.kind === "help") {
      out(USAGE);
      return EXIT.ok;
    }
    const warning = workersWarning(invocation.params.workers, os.availableParallelism());
    if (warning) process.stderr.write(`pi: warning: ${warning}\n`);
    return await run(invocation.params, out);
  } catch (error) {
    if (error instanceof ParamError) {
      process.stderr.write(`pi: ${error.message}\n`);
      return EXIT.badParameters;
    }
    process.stderr.write(`pi: failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
