/** Mocha root setup, loaded before every spec (see .mocharc.json). */
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

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await releaseMoto();
  },
};
