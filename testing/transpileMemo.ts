/**
 * ts-node (`transpile-only`, as the mocha configs load it) transpiles a TypeScript file every
 * time it is required, and the offline engine requires the program's modules afresh for each
 * evaluation. In test processes, each file's output is kept and reused while its source is
 * unchanged. Within one `npm test` run the outputs are also shared between mocha's worker
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

if (service) {
  const compile = service.compile.bind(service);
  const outputs = new Map<string, { code: string; lineOffset?: number; output: string }>();
  /** Outputs this process did not transpile itself, by file: ts-node's source-map cache lacks them. */
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
    const key = crypto
      .createHash("sha256")
      .update(`${fileName}\0${lineOffset ?? 0}\0${code}`)
      .digest("hex");
    const file = dir && path.join(dir, `${key}.js`);
    let output = file && readShared(file);
    if (output) {
      readOutputs.set(path.normalize(fileName), output);
    } else {
      output = compile(code, fileName, lineOffset);
      readOutputs.delete(path.normalize(fileName));
      if (file) writeShared(file, output);
    }
    outputs.set(fileName, { code, lineOffset, output });
    return output;
  };
}
