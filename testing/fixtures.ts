/** Shared fixtures of the launcher tests. */
import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { attemptInputs, type InitScriptInput } from "../launcher/initScript";
import type { JobLaunchSpec } from "../launcher/contract";
import type { RunPrices } from "../launcher/prices";

/** A valid spec of job `pi` in `dev`, eu-west-1; override any field. */
export function specFixture(overrides: Partial<JobLaunchSpec> = {}): JobLaunchSpec {
  return {
    job: "pi",
    environment: "dev",
    region: "eu-west-1",
    launchTemplateId: "lt-0123456789abcdef0",
    instanceTypes: ["m7i.large", "m6i.large"],
    subnetIds: ["subnet-aaaa", "subnet-bbbb"],
    purchaseOption: "on-demand",
    concurrencyPolicy: "forbid",
    maxRuntimeMinutes: 120,
    // Scheduler's and Lambda's default maximum event ages (3600 s each) plus the 120 s timeout.
    maxLaunchDelaySeconds: 7320,
    volumeGiB: 30,
    imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/transient-jobs-pi:v1",
    bucket: "tj-results-dev-eu-west-1",
    resultsPrefix: "jobs/pi",
    logGroup: "/transient-jobs/dev/pi",
    // No notifications: the launcher and the init script publish nothing for an empty topic.
    topicArn: "",
    parameters: { DIGITS: "10000" },
    ...overrides,
  };
}

/**
 * Prices as the lookups give them (USD), for the launcher and init script tests: on-demand as the
 * Price List quoted eu-west-1 in 2025, spot at 40 % of it, gp3 per GiB-month.
 */
export const PRICES_FIXTURE: RunPrices = {
  onDemandUsdPerHour: { "m7i.large": 0.11235, "m6i.large": 0.107, "t3.medium": 0.0456 },
  spotUsdPerHour: { "m7i.large": 0.04494, "m6i.large": 0.0428, "t3.medium": 0.01824 },
  volumeUsdPerGiBMonth: 0.088,
};

/** The scheduled time used throughout: 2026-11-23 03:00 UTC. */
export const SCHEDULED = new Date("2026-11-23T03:00:00Z");

/** The launch time used throughout: ten seconds after {@link SCHEDULED}. */
export const NOW = new Date("2026-11-23T03:00:10Z");

/** The init script input of run `pi-20261123T0300Z` of {@link specFixture}; override any field. */
export function initScriptInputFixture(overrides: Partial<InitScriptInput> = {}): InitScriptInput {
  const spec = specFixture();
  const { job, environment, region, imageUri, bucket, resultsPrefix, logGroup, parameters } = spec;
  const merged = {
    job,
    environment,
    region,
    imageUri,
    bucket,
    resultsPrefix,
    logGroup,
    parameters,
    runId: "pi-20261123T0300Z",
    scheduledTime: "2026-11-23T03:00:00Z",
    deadlineMinutes: 120,
    attempt: 1,
    ...overrides,
  };
  // The checkpoint URI of the (overridden) bucket, prefix and run, unless overridden itself.
  return { ...attemptInputs(merged, merged.runId, merged.attempt), ...merged };
}

/** S3's answer to a conditional write (`If-None-Match: *`) on a key that exists: HTTP 412. */
export function s3PreconditionFailed(): S3ServiceException {
  return new S3ServiceException({
    name: "PreconditionFailed",
    message: "At least one of the pre-conditions you specified did not hold",
    $fault: "client",
    $metadata: { httpStatusCode: 412 },
  });
}

/** An EC2 API error as the SDK throws it: `name` is the error code, 5xx statuses are server faults. */
export function ec2Error(name: string, message: string, status = 400): EC2ServiceException {
  return new EC2ServiceException({
    name,
    message,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

/** What Docker reports of an m7i.large (the script harness's IMDS type): 2 vCPUs, 7.5 GiB. */
export const M7I_LARGE_DOCKER_INFO = "2 8053063680";

/**
 * The demo job (Pi digits on 2 worker threads) as `docker stats` shows it on an m7i.large: Node's
 * start, then both vCPUs busy while the digits' BigInts grow.
 */
export const DEMO_DOCKER_STATS: readonly string[] = [
  "41.3MiB / 7.5GiB|12.41%",
  "96.77MiB / 7.5GiB|198.2%",
  "152.4MiB / 7.5GiB|199.63%",
  "311.9MiB / 7.5GiB|197.05%",
  "287.2MiB / 7.5GiB|199.9%",
];
