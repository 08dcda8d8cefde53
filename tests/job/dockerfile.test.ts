/**
 * The job image, checked statically (no Docker engine on development machines): the Dockerfile's
 * stages, base images, user and entry point, the build context and the package files it uses.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildJob, JOB_DIR } from "./helpers/jobBuild";

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  platform?: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (!pending) start = index + 1;
    pending += line.endsWith("\\") ? `${line.slice(0, -1)} ` : line;
    if (line.endsWith("\\")) return;
    const [keyword, ...rest] = pending.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: start });
    pending = "";
  });
  return instructions;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const words = instruction.args.split(/\s+/);
      const platform = words.find((w) => w.startsWith("--platform="))?.slice("--platform=".length);
      const [image, as, name] = words.filter((w) => !w.startsWith("--"));
      assert.ok(as === undefined || as.toUpperCase() === "AS", `FROM at line ${instruction.line}`);
      stages.push({ image, name, platform, instructions: [] });
    } else {
      assert.ok(
        stages.length > 0,
        `${instruction.keyword} before FROM at line ${instruction.line}`,
      );
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

/** `COPY [--from=x] [--chown=..] src... dest` as parts. */
function copyOf(instruction: Instruction): { from?: string; sources: string[]; dest: string } {
  const words = instruction.args.split(/\s+/);
  const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
  const paths = words.filter((w) => !w.startsWith("--"));
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** The absolute path `target` means after the stage's WORKDIRs up to `upTo`. */
function resolveIn(stage: Stage, upTo: Instruction, target: string): string {
  let workdir = "/";
  for (const instruction of stage.instructions) {
    if (instruction === upTo) break;
    if (instruction.keyword === "WORKDIR") workdir = path.posix.resolve(workdir, instruction.args);
  }
  return path.posix.resolve(workdir, target);
}

describe("job image (static checks)", () => {
  const dockerfile = fs.readFileSync(path.join(JOB_DIR, "Dockerfile"), "utf8");
  const stages = stagesOf(parseDockerfile(dockerfile));
  const runtime = stages[stages.length - 1];
  const find = (stage: Stage, keyword: string) =>
    stage.instructions.filter((i) => i.keyword === keyword);

  it("is multi-stage: a build stage with the full Node image, a slim runtime", () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    const build = stages.find((s) => find(s, "RUN").some((r) => /\btsc\b/.test(r.args)));
    assert.ok(build, "a stage runs tsc");
    assert.match(build.image, /^node:[\d.]+-bookworm$/, "the compiler stage uses the full image");
    assert.match(runtime.image, /-slim$|distroless/, `runtime base ${runtime.image}`);
    assert.deepEqual(find(runtime, "RUN"), [], "the runtime stage runs nothing (no emulation)");
  });

  it("pins every base image to a full Node 20+ release, the same in every stage", () => {
    const versions = stages.map((stage) => {
      const match = /^node:(\d+)\.(\d+)\.(\d+)-[a-z-]+(@sha256:[0-9a-f]{64})?$/.exec(stage.image);
      assert.ok(match, `${stage.image} is not pinned to major.minor.patch`);
      assert.ok(Number(match[1]) >= 20, `${stage.image} is older than Node 20`);
      return match.slice(1, 4).join(".");
    });
    assert.equal(new Set(versions).size, 1, `mixed Node releases: ${versions.join(", ")}`);
  });

  it("builds the JavaScript stages on the build platform and the runtime for the target", () => {
    for (const stage of stages.slice(0, -1)) assert.equal(stage.platform, "$BUILDPLATFORM");
    assert.equal(runtime.platform, undefined, "the runtime follows --platform of the build");
  });

  it("runs as a non-root user", () => {
    const users = find(runtime, "USER");
    assert.equal(users.length, 1);
    const user = users[0].args.split(":")[0];
    assert.ok(!["root", "0", ""].includes(user), `USER ${users[0].args}`);
    const entrypoint = find(runtime, "ENTRYPOINT")[0];
    assert.ok(users[0].line < entrypoint.line, "USER comes before ENTRYPOINT");
  });

  it("ships only production dependencies", () => {
    const modules = find(runtime, "COPY")
      .map(copyOf)
      .filter((c) => c.sources.some((s) => s.endsWith("node_modules")));
    assert.equal(modules.length, 1);
    const source = stages.find((s) => s.name === modules[0].from);
    assert.ok(source, `stage ${modules[0].from}`);
    const installs = find(source, "RUN").filter((r) => /\bnpm (ci|install)\b/.test(r.args));
    assert.ok(installs.length > 0 && installs.every((r) => /--omit=dev\b/.test(r.args)));
    assert.ok(!find(source, "COPY").some((c) => copyOf(c).sources.includes("src")));
  });

  it("starts the built job in exec form, from where the runtime stage copied it", async function () {
    // It may be the spec that runs the job's tsc build for the whole run (buildJob is shared).
    this.timeout(90_000);
    const entrypoint = find(runtime, "ENTRYPOINT");
    assert.equal(entrypoint.length, 1);
    const command = JSON.parse(entrypoint[0].args) as string[];
    assert.equal(command[0], "node");
    assert.equal(command.length, 2);
    const dist = find(runtime, "COPY")
      .map((i) => ({ i, copy: copyOf(i) }))
      .find(({ copy }) => copy.sources.some((s) => s.endsWith("/dist")));
    assert.ok(dist, "the runtime copies dist");
    const distDir = resolveIn(runtime, dist.i, dist.copy.dest);
    assert.ok(command[1].startsWith(`${distDir}/`), `${command[1]} is not under ${distDir}`);
    // The file exists where tsc puts it (the build stage compiles the same tsconfig).
    await buildJob();
    const relative = path.posix.relative(distDir, command[1]);
    assert.ok(fs.existsSync(path.join(JOB_DIR, "dist", relative)), `dist/${relative} is built`);
    const tsconfig = JSON.parse(fs.readFileSync(path.join(JOB_DIR, "tsconfig.json"), "utf8")) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    assert.deepEqual(
      [tsconfig.compilerOptions.outDir, tsconfig.compilerOptions.rootDir],
      ["dist", "src"],
    );
    // package.json sits next to dist, where the job reads its version.
    const packageCopy = find(runtime, "COPY").find((i) =>
      copyOf(i).sources.some((s) => s.endsWith("package.json")),
    );
    assert.ok(packageCopy);
    assert.equal(
      resolveIn(runtime, packageCopy, copyOf(packageCopy).dest),
      path.posix.join(distDir, "..", "package.json"),
    );
  });

  it("copies only files that exist in the context and are not ignored", () => {
    const ignored = fs
      .readFileSync(path.join(JOB_DIR, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const needed of ["node_modules", "dist", "results"])
      assert.ok(ignored.includes(needed), needed);
    for (const stage of stages) {
      for (const copy of find(stage, "COPY")
        .map(copyOf)
        .filter((c) => !c.from)) {
        for (const source of copy.sources) {
          assert.ok(fs.existsSync(path.join(JOB_DIR, source)), `${source} is missing`);
          assert.ok(!ignored.includes(source), `${source} is excluded by .dockerignore`);
        }
      }
    }
  });

  it("has its own package with one runtime dependency and a lockfile in step with it", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(JOB_DIR, "package.json"), "utf8")) as Record<
      string,
      Record<string, string>
    >;
    assert.deepEqual(pkg.dependencies, { "@aws-sdk/client-s3": "^3" });
    const lock = JSON.parse(fs.readFileSync(path.join(JOB_DIR, "package-lock.json"), "utf8")) as {
      lockfileVersion: number;
      packages: Record<string, Record<string, unknown>>;
    };
    assert.equal(lock.lockfileVersion, 3);
    assert.deepEqual(lock.packages[""].dependencies, pkg.dependencies);
    assert.deepEqual(lock.packages[""].devDependencies, pkg.devDependencies);
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) {
      assert.ok(lock.packages[`node_modules/${name}`], `${name} is locked`);
    }
  });
});
