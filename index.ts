/**
 * transient-jobs: one RegionalJobStack per region listed in the stack's config, each with its own
 * AWS provider. Config is validated before any resource is declared.
 */
// First, before any resource: Pulumi's per-promise stack traces are costly to format under ts-node.
import { leavePulumiPromiseTracesUnformatted } from "./lib/pulumiPromiseTraces";
leavePulumiPromiseTracesUnformatted();
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { computeCodePathsOnce } from "./lib/pulumiCodePaths";
import { configWarnings, readStackConfig, regionsBefore } from "./config";
import { RegionalJobStack } from "./components/regionalJobStack";
import { JobsDashboard } from "./components/jobsDashboard";
import { queueNameFromArn } from "./components/regionalAlarms";
import { environmentComponentName, regionalStackName } from "./lib/resourceNames";
import { PRICING_PROVIDER_REGION } from "./lib/priceList";

// Each Lambda's zip would otherwise re-read the whole package tree (lib/pulumiCodePaths.ts).
computeCodePathsOnce(pulumi.runtime);

const config = readStackConfig(pulumi.runtime.allConfig(), pulumi.getStack());
for (const warning of configWarnings(config)) void pulumi.log.warn(warning);

// The AWS Price List is served from a few regions only (lib/priceList.ts): one provider there
// looks up every region's on-demand prices.
const pricingProvider = new aws.Provider("aws-pricing", {
  region: PRICING_PROVIDER_REGION,
  defaultTags: { tags: { "transient-jobs:environment": config.environment } },
});

// Declared in rollout order, so each region can wait for the regions before it. Names depend on
// the region only: adding or removing a region never renames another region's resources.
const declared = new Map<string, RegionalJobStack>();
for (const region of [...config.regions].sort((a, b) => a.rolloutOrder - b.rolloutOrder)) {
  const provider = new aws.Provider(`aws-${region.name}`, {
    region: region.name as aws.Region,
    defaultTags: { tags: { "transient-jobs:environment": config.environment } },
  });
  const rolloutAfter = regionsBefore(config.regions, region).map((r) => declared.get(r.name)!);
  declared.set(
    region.name,
    new RegionalJobStack(
      regionalStackName(config.environment, region.name),
      { config, region, rolloutAfter, pricingProvider },
      { providers: { aws: provider } },
    ),
  );
}
const stacks = config.regions.map((region) => ({ region, stack: declared.get(region.name)! }));

/** Per region: whether its schedules fire, its bucket, its launcher, and per job its resources. */
export const regions = Object.fromEntries(
  stacks.map(({ region, stack }) => [
    region.name,
    {
      enabled: region.enabled,
      bucketName: stack.bucketName,
      launcherFunctionName: stack.launcherFunctionName,
      topicArn: stack.topicArn,
      jobs: stack.jobs,
    },
  ]),
);

// Dashboards are global to the account: one per environment, showing every region. It gets a
// provider of its own whose region never changes, so adding, removing or reordering regions
// never replaces it.
const globalProvider = new aws.Provider("aws-global", {
  region: "us-east-1",
  defaultTags: { tags: { "transient-jobs:environment": config.environment } },
});
const dashboard = new JobsDashboard(
  environmentComponentName(config.environment),
  {
    environment: config.environment,
    regions: pulumi.all(
      stacks.map(({ region, stack }) =>
        pulumi
          .all([
            stack.launcherFunctionName,
            pulumi.all(
              Object.entries(stack.jobs).map(([job, outputs]) =>
                outputs.deadLetterQueueArn.apply((arn) => ({
                  job,
                  deadLetterQueueName: queueNameFromArn(arn),
                })),
              ),
            ),
          ])
          .apply(([launcherFunctionName, jobs]) => ({
            region: region.name,
            launcherFunctionName,
            jobs,
          })),
      ),
    ),
  },
  { providers: { aws: globalProvider } },
);

/** The stack's environment: the tag value by which the operator tools find its instances. */
export const environment = config.environment;

/** The environment's CloudWatch dashboard (`npm run runs` prints where to find it). */
export const dashboardName = dashboard.dashboardName;
