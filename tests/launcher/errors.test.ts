import * as assert from "node:assert/strict";
import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { classifyEc2Error, errorCode, errorMessage } from "../../launcher/errors";

function ec2Error(name: string, message = `${name} happened`, status = 400): EC2ServiceException {
  return new EC2ServiceException({
    name,
    message,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

describe("classifyEc2Error", () => {
  const cases: [string, unknown, string][] = [
    [
      "capacity (HTTP 500)",
      ec2Error("InsufficientInstanceCapacity", "no m7i.large", 500),
      "capacity",
    ],
    ["type not offered in the AZ", ec2Error("Unsupported"), "capacity"],
    ["instance limit", ec2Error("InstanceLimitExceeded"), "capacity"],
    ["vCPU limit", ec2Error("VcpuLimitExceeded"), "capacity"],
    ["spot quota", ec2Error("MaxSpotInstanceCountExceeded"), "capacity"],
    ["subnet full", ec2Error("InsufficientFreeAddressesInSubnet"), "capacity"],
    [
      "throttled (HTTP 503)",
      ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503),
      "throttled",
    ],
    [
      "internal error",
      ec2Error("InternalError", "An internal error has occurred", 500),
      "throttled",
    ],
    [
      "SDK timeout",
      Object.assign(new Error("socket hang up"), { name: "TimeoutError" }),
      "throttled",
    ],
    [
      "IAM propagation",
      ec2Error(
        "InvalidParameterValue",
        "Value (tj-dev-eu-west-1-pi) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
      ),
      "iam-propagation",
    ],
    [
      "other InvalidParameterValue",
      ec2Error("InvalidParameterValue", "Value (x) for parameter userData is invalid."),
      "fatal",
    ],
    ["token reuse", ec2Error("IdempotentParameterMismatch"), "idempotency-mismatch"],
    ["permissions", ec2Error("UnauthorizedOperation", "You are not authorized"), "fatal"],
    ["unknown server error", ec2Error("SomethingNew", "?", 500), "fatal"],
    ["a plain Error", new Error("boom"), "fatal"],
    ["not an error", "boom", "fatal"],
  ];
  for (const [title, error, kind] of cases) {
    it(`${title} -> ${kind}`, () => assert.equal(classifyEc2Error(error), kind));
  }
});

describe("errorCode and errorMessage", () => {
  it("read the SDK error's name and message, a Code field, or fall back", () => {
    assert.equal(errorCode(ec2Error("Unsupported")), "Unsupported");
    assert.equal(
      errorCode({ Code: "RequestLimitExceeded", name: "Error" }),
      "RequestLimitExceeded",
    );
    assert.equal(errorCode(undefined), "UnknownError");
    assert.equal(errorMessage(ec2Error("Unsupported", "not here")), "not here");
    assert.equal(errorMessage({ message: "plain object" }), "plain object");
    assert.equal(errorMessage(42), "42");
  });
});
