/**
 * Launch templates with tags in instance metadata: RunInstances fails an instance whose tag keys
 * break the metadata rule, and the offline plan refuses such a template the same way.
 */
import * as assert from "node:assert/strict";
import { TAGS } from "../../launcher/contract";
import { launchTemplateProblems, metadataTagKeyProblem } from "../../offline/engine";

const TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const template = (tags: Record<string, string>, instanceMetadataTags = "enabled") => ({
  metadataOptions: { httpTokens: "required", instanceMetadataTags },
  tagSpecifications: [
    { resourceType: "instance", tags },
    { resourceType: "volume", tags: { "any key / with spaces": "v" } },
  ],
});

describe("tags in instance metadata", () => {
  it("accepts every tag key the launcher writes", () => {
    assert.deepEqual(
      Object.values(TAGS).map((key) => [key, metadataTagKeyProblem(key)]),
      Object.values(TAGS).map((key) => [key, undefined]),
    );
  });

  const cases: [string, string | undefined][] = [
    ["Name", undefined],
    ["team:cost-center=a,b@x_y+.", undefined],
    ["cost center", "refused"],
    ["team/cost", "refused"],
    [".", "refused"],
    ["..", "refused"],
    ["_index", "refused"],
    ["café", "refused"],
  ];
  for (const [key, expected] of cases) {
    it(`${expected ?? "accepts"} ${JSON.stringify(key)}`, () => {
      const problem = metadataTagKeyProblem(key);
      if (expected === undefined) assert.equal(problem, undefined);
      else
        assert.match(
          problem ?? "",
          new RegExp(`tag key ${JSON.stringify(key).replace(/[.]/g, "\\.")} breaks`),
        );
    });
  }

  it("checks only the instance tags of a template that puts tags in metadata", () => {
    assert.deepEqual(launchTemplateProblems(TEMPLATE, template({ Name: "x" })), []);
    assert.equal(launchTemplateProblems(TEMPLATE, template({ "a b": "x" })).length, 1);
    assert.deepEqual(launchTemplateProblems(TEMPLATE, template({ "a b": "x" }, "disabled")), []);
    assert.deepEqual(
      launchTemplateProblems("aws:ec2/instance:Instance", template({ "a b": "x" })),
      [],
    );
  });
});
