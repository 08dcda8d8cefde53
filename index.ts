/**
 * transient-jobs: one RegionalJobStack per region listed in the stack's config, each with its own
 * AWS provider. Config is validated before any resource is declared.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, rawConfigFromPulumi } from "./config";
import { RegionalJobStack } from "./components/regionalJobStack";

const config = parseStackConfig(rawConfigFromPulumi(pulumi.runtime.allConfig()), pulumi.getStack());

const stacks = config.regions.map((region) => {
  const provider = new aws.Provider(`aws-${region.name}`, {
    region: region.name as aws.Region,
    defaultTags: { tags: { "transient-jobs:environment": config.environment } },
  });
  const stack = new RegionalJobStack(
    `tj-${config.environment}-${region.name}`,
    { config, region },
    { providers: { aws: provider } },
  );
  return { region, stack };
});

/** Per region: whether its schedules fire, its bucket, its launcher, and per job its resources. */
export const regions = Object.fromEntries(
  stacks.map(({ region, stack }) => [
    region.name,
    {
      enabled: region.enabled,
      bucketName: stack.bucketName,
      launcherFunctionName: stack.launcherFunctionName,
      jobs: stack.jobs,
    },
  ]),
);
