/**
 * `npm run bench`: every benchmark in one run on this machine, printed as one table with each
 * figure beside its target. A full run writes `bench/results.json` and replaces the table in the
 * `docs/performance.md` (between its `bench:start`/`bench:end` markers); a quick or
 * partial run writes `bench/results.partial.json` only, so it never hides the full figures.
 *
 *   npm run bench                      full run (about ten minutes; mostly one core)
 *   npm run bench -- --quick           short durations and few iterations: a smoke run
 *   npm run bench -- --only pi,launcher
 *
 * A missed target prints MISS and still exits 0; a benchmark that crashes exits 1, after the
 * others have run and their results are written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runImageBuildsBenchmark } from "./imageBuilds";
import { runInitScriptBenchmark } from "./initScript";
import { runLauncherBenchmark } from "./launcherArtifact";
import { loadAverageNow, machineFacts, type MachineFacts } from "./machine";
import { runPiBenchmark } from "./piJob";
import { updateReadme } from "./performanceDoc";
import { runEvaluationBenchmark } from "./programEvaluation";
import {
  markdownFigures,
  textTable,
  type BenchmarkResult,
  type Figure,
  type RunOptions,
} from "./report";

/** The benchmarks, by the name `--only` takes, in the order they run. */
export const BENCHMARKS: Readonly<
  Record<string, (options: RunOptions) => Promise<BenchmarkResult>>
> = {
  pi: runPiBenchmark,
  launcher: runLauncherBenchmark,
  evaluation: runEvaluationBenchmark,
  "init-script": runInitScriptBenchmark,
  "image-builds": runImageBuildsBenchmark,
};

const USAGE = `Usage: npm run bench -- [--quick] [--only NAME[,NAME...]]

  --quick        short durations and few iterations (a smoke run; figures not to quote)
  --only NAMES   run only these benchmarks: ${Object.keys(BENCHMARKS).join(", ")}
`;

/** Parsed command line. */
export interface BenchArgs {
  quick: boolean;
  only: string[];
  help: boolean;
}

/** Parses the flags; throws naming the bad flag or name and the accepted ones. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: Object.keys(BENCHMARKS), help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") args.quick = true;
    else if (arg === "--help" || arg === "-h") args.help = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (!value) throw new Error(`--only: expected benchmark names, e.g. --only pi,launcher`);
      const names = value.split(",").filter(Boolean);
      const unknown = names.filter((n) => !(n in BENCHMARKS));
      if (unknown.length > 0) {
        throw new Error(
          `--only: unknown benchmark ${unknown.map((n) => JSON.stringify(n)).join(", ")}; known: ${Object.keys(BENCHMARKS).join(", ")}`,
        );
      }
      args.only = Object.keys(BENCHMARKS).filter((n) => names.includes(n));
    } else {
      throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  return args;
}

/** `bench/results.json`. */
export interface BenchResults {
  generatedAt: string;
  mode: "full" | "quick";
  benchmarks: string[];
  machine: MachineFacts;
  figures: Figure[];
  details: Record<string, unknown>;
  /** Benchmarks that crashed, with their error. */
  errors: Record<string, string>;
  /** Seconds the whole run took. */
  seconds: number;
}

/** The generated Markdown of `docs/performance.md` (its heading and analysis stay as written). */
export function performanceMarkdown(results: BenchResults): string {
  const m = results.machine;
  const missed = results.figures.filter((f) => f.status === "MISS").length;
  const hit = results.figures.filter((f) => f.status === "hit").length;
  return `\`npm run bench\` measures everything side by side in one run on one machine and prints each
figure beside its target (\`MISS\` when it is not met); the raw figures go to \`bench/results.json\`.
The machines are shared and noisy, so compare ratios measured in the same run, not absolute times
across runs. Latest run: ${results.generatedAt}, ${Math.round(results.seconds)} s, ${hit} targets hit, ${missed} missed.

Machine: ${m.cpuModel}, \`nproc\` ${m.nproc}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, Python ${m.python};
load average ${m.loadAverage.start} at the start, ${m.loadAverage.end ?? "?"} at the end.

What each benchmark measures:

- **pi**: our job (\`job-image\`, Chudnovsky on BigInt) and the reference design's job
  (\`bench/gibbons.py\`: Gibbons' spigot in pure Python, the clock checked after every digit) for the
  same durations, both pinned to one CPU with one thread, start-up included; then ours on all cores.
  Digits are decimal places; the reference's digits are checked to be the prefix of ours.
- **launcher**: the dev stack's launcher Lambda code as \`pulumi up\` uploads it (from the program
  under mocks): zipped size, bundled SDK, load time in a fresh \`node\`, and one launch decision
  against a local EC2 stub (median over many, after a first cold one).
- **evaluation**: the program under Pulumi's mocks in a fresh process per evaluation, for the
  prod stack's jobs in 1, 4, 16 and 32 regions.
- **init-script**: the rendered user data under bash with the tests' stub commands, from start to
  \`docker run\`, and the requests it sends before the job starts.
- **image-builds**: with prod's \`imageBuilder: codebuild\`, the CodeBuild builds \`pulumi up\` would
  start and wait for, on paper: prod evaluated twice and its image builds compared with the
  dynamic provider's own diff (an unchanged stack), then with one image's context changed by a
  line; and the sequential waves of builds the region rollout makes \`pulumi up\` wait for.

${markdownFigures(results.figures)}
${
  Object.keys(results.errors).length > 0
    ? `\nCrashed: ${Object.entries(results.errors)
        .map(([name, error]) => `${name} (${error.split("\n")[0]})`)
        .join("; ")}\n`
    : ""
}`;
}

async function main(argv: readonly string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = performance.now();
  const machine = machineFacts();
  const log = (line: string) => void process.stderr.write(`bench: ${line}\n`);
  log(
    `${args.quick ? "quick" : "full"} run of ${args.only.join(", ")} on ${machine.cpuModel} (nproc ${machine.nproc}, load ${machine.loadAverage.start})`,
  );
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const name of args.only) {
    try {
      const result = await BENCHMARKS[name]({ quick: args.quick, log });
      figures.push(...result.figures);
      details[name] = result.details;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors[name] = message;
      log(`${name} crashed: ${message}`);
    }
  }
  machine.loadAverage.end = loadAverageNow();
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    mode: args.quick ? "quick" : "full",
    benchmarks: args.only,
    machine,
    figures,
    details,
    errors,
    seconds: Math.round(performance.now() - started) / 1000,
  };
  const complete = !args.quick && args.only.length === Object.keys(BENCHMARKS).length;
  const resultsFile = complete ? "results.json" : "results.partial.json";
  fs.writeFileSync(path.join(__dirname, resultsFile), `${JSON.stringify(results, null, 2)}\n`);
  if (complete) await updateReadme(performanceMarkdown(results));

  process.stdout.write(`${textTable(figures)}\n\n`);
  for (const f of figures.filter((x) => x.note)) {
    process.stdout.write(`  ${f.benchmark} / ${f.metric}: ${f.note}\n`);
  }
  const missed = figures.filter((f) => f.status === "MISS");
  process.stdout.write(
    `\n${machine.cpuModel}, nproc ${machine.nproc}, Node ${machine.node}, Python ${machine.python}; load ${machine.loadAverage.start} → ${machine.loadAverage.end}\n` +
      `${figures.filter((f) => f.status === "hit").length} targets hit, ${missed.length} MISS` +
      `${Object.keys(errors).length > 0 ? `, crashed: ${Object.keys(errors).join(", ")}` : ""}; ` +
      `wrote bench/${resultsFile}${complete ? " and docs/performance.md's table" : ""} (${results.seconds} s)\n`,
  );
  return Object.keys(errors).length > 0 ? 1 : 0;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
