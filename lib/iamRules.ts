/**
 * IAM rules shared by config (a job's own `policies`) and the policy pack (every role the
 * programs declare), so a policy config accepts is one the pack accepts too.
 */

/** AWS managed policies too broad for any role of this project. */
export const BROAD_MANAGED_POLICY =
  /^arn:aws[a-z-]*:iam::aws:policy\/(.*\/)?(AdministratorAccess|PowerUserAccess|IAMFullAccess|[A-Za-z0-9]*FullAccess[A-Za-z0-9_]*)$/;

/**
 * A managed policy ARN: AWS's (`iam::aws:policy/…`) or an account's, with an optional path
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
 */
export const MANAGED_POLICY_ARN =
  /^arn:aws[a-z-]*:iam::(?:aws|\d{12}):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;

/** An action: `<service prefix>:<action>`, e.g. `s3:GetObject`. */
export const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/;

/**
 * A resource ARN `arn:<partition>:<service>:<region>:<account>:<resource>`; region and account
 * may be empty (S3, IAM) and the resource may hold wildcards
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
 */
export const RESOURCE_ARN =
  /^arn:(?:aws|aws-cn|aws-us-gov|\*):[a-z0-9-]+:[a-z0-9-*]*:(?:\d{12}|aws|\*)?:\S+$/;

/** Most managed policies a role may have attached (IAM's default quota, adjustable to 20). */
export const MANAGED_POLICIES_PER_ROLE = 10;
