/** The IAM simulator the security suites use gives the engine's answers, each computed once. */
import * as assert from "node:assert/strict";
import {
  memoizedResourceTypesForAction,
  rememberedAnswers,
  runSimulation,
  unmemoizedResourceTypesForAction,
} from "../../testing/iamSimulator";

const QUESTIONS: [string, string, string][] = [
  ["s3", "GetObject", "arn:aws:s3:::tj-results/jobs/pi/runs/r1.json"],
  ["s3", "ListBucket", "arn:aws:s3:::tj-results"],
  ["ec2", "RunInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/*"],
  ["ec2", "RunInstances", "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0abc"],
  ["logs", "PutLogEvents", "arn:aws:logs:eu-west-1:123456789012:log-group:/tj/pi:log-stream:x"],
];

async function outcome(answer: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await answer() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe("testing/iamSimulator", function () {
  for (const [service, action, resource] of QUESTIONS) {
    it(`answers ${service}:${action} on ${resource} as the engine does, twice`, async () => {
      const expected = await outcome(() =>
        unmemoizedResourceTypesForAction(service, action, resource),
      );
      assert.ok(Array.isArray((expected as { value?: unknown }).value), "the engine answered");
      for (let i = 0; i < 2; i++) {
        const actual = await outcome(() =>
          memoizedResourceTypesForAction(service, action, resource),
        );
        assert.deepEqual(actual, expected);
      }
    });
  }

  it("fails, every time, where the engine fails (an action with no resource types)", async () => {
    const expected = await outcome(() =>
      unmemoizedResourceTypesForAction("ec2", "DescribeInstances", "*"),
    );
    assert.match(String((expected as { error?: string }).error), /does not have any resource/);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(
        await outcome(() => memoizedResourceTypesForAction("ec2", "DescribeInstances", "*")),
        expected,
      );
    }
  });

  it("is the lookup the engine's simulations go through", async () => {
    const before = rememberedAnswers();
    const resource = `arn:aws:s3:::tj-memo-${Date.now()}/object`;
    const result = await runSimulation(
      {
        request: {
          principal: "arn:aws:iam::123456789012:role/r",
          action: "s3:GetObject",
          resource: { resource, accountId: "123456789012" },
          contextVariables: {},
        },
        identityPolicies: [
          {
            name: "p",
            policy: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
            },
          },
        ],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      { simulationMode: "Strict" },
    );
    assert.deepEqual(
      result.resultType === "error" ? result.errors : result.overallResult,
      "Allowed",
    );
    assert.ok(rememberedAnswers() > before, "the simulation did not ask the memo");
  });
});
