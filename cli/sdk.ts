/**
 * The AWS SDK packages of the operator tools, each required on first use: a command loads the
 * clients it calls and no others, and `--help` or a bad command line loads none (each package
 * costs a few hundred milliseconds of CPU to load, more than most commands spend).
 * Types come from `import type`, which loads nothing; the classes are the ones an `import`
 * gives, so aws-sdk-client-mock's prototype mocks match them.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is the point */
export { s3Sdk } from "../launcher/lazySdk";

/** `@aws-sdk/client-ec2`, required on first call. */
export const ec2Sdk = (): typeof import("@aws-sdk/client-ec2") => require("@aws-sdk/client-ec2");

/** `@aws-sdk/client-lambda`, required on first call. */
export const lambdaSdk = (): typeof import("@aws-sdk/client-lambda") =>
  require("@aws-sdk/client-lambda");

/** `@aws-sdk/client-cloudwatch-logs`, required on first call. */
export const logsSdk = (): typeof import("@aws-sdk/client-cloudwatch-logs") =>
  require("@aws-sdk/client-cloudwatch-logs");

/** `@aws-sdk/client-pricing`, required on first call. */
export const pricingSdk = (): typeof import("@aws-sdk/client-pricing") =>
  require("@aws-sdk/client-pricing");

/**
 * `launcher/instances`, required on first call: it imports the EC2 package at load, as the
 * Lambda closures it runs in need, and `runs` asks EC2 only once a command gets that far.
 */
export const instancesModule = (): typeof import("../launcher/instances") =>
  require("../launcher/instances");
