/**
 * Benchmark 5: how many CodeBuild builds `pulumi up` would start and wait for, on paper, with the
 * prod stack's committed config (`imageBuilder: codebuild`). The program is evaluated twice under
 * the mocks, each time packing the build contexts afresh; the image build resources of the two
 * are compared with the dynamic provider's own diff, which is what decides on `pulumi up` whether
 * a build starts. For a changed image, one file of a copy of its context is changed and packed
 * as the program packs it, and the builds whose context that is are diffed again.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { imageBuildProvider } from "../components/codeBuildImage";
import type { ImageBuildInputs, ImageBuildOutputs } from "../components/imageBuildRun";
import { parseStackConfig, rawConfigFromPulumi, type StackConfig } from "../config";
import { readBuildContext } from "../lib/buildContext";
import {
  BUILD_TIMEOUT_MINUTES,
  IMAGE_BUILD_TYPE,
  QUEUED_TIMEOUT_MINUTES,
  s3SourceLocation,
  sourceObjectKey,
} from "../lib/codeBuild";
import { imageKey } from "../lib/resourceNames";
import { evaluateProgram, loadStackConfig, type RecordedResource } from "../offline/engine";
import { checked, info, type BenchmarkResult, type RunOptions } from "./report";

const BENCHMARK = "image-builds";

/** One image build resource as the state would hold it after `pulumi up`. */
interface BuildRecord {
  name: string;
  region: string;
  imageKey: string;
  state: ImageBuildOutputs;
}

function buildRecords(resources: RecordedResource[]): BuildRecord[] {
  return resources
    .filter((r) => r.type === IMAGE_BUILD_TYPE)
    .map((r) => {
      const { __provider: _, ...inputs } = r.inputs;
      const state = { ...inputs, ...r.state } as unknown as ImageBuildOutputs;
      // The key is `sources/<imageKey>/<sha256>.zip` (lib/codeBuild.ts).
      const imageKey = state.sourceLocation.split("/").slice(-2)[0];
      return { name: r.name, region: state.region, imageKey, state };
    });
}

/** The builds `pulumi up` would start: those whose inputs the provider's diff finds changed. */
async function buildsStarted(olds: BuildRecord[], news: Map<string, ImageBuildInputs>) {
  const started: BuildRecord[] = [];
  for (const old of olds) {
    const next = news.get(old.name);
    if (!next) throw new Error(`${old.name} is missing from the second evaluation`);
    const diff = await imageBuildProvider.diff!(old.state.buildId, old.state, next);
    if (diff.changes) started.push(old);
  }
  return started;
}

/** Sequential waves of builds: regions of one `rolloutOrder` build in parallel, orders in turn. */
function waves(config: StackConfig, builds: BuildRecord[]): string[][] {
  const orders = [...new Set(config.regions.map((r) => r.rolloutOrder))].sort((a, b) => a - b);
  return orders
    .map((order) =>
      config.regions
        .filter((r) => r.rolloutOrder === order)
        .map((r) => r.name)
        .filter((name) => builds.some((b) => b.region === name)),
    )
    .filter((wave) => wave.length > 0);
}

/** A copy of `context` with one source file changed by one line, packed as the program packs it. */
function changedContextSha(context: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "tj-bench-context-"));
  try {
    fs.cpSync(context, copy, {
      recursive: true,
      filter: (source) => !/[\\/](node_modules|dist)([\\/]|$)/.test(source),
    });
    fs.appendFileSync(path.join(copy, "src", "main.ts"), "\n// changed\n");
    return readBuildContext(copy).sha256;
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/** Runs the benchmark (two evaluations of prod in this process, a few seconds each). */
export async function runImageBuildsBenchmark(options: RunOptions): Promise<BenchmarkResult> {
  const raw = loadStackConfig("prod");
  const config = parseStackConfig(rawConfigFromPulumi(raw), "prod");
  if (config.imageBuilder !== "codebuild") {
    throw new Error(
      `prod's imageBuilder is ${config.imageBuilder}, not codebuild: nothing to count`,
    );
  }
  options.log(`${BENCHMARK}: evaluating prod twice`);
  const first = buildRecords((await evaluateProgram("prod", raw)).resources);
  const second = buildRecords((await evaluateProgram("prod", raw)).resources);
  const unchanged = await buildsStarted(
    first,
    new Map(second.map((b) => [b.name, b.state as ImageBuildInputs])),
  );

  // The amd64 image changes: its new context is packed; every other input stays.
  const changedKey = first.find((b) => b.imageKey.endsWith("-amd64"))!.imageKey;
  const job = config.jobs.find((j) => imageKey(j.image, j.architecture) === changedKey)!;
  const sha = changedContextSha(job.image);
  const changed = await buildsStarted(
    first,
    new Map(
      first.map((b) => {
        if (b.imageKey !== changedKey) return [b.name, b.state as ImageBuildInputs];
        const bucket = b.state.sourceLocation.split("/")[0];
        const next: ImageBuildInputs = {
          ...b.state,
          imageTag: sha,
          sourceLocation: s3SourceLocation(bucket, sourceObjectKey(changedKey, sha)),
        };
        return [b.name, next];
      }),
    ),
  );
  const changedWaves = waves(config, changed);
  const worstWaveMinutes = QUEUED_TIMEOUT_MINUTES + BUILD_TIMEOUT_MINUTES;
  const figures = [
    checked(
      BENCHMARK,
      "builds started by pulumi up on an unchanged prod stack",
      unchanged.length,
      String(unchanged.length),
      { op: "<=", limit: 0, unit: "" },
      `${first.length} image builds, two evaluations compared with the provider's diff`,
    ),
    checked(
      BENCHMARK,
      `builds started when one image (${changedKey}) changes`,
      changed.length,
      String(changed.length),
      { op: "<=", limit: config.regions.length, unit: "" },
      `one per region that runs it: ${changed.map((b) => b.region).join(", ")}`,
    ),
    info(
      BENCHMARK,
      "sequential build waves pulumi up waits for (one image changed)",
      `${changedWaves.length}: ${changedWaves.map((w) => w.join(" + ")).join(", then ")}`,
      changedWaves.length,
      `regions of one rolloutOrder build in parallel; each wave waits for its slowest build, at most ${worstWaveMinutes} min (queue ${QUEUED_TIMEOUT_MINUTES} + build ${BUILD_TIMEOUT_MINUTES}), so at most ${changedWaves.length * worstWaveMinutes} min in all`,
    ),
  ];
  return {
    figures,
    details: {
      builds: first.map((b) => b.name),
      unchangedStarted: unchanged.map((b) => b.name),
      changedImage: changedKey,
      changedStarted: changed.map((b) => b.name),
      waves: changedWaves,
    },
  };
}
