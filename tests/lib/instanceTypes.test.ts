import * as assert from "node:assert/strict";
import { instanceTypeNameProblem, splitInstanceType } from "../../lib/instanceTypes";

describe("EC2 instance type names", () => {
  for (const type of [
    "t3.nano",
    "t3.micro",
    "t3.small",
    "t3.medium",
    "m7i.large",
    "c7g.xlarge",
    "m7i.8xlarge",
    "u-6tb1.112xlarge",
    "m7i-flex.2xlarge",
    "c6i.metal",
    "m7i.metal-24xl",
    "mac2-m2pro.metal",
  ]) {
    it(`accepts ${type}`, () => assert.equal(instanceTypeNameProblem(type), undefined));
  }

  it("refuses t3.mega by its size, naming the sizes EC2 has", () => {
    assert.equal(
      instanceTypeNameProblem("t3.mega"),
      'is not an EC2 instance type: "mega" is not an EC2 size (nano, micro, small, medium, large, xlarge, <n>xlarge (e.g. 2xlarge), metal or metal-<n>xl; e.g. "t3.large")',
    );
  });

  for (const size of ["mega", "0xlarge", "xxlarge", "8xl", "metal-", "large2", "Large"]) {
    it(`refuses the size "${size}"`, () =>
      assert.notEqual(instanceTypeNameProblem(`m7i.${size}`), undefined));
  }

  for (const type of ["large", "m7i", "M7i.large", "m7i.large.x", "m7i..large", "-m7i.large", ""]) {
    it(`refuses the malformed "${type}"`, () =>
      assert.equal(
        instanceTypeNameProblem(type),
        'is not an EC2 instance type (e.g. "m7i.large", "c7g.xlarge")',
      ));
  }

  it("splits a name into family and size", () => {
    assert.deepEqual(splitInstanceType("u-6tb1.112xlarge"), {
      family: "u-6tb1",
      size: "112xlarge",
    });
    assert.equal(splitInstanceType("t3"), undefined);
  });
});
