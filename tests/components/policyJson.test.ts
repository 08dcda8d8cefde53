import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { PolicyDocument } from "../../components/policies";
import { accountScope, policyJson } from "../../components/policyJson";

/** An output's value, outside a Pulumi program (no engine: the value is known). */
const valueOf = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply((value) => resolve(value)));

const readBucket = (inputs: { bucketArn: string; prefixes: string[] }): PolicyDocument => ({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: inputs.prefixes.map((p) => `${inputs.bucketArn}/${p}*`),
    },
  ],
});

describe("policyJson", () => {
  it("builds the document from outputs, promises and plain values, nested ones included", async () => {
    const json = policyJson(readBucket, {
      bucketArn: pulumi.output("arn:aws:s3:::results"),
      prefixes: [Promise.resolve("jobs/pi/"), pulumi.output("jobs/other/")],
    });
    assert.deepEqual(JSON.parse(await valueOf(json)), {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "s3:GetObject",
          Resource: ["arn:aws:s3:::results/jobs/pi/*", "arn:aws:s3:::results/jobs/other/*"],
        },
      ],
    });
  });

  it("keeps a policy secret when one of its inputs is", async () => {
    const open = policyJson(readBucket, { bucketArn: "arn:aws:s3:::results", prefixes: [] });
    const secret = policyJson(readBucket, {
      bucketArn: pulumi.secret("arn:aws:s3:::results"),
      prefixes: [],
    });
    assert.equal(await pulumi.isSecret(open), false);
    assert.equal(await pulumi.isSecret(secret), true);
  });

  it("takes a region's partition, account and region, and nothing else of it", () => {
    const scope = accountScope({
      environment: "dev",
      region: "eu-west-1",
      partition: "aws",
      accountId: "123456789012",
    });
    assert.deepEqual(scope, { partition: "aws", accountId: "123456789012", region: "eu-west-1" });
  });
});
