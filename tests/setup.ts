/** Mocha root setup, loaded before every spec (see .mocharc.json). */
import { stopMoto } from "../testing/moto";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await stopMoto();
  },
};
