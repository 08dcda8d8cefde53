import * as pulumi from "@pulumi/pulumi";
import type { PolicyDocument } from "./policies";
import type { RegionIdentity } from "./regionContext";

/**
 * A policy argument: the JSON of `build`'s document for `inputs`, once every input is known.
 * `pulumi.output` unwraps the record deeply, so outputs, promises and plain values mix freely,
 * and a secret input keeps the policy secret.
 */
export function policyJson<T extends Record<string, unknown>>(
  build: (known: pulumi.Unwrap<T>) => PolicyDocument,
  inputs: T,
): pulumi.Output<string> {
  return pulumi.output(inputs).apply((known) => JSON.stringify(build(known as pulumi.Unwrap<T>)));
}

/** The partition, account and region a regional policy's ARNs are built from. */
export function accountScope(context: RegionIdentity) {
  return { partition: context.partition, accountId: context.accountId, region: context.region };
}
