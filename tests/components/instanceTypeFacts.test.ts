/**
 * A job's hardware from EC2's instance type data: the offline engine's answers (shaped as
 * `aws.ec2.getInstanceType` returns them) through the same functions the program uses.
 */
import * as assert from "node:assert/strict";
import {
  instanceStoreGB,
  instanceTypeFacts,
  jobHardware,
  type InstanceTypeFacts,
} from "../../components/instanceTypeFacts";
import { callResult } from "../../offline/engine";

const facts = (...types: string[]): Record<string, InstanceTypeFacts> =>
  Object.fromEntries(
    types.map((t) => [
      t,
      instanceTypeFacts(
        callResult("aws:ec2/getInstanceType:getInstanceType", { instanceType: t }, "eu-west-1"),
      ),
    ]),
  );
const KEY = "transient-jobs:jobs.analysis.instanceTypes";

describe("jobHardware", () => {
  const cases: [string[], "x86_64" | "arm64", ReturnType<typeof jobHardware>][] = [
    [["t3.medium", "m7i.large"], "x86_64", { gpu: false, instanceStore: false }],
    [["m6id.large"], "x86_64", { gpu: false, instanceStore: true }],
    [["m7i.large", "m6id.large"], "x86_64", { gpu: false, instanceStore: true }],
    [["g5.xlarge", "g6.xlarge", "p4d.24xlarge"], "x86_64", { gpu: true, instanceStore: true }],
    // AMD GPUs are not NVIDIA's: no GPU AMI, no --gpus.
    [["g4ad.xlarge"], "x86_64", { gpu: false, instanceStore: true }],
    [
      ["g5.xlarge", "m7i.large"],
      "x86_64",
      `${KEY}: mixes types with NVIDIA GPUs (g5.xlarge (1 x NVIDIA A10G)) and without (m7i.large); a run gets whichever has capacity, so list only GPU types or only others`,
    ],
    [
      ["g5g.xlarge"],
      "arm64",
      `${KEY}: g5g.xlarge have NVIDIA GPUs, but there is no ECS-optimized Amazon Linux 2023 GPU AMI for arm64; use x86_64 GPU types (g4dn, g5, g6, p4d, p5, ...)`,
    ],
  ];
  for (const [types, architecture, expected] of cases) {
    it(`${types.join(", ")} (${architecture})`, () =>
      assert.deepEqual(jobHardware(types, architecture, facts(...types), KEY), expected));
  }

  it("reads the instance store's size as EC2 reports it", () => {
    const f = facts("m6id.large", "p4d.24xlarge", "t3.medium");
    assert.deepEqual(Object.values(f).map(instanceStoreGB), [118, 8000, 0]);
    assert.deepEqual(f["p4d.24xlarge"].gpus, [
      { manufacturer: "NVIDIA", name: "A100", count: 8, memorySize: 40960 },
    ]);
  });
});
