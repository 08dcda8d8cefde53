/**
 * Programmatic API of the Pi job, for benchmarks and for jobs built from this one. The job itself
 * runs from `main.ts`.
 */
export {
  bitLength,
  DIGITS_PER_TERM,
  invSqrtFixed,
  MAX_DIGITS,
  mergeSeries,
  piFixedPoint,
  decimalPlaces,
  precisionFor,
  seriesRange,
  verifiedDecimals,
} from "./chudnovsky";
export type { Precision, SeriesPart } from "./chudnovsky";
export { computePiDigits, createSeriesCache } from "./pi";
export type { ComputePiOptions, SeriesCache } from "./pi";
export {
  DEFAULT_PLANNER_OPTIONS,
  growthExponent,
  INCREMENTAL_PLANNER,
  planNextStep,
  predictStepMs,
} from "./planner";
export type { PlannerOptions, StepTiming } from "./planner";
export { KNOWN_PREFIX, mayContinueAfter, runPiJob, verifyStep, VerificationError } from "./job";
export type { PiJobOptions, PiJobResult, StepHint } from "./job";
export { AbortedError, PoolClosedError, WorkerPool } from "./workerPool";
export { parseInvocation, ParamError } from "./params";
export type { JobParams, OutputTarget } from "./params";
export { buildManifest, encodePiData, sha256Hex } from "./manifest";
export type { Manifest, ResultWriter, StopReason } from "./manifest";
export { LocalResultWriter } from "./localWriter";
export {
  CheckpointError,
  CheckpointSaver,
  decodeCheckpoint,
  encodeCheckpoint,
  LocalCheckpointStore,
} from "./checkpoint";
export type { Checkpoint, CheckpointStore } from "./checkpoint";
export { S3CheckpointStore } from "./s3Checkpoint";
export { S3ResultWriter } from "./s3Writer";
