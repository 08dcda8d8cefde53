/**
 * An EC2 stand-in that keeps ClientTokens the way EC2 documents them, which neither
 * aws-sdk-client-mock nor moto does: a token is remembered with the parameters of its request
 * (for at least 24 hours, also after its instance ends), the same token with the same parameters
 * returns the same instance, with other parameters it fails with `IdempotentParameterMismatch`,
 * and once its instance has terminated with `IdempotentInstanceTerminated`
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). Tokens of attempts
 * that failed are remembered too: that has been reported for `InsufficientInstanceCapacity`.
 */
import {
  DescribeInstancesCommand,
  CreateTagsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import type { Ec2Sender } from "../launcher/instances";
import { ec2Error } from "./fixtures";

/** One remembered ClientToken. */
interface TokenEntry {
  parameters: string;
  instanceId?: string;
}

/** The stand-in, its state and the requests it received. */
export interface AwsLikeEc2 {
  client: Ec2Sender;
  /** Options that have capacity now, as `market type subnet` (e.g. `on-demand m6i.large subnet-aaaa`). */
  capacity: Set<string>;
  instances: Instance[];
  tokens: Map<string, TokenEntry>;
  /** Every RunInstances input, in order. */
  runRequests: RunInstancesCommandInput[];
  /** When false, DescribeInstances lists nothing (it lags behind launches). */
  describeSeesLaunches: boolean;
  /** Whether an account without the Spot service-linked role refuses spot requests. */
  spotRoleMissing: boolean;
}

/** The parameters of a request as EC2 compares them: everything but the token itself. */
function parametersOf(input: RunInstancesCommandInput): string {
  const { ClientToken: _token, ...rest } = input;
  return JSON.stringify(rest);
}

function optionOf(input: RunInstancesCommandInput): string {
  const market = input.InstanceMarketOptions?.MarketType === "spot" ? "spot" : "on-demand";
  return `${market} ${input.InstanceType} ${input.SubnetId}`;
}

/** A fresh stand-in with no capacity anywhere. */
export function awsLikeEc2(): AwsLikeEc2 {
  const ec2: AwsLikeEc2 = {
    capacity: new Set(),
    instances: [],
    tokens: new Map(),
    runRequests: [],
    describeSeesLaunches: true,
    spotRoleMissing: false,
    client: {
      send: (async (command: unknown) => {
        if (command instanceof RunInstancesCommand) return runInstances(ec2, command.input);
        if (command instanceof DescribeInstancesCommand) {
          return {
            Reservations: ec2.describeSeesLaunches ? [{ Instances: ec2.instances }] : [],
          };
        }
        if (command instanceof TerminateInstancesCommand) {
          for (const instance of ec2.instances) {
            if (command.input.InstanceIds?.includes(instance.InstanceId ?? "")) {
              instance.State = { Name: "terminated" };
            }
          }
          return {};
        }
        if (command instanceof CreateTagsCommand) {
          // Tags added after the launch are the instance's, not the request's: a repeated
          // RunInstances under the same token still compares only its own parameters.
          for (const instance of ec2.instances) {
            if (command.input.Resources?.includes(instance.InstanceId ?? "")) {
              instance.Tags = [...(instance.Tags ?? []), ...(command.input.Tags ?? [])];
            }
          }
          return {};
        }
        throw new Error(`the stand-in does not serve ${(command as object).constructor.name}`);
      }) as Ec2Sender["send"],
    },
  };
  return ec2;
}

function runInstances(ec2: AwsLikeEc2, input: RunInstancesCommandInput) {
  ec2.runRequests.push(input);
  const token = input.ClientToken ?? "";
  const parameters = parametersOf(input);
  const known = ec2.tokens.get(token);
  if (known && known.parameters !== parameters) {
    throw ec2Error(
      "IdempotentParameterMismatch",
      "The client token you have provided is associated with a resource that is already deleted or has other parameters.",
    );
  }
  if (known?.instanceId) {
    const instance = ec2.instances.find((i) => i.InstanceId === known.instanceId)!;
    if (instance.State?.Name === "terminated") {
      throw ec2Error(
        "IdempotentInstanceTerminated",
        "The client token you have provided is associated with an instance that is terminated.",
      );
    }
    return { Instances: [instance] };
  }
  ec2.tokens.set(token, { parameters });
  if (ec2.spotRoleMissing && input.InstanceMarketOptions?.MarketType === "spot") {
    throw ec2Error(
      "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
      "The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.",
    );
  }
  if (!ec2.capacity.has(optionOf(input))) {
    throw ec2Error(
      "InsufficientInstanceCapacity",
      `We currently do not have sufficient ${input.InstanceType} capacity in the Availability Zone you requested.`,
    );
  }
  const instance: Instance = {
    InstanceId: `i-${String(ec2.instances.length + 1).padStart(17, "0")}`,
    InstanceType: input.InstanceType,
    Placement: { AvailabilityZone: `eu-west-1${input.SubnetId === "subnet-aaaa" ? "a" : "b"}` },
    State: { Name: "pending" },
    Tags: input.TagSpecifications?.find((t) => t.ResourceType === "instance")?.Tags ?? [],
    ...(input.InstanceMarketOptions?.MarketType === "spot" ? { InstanceLifecycle: "spot" } : {}),
  };
  ec2.instances.push(instance);
  ec2.tokens.set(token, { parameters, instanceId: instance.InstanceId });
  return { Instances: [instance] };
}
