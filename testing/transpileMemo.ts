/**
 * ts-node (`transpile-only`, as the mocha configs load it) transpiles a TypeScript file every
 * time it is required, and the offline engine requires the program's modules afresh for each
 * evaluation. In test processes, each file's output is kept and reused while its source is
 * unchanged.
 *
 * The test code itself (`tests/`, `testing/`, `bench/`: 60% of the TypeScript a run loads, and
 * never part of a deployed program) is transpiled by swc, which takes about a twentieth of
 * TypeScript's time. Everything else, the program and the closures Pulumi serializes from it
 * included, is still transpiled by TypeScript, as `pulumi up` transpiles it, unless
 * {@link TRANSPILER_ENV} is `swc`: `npm run test:unit` sets it, as none of its specs evaluates the
 * program or serializes a closure (tests/tiers.cjs). Type errors are `npm run lint`'s
 * (`tsc --noEmit`). Within one `npm test` run the outputs are also shared between mocha's worker
 * processes through the run's directory (see `evaluationCache.ts`): the second process to load a
 * file reads what the first transpiled. Outputs read that way are handed to source-map-support,
 * so stack traces are mapped as for files ts-node transpiled itself.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { EVALUATIONS_DIR_ENV } from "./evaluationCache";

interface TsNodeService {
  compile(code: string, fileName: string, lineOffset?: number): string;
}

interface Swc {
  transformSync(code: string, options: Record<string, unknown>): { code: string };
}

interface SourceMapSupport {
  install(options: { retrieveFile(pathOrUrl: string): string | null }): void;
}

const service = (process as unknown as Record<symbol, TsNodeService | undefined>)[
  Symbol.for("ts-node.register.instance")
];

/** The run's folder of transpiled outputs, or undefined outside `npm test`. */
function sharedDir(): string | undefined {
  const run = process.env[EVALUATIONS_DIR_ENV];
  if (!run) return undefined;
  const dir = path.join(run, "transpiled");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function readShared(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Written under a temporary name and renamed, so a reader never sees half a file. */
function writeShared(file: string, output: string): void {
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, output);
  fs.renameSync(partial, file);
}

/** With `swc`, swc transpiles the program's files too, not only the test code. */
export const TRANSPILER_ENV = "TJ_TEST_TRANSPILER";

/** The folders of test-only code, which swc transpiles. */
const TEST_CODE = ["tests", "testing", "bench"].map(
  (dir) => path.join(path.resolve(__dirname, ".."), dir) + path.sep,
);

/** @swc/core, or undefined where its native binary did not install (then TypeScript does it all). */
function loadSwc(): Swc | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional at run time
    return require("@swc/core") as Swc;
  } catch {
    return undefined;
  }
}

/**
 * swc's options for what tsconfig.json asks of TypeScript: ES2022, CommonJS with
 * `esModuleInterop`'s interop, `import()` turned into `require` as TypeScript does for CommonJS,
 * class fields defined (ES2022's default) and the source map inline, for stack traces.
 */
function swcOptions(fileName: string): Record<string, unknown> {
  return {
    filename: fileName,
    swcrc: false,
    configFile: false,
    sourceMaps: "inline",
    module: { type: "commonjs", strictMode: true, noInterop: false, ignoreDynamic: false },
    jsc: {
      parser: { syntax: "typescript", dynamicImport: true },
      target: "es2022",
      keepClassNames: true,
      transform: { useDefineForClassFields: true },
    },
  };
}

if (service) {
  const swc = loadSwc();
  const typescript = service.compile.bind(service);
  const everything = process.env[TRANSPILER_ENV] === "swc";
  const bySwc = (fileName: string, lineOffset?: number) =>
    swc !== undefined &&
    !lineOffset &&
    (everything || TEST_CODE.some((dir) => fileName.startsWith(dir)));
  const outputs = new Map<string, { code: string; lineOffset?: number; output: string }>();
  /** Outputs ts-node did not transpile itself, by file: its source-map cache lacks them. */
  const readOutputs = new Map<string, string>();
  // ts-node's own source-map-support, found from ts-node so that it is the same instance.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time
  const sourceMapSupport = require(
    require.resolve("@cspotcode/source-map-support", { paths: [require.resolve("ts-node")] }),
  ) as SourceMapSupport;
  sourceMapSupport.install({
    retrieveFile: (pathOrUrl) =>
      readOutputs.get(path.normalize(pathOrUrl.replace(/^file:\/\//, ""))) ?? null,
  });

  service.compile = (code, fileName, lineOffset) => {
    const known = outputs.get(fileName);
    if (known && known.code === code && known.lineOffset === lineOffset) return known.output;
    const dir = sharedDir();
    const swcOutput = bySwc(fileName, lineOffset);
    const key = crypto
      .createHash("sha256")
      .update(`${swcOutput ? "swc" : "typescript"}\0${fileName}\0${lineOffset ?? 0}\0${code}`)
      .digest("hex");
    const file = dir && path.join(dir, `${key}.js`);
    let output = file && readShared(file);
    if (output) {
      readOutputs.set(path.normalize(fileName), output);
    } else if (swcOutput) {
      output = swc!.transformSync(code, swcOptions(fileName)).code;
      readOutputs.set(path.normalize(fileName), output);
      if (file) writeShared(file, output);
    } else {
      output = typescript(code, fileName, lineOffset);
      readOutputs.delete(path.normalize(fileName));
      if (file) writeShared(file, output);
    }
    outputs.set(fileName, { code, lineOffset, output });
    return output;
  };
}
