/**
 * A fixed set of worker threads running `piWorker.js`, one task per thread at a time, first come
 * first served. The heavy BigInt work happens only here, so the main thread stays free for the
 * clock, signals and progress output.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { TaskRequest, TaskResponse } from "./piWorker";
import type { ResultOf, Task } from "./tasks";

/** A task rejected because its AbortSignal fired; `reason` is the signal's reason. */
export class AbortedError extends Error {
  constructor(readonly reason: unknown) {
    super(`aborted: ${String(reason)}`);
    this.name = "AbortedError";
  }
}

/** A task rejected because the pool was closed (or broke) before it finished. */
export class PoolClosedError extends Error {
  constructor(message = "the worker pool is closed") {
    super(message);
    this.name = "PoolClosedError";
  }
}

/**
 * The compiled worker script. Next to this file when running from `dist`; from the TypeScript
 * sources (tests under ts-node) the compiled copy in `../dist`, since a thread cannot load `.ts`.
 */
export function defaultWorkerScript(): string {
  return __filename.endsWith(".ts")
    ? path.join(__dirname, "..", "dist", "piWorker.js")
    : path.join(__dirname, "piWorker.js");
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Path of the compiled worker script; default {@link defaultWorkerScript}. */
  script?: string;
}

interface Pending {
  id: number;
  task: Task;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  settled: boolean;
  cleanup: () => void;
}

/** A pool of `size` worker threads. Call {@link WorkerPool.close} when done, or the process stays alive. */
export class WorkerPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private nextId = 1;
  private closed?: PoolClosedError;

  constructor(size: number, options: WorkerPoolOptions = {}) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`WorkerPool: size ${size} must be a whole number of at least 1`);
    }
    const script = options.script ?? defaultWorkerScript();
    if (!fs.existsSync(script)) {
      throw new Error(
        `WorkerPool: worker script ${script} does not exist; build the job first (npx tsc -p job-image)`,
      );
    }
    this.size = size;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script);
      worker.on("message", (response: TaskResponse) => this.onResponse(worker, response));
      worker.on("error", (error) => this.breakPool(`a worker thread failed: ${error.message}`));
      worker.on("exit", (code) => this.breakPool(`a worker thread exited with code ${code}`));
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  /** Runs `task` on the next free thread. Rejects with {@link AbortedError} when `signal` fires first. */
  run<T extends Task>(task: T, signal?: AbortSignal): Promise<ResultOf<T>> {
    return new Promise<ResultOf<T>>((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      if (signal?.aborted) return reject(new AbortedError(signal.reason));
      const onAbort = () => {
        const index = this.queue.indexOf(pending);
        if (index >= 0) this.queue.splice(index, 1);
        // A running task cannot be interrupted without killing its thread; its result is dropped.
        settle(() => reject(new AbortedError(signal?.reason)));
      };
      const pending: Pending = {
        id: this.nextId++,
        task,
        resolve: (value) => settle(() => resolve(value as ResultOf<T>)),
        reject: (error) => settle(() => reject(error)),
        settled: false,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      };
      const settle = (action: () => void) => {
        if (pending.settled) return;
        pending.settled = true;
        pending.cleanup();
        action();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /**
   * Resolves once every thread has started and answered a trivial task, so thread start-up is not
   * counted in the first step's time (the planner extrapolates from it).
   */
  async ready(): Promise<void> {
    await Promise.all(
      Array.from({ length: this.size }, () => this.run({ op: "mul", x: 0n, y: 0n })),
    );
  }

  /** Stops every thread; queued and running tasks reject with {@link PoolClosedError}. Idempotent. */
  async close(): Promise<void> {
    this.shutDown(new PoolClosedError());
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const pending = this.queue.shift() as Pending;
      this.busy.set(worker, pending);
      const request: TaskRequest = { id: pending.id, task: pending.task };
      worker.postMessage(request);
    }
  }

  private onResponse(worker: Worker, response: TaskResponse): void {
    const pending = this.busy.get(worker);
    this.busy.delete(worker);
    if (this.closed) return;
    this.idle.push(worker);
    if (pending && pending.id === response.id) {
      if (response.ok) pending.resolve(response.result);
      else pending.reject(new Error(response.error));
    }
    this.dispatch();
  }

  private breakPool(message: string): void {
    if (this.closed) return;
    this.shutDown(new PoolClosedError(message));
    for (const worker of this.workers) void worker.terminate();
  }

  private shutDown(error: PoolClosedError): void {
    if (this.closed) return;
    this.closed = error;
    for (const pending of [...this.queue, ...this.busy.values()]) pending.reject(error);
    this.queue.length = 0;
    this.busy.clear();
    this.idle.length = 0;
  }
}
