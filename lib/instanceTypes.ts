/**
 * EC2 instance type names: pure rules, no AWS. An instance type is `<family>.<size>`; the family
 * is everything before the period (`c6i`, `m7i-flex`, `u-6tb1`, `mac2-m2pro`) and the size one of
 * EC2's sizes (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html; the
 * full size list is the CDK's `InstanceSize`,
 * https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_ec2.InstanceSize.html).
 *
 * Whether a well-formed name exists, and in which zones, only EC2 knows: the program asks it at
 * deploy time (`aws.ec2.getInstanceTypeOfferings`, components/instanceOfferings.ts). This rule
 * refuses, offline and before any deploy, the names no family can have, such as `t3.mega`.
 */

/** `<family>.<size>`, lowercase. */
const INSTANCE_TYPE_NAME = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.([a-z0-9-]+)$/;

/**
 * EC2's size vocabulary: `nano` … `xlarge`, `<n>xlarge` (`2xlarge`, `48xlarge`, `224xlarge`),
 * `metal`, and the bare-metal sizes `metal-<n>xl` (`metal-24xl`).
 */
const INSTANCE_SIZE =
  /^(?:nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal|metal-[1-9][0-9]*xl)$/;

/** The sizes, as config messages name them. */
export const INSTANCE_SIZES_TEXT =
  "nano, micro, small, medium, large, xlarge, <n>xlarge (e.g. 2xlarge), metal or metal-<n>xl";

/** The family and size of a well-formed instance type name, or undefined. */
export function splitInstanceType(type: string): { family: string; size: string } | undefined {
  const match = INSTANCE_TYPE_NAME.exec(type);
  return match ? { family: match[1], size: match[2] } : undefined;
}

/**
 * Why `type` cannot be an EC2 instance type, or undefined when it may be one: not
 * `<family>.<size>`, or a size EC2 does not have. The message follows the quoted value in a config
 * error (`"t3.mega" is not …`).
 */
export function instanceTypeNameProblem(type: string): string | undefined {
  const parts = splitInstanceType(type);
  if (!parts) return 'is not an EC2 instance type (e.g. "m7i.large", "c7g.xlarge")';
  if (!INSTANCE_SIZE.test(parts.size)) {
    return `is not an EC2 instance type: "${parts.size}" is not an EC2 size (${INSTANCE_SIZES_TEXT}; e.g. "${parts.family}.large")`;
  }
  return undefined;
}
