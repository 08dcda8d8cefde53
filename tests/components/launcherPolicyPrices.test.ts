/** The launcher may read spot prices exactly when one of its jobs may launch spot. */
import * as assert from "node:assert/strict";
import { launcherPolicy, type LauncherPolicyInputs } from "../../components/policies";

const inputs = (spot: boolean): LauncherPolicyInputs => ({
  partition: "aws",
  accountId: "123456789012",
  region: "ap-southeast-2",
  environment: "dev",
  jobs: [
    {
      job: "pi",
      launchTemplateArn: "arn:aws:ec2:ap-southeast-2:123456789012:launch-template/lt-0abc",
      instanceRoleArn: "arn:aws:iam::123456789012:role/tj-dev-ap-southeast-2-pi-instance-role",
      imageId: "ami-0abc",
      securityGroupId: "sg-0abc",
    },
  ],
  logGroupArn: "arn:aws:logs:ap-southeast-2:123456789012:log-group:l",
  topicArn: "arn:aws:sns:ap-southeast-2:123456789012:t",
  bucketArn: "arn:aws:s3:::b",
  failureQueueArn: "arn:aws:sqs:ap-southeast-2:123456789012:q",
  spot,
});

const spotPriceStatements = (spot: boolean) =>
  launcherPolicy(inputs(spot)).Statement.filter((s) =>
    [s.Action].flat().includes("ec2:DescribeSpotPriceHistory"),
  );

describe("launcher policy: spot prices", () => {
  it("grants ec2:DescribeSpotPriceHistory, which has no resource types, on * for spot jobs", () => {
    assert.deepEqual(
      spotPriceStatements(true).map((s) => [s.Effect, s.Resource, s.Condition]),
      [["Allow", "*", undefined]],
    );
  });

  it("grants nothing of it to a launcher of on-demand jobs only", () => {
    assert.deepEqual(spotPriceStatements(false), []);
  });
});
