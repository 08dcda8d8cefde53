import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { functionChildNames } from "../lib/resourceNames";
import packageJson from "../package.json";
import { serviceTrustPolicy } from "./policies";
import type { RegionContext } from "./regionContext";

/**
 * Packages a function's zip must not contain: the Lambda runtime provides AWS SDK v3, and the
 * rest of `dependencies` is for the Pulumi program, not the function.
 */
export function closureExcludedPackages(dependencies: Record<string, string>): string[] {
  return Object.keys(dependencies).filter((name) => !name.startsWith("@pulumi/"));
}

/** Arguments of {@link declareClosureFunction}. */
export interface ClosureFunctionArgs<E, R> {
  /** Names of the log group, role, role policy and function (see `functionChildNames`). */
  names: ReturnType<typeof functionChildNames>;
  /** The region's log retention and log key. */
  context: Pick<RegionContext, "logRetentionDays" | "logsKmsKeyArn">;
  /** The role's description: what the function may do. */
  roleDescription: string;
  /** The function's description. */
  description: string;
  /** The role's only policy (a JSON document), given the ARN of the function's log group. */
  policy: (logGroupArn: pulumi.Output<string>) => pulumi.Input<string>;
  /** Seconds one invocation may take. */
  timeoutSeconds: number;
  /**
   * The callback factory to serialize, given the name of the function's log group. Everything it
   * captures is serialized with it: capture resolved settings (`output.get()` inside), not clients.
   */
  callbackFactory: (logGroupName: pulumi.Output<string>) => aws.lambda.CallbackFactory<E, R>;
}

/** What {@link declareClosureFunction} declares. */
export interface ClosureFunction<E, R> {
  logGroup: aws.cloudwatch.LogGroup;
  role: aws.iam.Role;
  /** The role's policy: depend on it before anything Lambda checks the role for. */
  policy: aws.iam.RolePolicy;
  function: aws.lambda.CallbackFunction<E, R>;
}

/**
 * A Lambda function serialized from a closure, with its own log group (the region's retention
 * and key) and a role that may do exactly what `policy` says: the shape of the launcher and the
 * reaper. Declares no component of its own: the four resources are children of `parent`, named
 * by `names`, so moving a function to this builder renames nothing.
 */
export function declareClosureFunction<E, R>(
  args: ClosureFunctionArgs<E, R>,
  parent: pulumi.Resource,
): ClosureFunction<E, R> {
  const { names, context } = args;
  const logGroup = new aws.cloudwatch.LogGroup(
    names.logs,
    { retentionInDays: context.logRetentionDays, kmsKeyId: context.logsKmsKeyArn },
    { parent },
  );
  const role = new aws.iam.Role(
    names.role,
    {
      description: args.roleDescription,
      assumeRolePolicy: JSON.stringify(serviceTrustPolicy("lambda.amazonaws.com")),
    },
    { parent },
  );
  const policy = new aws.iam.RolePolicy(
    names.policy,
    { role: role.id, policy: args.policy(logGroup.arn) },
    { parent },
  );
  const fn = new aws.lambda.CallbackFunction<E, R>(
    names.function,
    {
      description: args.description,
      role,
      runtime: aws.lambda.Runtime.NodeJS22dX,
      architectures: ["arm64"],
      timeout: args.timeoutSeconds,
      memorySize: 256,
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
      codePathOptions: {
        extraExcludePackages: closureExcludedPackages(packageJson.dependencies),
      },
      callbackFactory: args.callbackFactory(logGroup.name),
    },
    // The role must be able to write logs before the first invocation.
    { parent, dependsOn: [policy] },
  );
  return { logGroup, role, policy, function: fn };
}
