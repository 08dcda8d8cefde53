/**
 * The units of work a pi worker thread runs. Plain data in and out (BigInt and strings survive
 * `postMessage`), so the same `runTask` serves the worker and an in-thread caller.
 */
import {
  decimalPlaces,
  invSqrtFixed,
  mergeSeries,
  piFixedPoint,
  SeriesPart,
  seriesRange,
} from "./chudnovsky";

/** P, Q, T of terms `[a, b)`. */
export interface SeriesTask {
  op: "series";
  a: number;
  b: number;
  wantP: boolean;
}

/** Merge of two adjacent ranges. */
export interface MergeTask {
  op: "merge";
  left: SeriesPart;
  right: SeriesPart;
  wantP: boolean;
}

/** x * y: the top merges are split into their products, so every thread takes part. */
export interface MulTask {
  op: "mul";
  x: bigint;
  y: bigint;
}

/** 2^bits / sqrt(a). */
export interface InvSqrtTask {
  op: "invSqrt";
  a: number;
  bits: number;
}

/** Pi * 2^bits from the whole series and 2^bits / sqrt(10005). */
export interface DivideTask {
  op: "divide";
  q: bigint;
  t: bigint;
  invSqrt: bigint;
  bits: number;
}

/** Decimal places `from + 1` to `to` of `fixed / 2^bits`. */
export interface PlacesTask {
  op: "places";
  fixed: bigint;
  bits: number;
  from: number;
  to: number;
}

export type Task = SeriesTask | MergeTask | MulTask | InvSqrtTask | DivideTask | PlacesTask;

/** What each task returns. */
export interface TaskResults {
  series: SeriesPart;
  merge: SeriesPart;
  mul: bigint;
  invSqrt: bigint;
  divide: bigint;
  places: string;
}

/** The result type of a task. */
export type ResultOf<T extends Task> = TaskResults[T["op"]];

/** Runs one task in the calling thread. */
export function runTask<T extends Task>(task: T): ResultOf<T>;
export function runTask(task: Task): TaskResults[Task["op"]] {
  switch (task.op) {
    case "series":
      return seriesRange(task.a, task.b, task.wantP);
    case "merge":
      return mergeSeries(task.left, task.right, task.wantP);
    case "mul":
      return task.x * task.y;
    case "invSqrt":
      return invSqrtFixed(BigInt(task.a), task.bits);
    case "divide":
      return piFixedPoint(task.q, task.t, task.invSqrt, task.bits);
    case "places":
      return decimalPlaces(task.fixed, task.bits, task.from, task.to);
    default:
      throw new Error(`unknown task ${JSON.stringify((task as { op?: unknown }).op)}`);
  }
}
