/** Mocha root setup, loaded before every spec (see .mocharc.cjs). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import "../testing/transpileMemo";
import { EVALUATIONS_DIR_ENV } from "../testing/evaluationCache";
import { releaseMoto } from "../testing/moto";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/**
 * Once per run, in mocha's main process (before it starts the workers, which inherit the
 * environment): a directory where the program evaluations of this run are shared.
 */
export function mochaGlobalSetup(): void {
  process.env[EVALUATIONS_DIR_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), "tj-evaluations-"));
}

export function mochaGlobalTeardown(): void {
  const dir = process.env[EVALUATIONS_DIR_ENV];
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  delete process.env[EVALUATIONS_DIR_ENV];
}

/**
 * CPU milliseconds of this process and of its children that ended (fields 14-17 of
 * /proc/self/stat, in clock ticks of 10 ms), or 0 where there is no /proc.
 */
function cpuMs(): number {
  try {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) * 10;
  } catch {
    return 0;
  }
}

/** With TJ_TEST_FILE_LOG set, each spec file appends its wall and CPU milliseconds there. */
const fileLog = process.env.TJ_TEST_FILE_LOG;
let fileStarted = { wallMs: 0, cpuMs: 0 };

export const mochaHooks = {
  beforeAll(): void {
    if (fileLog) fileStarted = { wallMs: Date.now(), cpuMs: cpuMs() };
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    await releaseMoto();
    if (fileLog) {
      const file = path.relative(".", this.test?.parent?.suites[0]?.file ?? "?");
      const wall = Date.now() - fileStarted.wallMs;
      // Then when the file started (ms since the epoch) and in which worker: the run's schedule.
      fs.appendFileSync(
        fileLog,
        `${wall} ms ${cpuMs() - fileStarted.cpuMs} cpu ${file} ${fileStarted.wallMs} ${process.pid}\n`,
      );
    }
  },
};
