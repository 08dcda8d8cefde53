/**
 * Named errors of the launcher, and the classification of EC2 API errors into what the launch
 * loop does next. Everything here runs inside the serialized Lambda closure.
 */

/**
 * Gives an error of a launcher class its name, message and stack. Pulumi's closure serializer
 * rewrites `class X extends Error` into a function that calls `Error` without `new`, which
 * leaves `message` and `stack` unset and the object outside `Error.prototype`; the Lambda
 * runtime reports such an object as an error only if it has a name, message and stack.
 */
function nameError(error: Error, name: string, message: string): void {
  error.name = name;
  error.message = message;
  if (typeof error.stack !== "string") Error.captureStackTrace(error);
}

/** The Lambda event is not a valid {@link LaunchEvent}; the message names the field and the fix. */
export class InvalidLaunchEventError extends Error {
  constructor(message: string) {
    super(message);
    nameError(this, "InvalidLaunchEventError", message);
  }
}

/** The event names a job this launcher does not know (not deployed in this stack or region). */
export class UnknownJobError extends Error {
  constructor(message: string) {
    super(message);
    nameError(this, "UnknownJobError", message);
  }
}

/** A value inserted into a run id, a tag or the init script breaks its rule; names the field. */
export class InvalidLaunchSpecError extends Error {
  constructor(message: string) {
    super(message);
    nameError(this, "InvalidLaunchSpecError", message);
  }
}

/**
 * Thrown by the handler when every launch attempt failed, so that the Lambda invocation fails
 * (error metrics, alarms, the asynchronous retry and its dead-letter destination). `result` is
 * the structured `failed` result that was logged.
 */
export class LaunchFailedError extends Error {
  readonly result: unknown;
  constructor(message: string, result: unknown) {
    super(message);
    nameError(this, "LaunchFailedError", message);
    this.result = result;
  }
}

/**
 * What the launch loop does after an EC2 error:
 * - `capacity`: this instance type / subnet / purchase option cannot be had now; try the next one.
 * - `throttled`: the API asked us to slow down or failed transiently; retry the same request
 *   (same ClientToken) after a jittered backoff.
 * - `iam-propagation`: the launch template's new instance profile is not yet visible to EC2;
 *   retry the same request after a backoff.
 * - `idempotency-mismatch`: the ClientToken was already used with other parameters (EC2 keeps a
 *   token for at least 24 hours, and has been seen to keep tokens of failed attempts too); look
 *   for an instance of this run briefly, then move on to the next option.
 * - `instance-terminated`: the ClientToken launched an instance that has terminated since: the
 *   run already happened and must not be launched again.
 * - `spot-unavailable`: the account cannot run spot instances (no Spot service-linked role);
 *   no spot option can succeed, on-demand ones still can.
 * - `fatal`: anything else (bad template, permissions, invalid parameters); stop and fail loudly.
 */
export type Ec2ErrorKind =
  | "capacity"
  | "throttled"
  | "iam-propagation"
  | "idempotency-mismatch"
  | "instance-terminated"
  | "spot-unavailable"
  | "fatal";

/**
 * EC2 refuses every spot request of an account without the `AWSServiceRoleForEC2Spot`
 * service-linked role when the caller may not create it: the console creates the role, an API
 * request "must first ensure that this role exists"
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/service-linked-roles-spot-instance-requests.html).
 * Not a property of one instance type or subnet: no other spot option can succeed either.
 */
export const SPOT_ROLE_ERROR_CODE = "AuthFailure.ServiceLinkedRoleCreationNotPermitted";

/**
 * EC2 answers a ClientToken whose instance has since terminated with this code
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html): the run
 * already happened.
 */
export const INSTANCE_TERMINATED_ERROR_CODE = "IdempotentInstanceTerminated";

/**
 * Error codes meaning "no capacity or quota for this option right now". Several are HTTP 500
 * server errors in EC2, so they must be matched before any generic server-error rule.
 */
export const CAPACITY_ERROR_CODES: readonly string[] = [
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "InsufficientReservedInstanceCapacity",
  "InsufficientFreeAddressesInSubnet",
  "Unsupported",
  "InstanceLimitExceeded",
  "VcpuLimitExceeded",
  "MaxSpotInstanceCountExceeded",
  "SpotMaxPriceTooLow",
  "UnfulfillableCapacity",
];

/** Error codes of throttling and transient service failures: the same request may succeed later. */
export const RETRYABLE_ERROR_CODES: readonly string[] = [
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "EC2ThrottledException",
  "ServiceUnavailable",
  "Unavailable",
  "InternalError",
  "InternalFailure",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
];

/** The error code of an AWS SDK v3 error (its `name`, or `Code` on some), else the JS name. */
export function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { Code, name } = error as { Code?: unknown; name?: unknown };
    if (typeof Code === "string" && Code !== "") return Code;
    if (typeof name === "string" && name !== "") return name;
  }
  return "UnknownError";
}

/** The message of an error, or its string form. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null) {
    const { message } = error as { message?: unknown };
    if (typeof message === "string") return message;
  }
  return String(error);
}

/** Classifies an error from RunInstances; see {@link Ec2ErrorKind}. */
export function classifyEc2Error(error: unknown): Ec2ErrorKind {
  const code = errorCode(error);
  if (CAPACITY_ERROR_CODES.includes(code)) return "capacity";
  if (RETRYABLE_ERROR_CODES.includes(code)) return "throttled";
  if (code === "IdempotentParameterMismatch") return "idempotency-mismatch";
  if (code === INSTANCE_TERMINATED_ERROR_CODE) return "instance-terminated";
  if (code === SPOT_ROLE_ERROR_CODE) return "spot-unavailable";
  if (
    code === "InvalidParameterValue" &&
    /iamInstanceProfile|Invalid IAM Instance Profile/i.test(errorMessage(error))
  ) {
    return "iam-propagation";
  }
  return "fatal";
}
