/**
 * Repeated timings with tinybench: each benchmark gives a function to run `iterations` times
 * and reads the median. A function may time only part of its work and return
 * `{ overriddenDuration }` (milliseconds), e.g. the part of a child process it measured itself.
 */
import { Bench, type FnReturnedObject } from "tinybench";

/** Latency statistics of one timed task, in milliseconds. */
export interface Timing {
  samples: number;
  median: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * Runs `fn` exactly `iterations` times, one after the other, without warm-up (callers that want
 * one warm it up themselves, so the first, cold call can be reported separately).
 */
export async function timeTask(
  name: string,
  iterations: number,
  fn: () => Promise<FnReturnedObject | void> | FnReturnedObject | void,
): Promise<Timing> {
  const bench = new Bench({ name, iterations, time: 0, warmup: false, throws: true });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== "completed") {
    throw new Error(`benchmark task ${name} ended in state ${result.state}`);
  }
  const { latency } = result;
  return {
    samples: latency.samplesCount,
    median: latency.p50,
    min: latency.min,
    max: latency.max,
    mean: latency.mean,
  };
}
