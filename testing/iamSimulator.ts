/**
 * @cloud-copilot/iam-simulate, as the security and deploy suites use it, with one of its pure
 * lookups remembered: `getResourceTypesForAction(service, action, resource)` matches the
 * resource against every ARN pattern of the action's resource types, and the suites ask it the
 * same few thousand questions over and over (7,192 calls, 2,088 distinct, about 2 s of CPU in
 * each of the two suites). The engine calls it through its module's exports, so replacing the
 * export is enough; its callers copy the arrays it returns and never change them.
 */
import * as path from "node:path";
import * as simulator from "@cloud-copilot/iam-simulate";

export const { runSimulation, runUnsafeSimulation, isWildcardOnlyAction } = simulator;
export type { Simulation } from "@cloud-copilot/iam-simulate";

type ResourceTypesForAction = (
  service: string,
  action: string,
  resource: string,
) => Promise<unknown[]>;

/** The engine's module that defines the lookup (not among the package's exports, hence the path). */
const RESOURCE_TYPES_MODULE = path.join(
  path.dirname(require.resolve("@cloud-copilot/iam-simulate")),
  "simulation_engine",
  "resourceTypes.js",
);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the engine's own CommonJS module
const resourceTypes = require(RESOURCE_TYPES_MODULE) as {
  getResourceTypesForAction: ResourceTypesForAction;
};

/** The engine's lookup as it shipped: the memo's tests compare against it. */
export const unmemoizedResourceTypesForAction: ResourceTypesForAction =
  (resourceTypes.getResourceTypesForAction as { unmemoized?: ResourceTypesForAction }).unmemoized ??
  resourceTypes.getResourceTypesForAction;

if (typeof unmemoizedResourceTypesForAction !== "function") {
  throw new Error(
    `${RESOURCE_TYPES_MODULE} no longer exports getResourceTypesForAction: update testing/iamSimulator.ts for this version of @cloud-copilot/iam-simulate`,
  );
}

const answers = new Map<string, Promise<unknown[]>>();

/** The lookup, answering each distinct question once (a rejection is remembered too). */
export const memoizedResourceTypesForAction: ResourceTypesForAction = Object.assign(
  (service: string, action: string, resource: string) => {
    const key = `${service}\0${action}\0${resource}`;
    let answer = answers.get(key);
    if (!answer) {
      answer = unmemoizedResourceTypesForAction(service, action, resource);
      answers.set(key, answer);
    }
    return answer;
  },
  { unmemoized: unmemoizedResourceTypesForAction },
);

resourceTypes.getResourceTypesForAction = memoizedResourceTypesForAction;

/** How many distinct questions the lookup has answered in this process. */
export function rememberedAnswers(): number {
  return answers.size;
}
