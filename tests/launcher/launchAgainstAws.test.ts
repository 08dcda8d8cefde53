/**
 * The launch loop against EC2's documented rules (ClientToken memory, the Spot service-linked
 * role, terminated instances), retried as Lambda retries a failed asynchronous invocation.
 */
import * as assert from "node:assert/strict";
import { launchRun, SPOT_UNAVAILABLE_WARNING, type LaunchResult } from "../../launcher/launch";
import { clientTokenFor } from "../../launcher/runId";
import type { JobLaunchSpec } from "../../launcher/contract";
import { awsLikeEc2, type AwsLikeEc2 } from "../../testing/awsLikeEc2";
import { NOW, SCHEDULED, specFixture } from "../../testing/fixtures";

/** One invocation of the launcher `delayMs` after {@link NOW}, with a 60 s budget. */
function invoke(
  ec2: AwsLikeEc2,
  spec: JobLaunchSpec,
  delayMs = 0,
  request: { manual?: boolean; requestedTime?: Date; scheduledTime?: Date } = {},
): Promise<LaunchResult> {
  let slept = 0;
  const now = () => new Date(NOW.getTime() + delayMs + slept);
  return launchRun(
    ec2.client,
    { spec, scheduledTime: request.scheduledTime ?? SCHEDULED, ...request },
    {
      now,
      remainingTimeMs: () => 60000 - slept,
      sleep: async (ms) => void (slept += ms),
      random: () => 0.5,
      log: () => undefined,
    },
  );
}

const LAMBDA_FIRST_RETRY_MS = 60_000;
const LAMBDA_SECOND_RETRY_MS = 180_000;

describe("launchRun against EC2's idempotency rules", () => {
  it("sends a byte-identical request when Lambda retries, so it reaches the option with capacity", async () => {
    const ec2 = awsLikeEc2();
    const spec = specFixture();
    const first = await invoke(ec2, spec);
    assert.equal(first.status, "failed");
    assert.match((first as { reason: string }).reason, /^no capacity: /);

    // Capacity frees up in the third option before Lambda's first retry.
    ec2.capacity.add("on-demand m6i.large subnet-aaaa");
    const retry = await invoke(ec2, spec, LAMBDA_FIRST_RETRY_MS);
    assert.equal(retry.status, "launched", JSON.stringify(retry));
    assert.equal(retry.status === "launched" && retry.instanceType, "m6i.large");

    const byToken = new Map<string, string[]>();
    for (const request of ec2.runRequests) {
      const list = byToken.get(request.ClientToken ?? "") ?? [];
      list.push(JSON.stringify(request));
      byToken.set(request.ClientToken ?? "", list);
    }
    for (const [token, requests] of byToken) {
      assert.equal(new Set(requests).size, 1, `token ${token} was sent with other parameters`);
    }
    assert.equal(ec2.instances.length, 1);
  });

  it("a third invocation after the launch returns the same instance, launching nothing", async () => {
    const ec2 = awsLikeEc2();
    ec2.capacity.add("on-demand m7i.large subnet-aaaa");
    ec2.describeSeesLaunches = false; // DescribeInstances lags: only the token finds it.
    const first = await invoke(ec2, specFixture());
    const again = await invoke(ec2, specFixture(), LAMBDA_SECOND_RETRY_MS);
    assert.equal(first.status === "launched" && first.instanceId, ec2.instances[0].InstanceId);
    assert.equal(again.status === "launched" && again.instanceId, ec2.instances[0].InstanceId);
    assert.equal(ec2.instances.length, 1);
  });

  it("moves on when a token mismatch finds no instance of the run", async () => {
    const ec2 = awsLikeEc2();
    const spec = specFixture();
    // An older deployment's attempt used the first option's token with other parameters.
    const firstToken = clientTokenFor({
      environment: spec.environment,
      launchTemplateId: spec.launchTemplateId,
      runId: "pi-20261123T0300Z",
      purchaseOption: "on-demand",
      instanceType: "m7i.large",
      subnetId: "subnet-aaaa",
    });
    ec2.tokens.set(firstToken, { parameters: "the older deployment's request" });
    ec2.capacity.add("on-demand m7i.large subnet-bbbb");
    const result = await invoke(ec2, spec, LAMBDA_FIRST_RETRY_MS);
    assert.equal(result.status, "launched", JSON.stringify(result));
    assert.deepEqual(
      result.status === "launched" && result.attempts.map((a) => [a.subnetId, a.outcome]),
      [
        ["subnet-aaaa", "idempotency-mismatch"],
        ["subnet-aaaa", "not-found"],
        ["subnet-bbbb", "launched"],
      ],
    );
  });

  it("reports IdempotentInstanceTerminated as a run that already happened", async () => {
    const ec2 = awsLikeEc2();
    ec2.capacity.add("on-demand m7i.large subnet-aaaa");
    await invoke(ec2, specFixture());
    ec2.instances[0].State = { Name: "terminated" };
    ec2.describeSeesLaunches = false; // Terminated instances drop out of DescribeInstances.
    const result = await invoke(ec2, specFixture(), LAMBDA_SECOND_RETRY_MS);
    assert.equal(result.status, "ended");
    assert.match(
      (result as { reason: string }).reason,
      /^run pi-20261123T0300Z already ran: EC2 answered IdempotentInstanceTerminated/,
    );
    assert.equal(ec2.instances.length, 1);
  });
});

describe("launchRun in an account without the Spot service-linked role", () => {
  it("spot-then-on-demand: moves on to on-demand at once and warns how to fix it", async () => {
    const ec2 = awsLikeEc2();
    ec2.spotRoleMissing = true;
    ec2.capacity.add("on-demand m7i.large subnet-aaaa");
    ec2.capacity.add("spot m7i.large subnet-aaaa");
    const result = await invoke(ec2, specFixture({ purchaseOption: "spot-then-on-demand" }));
    assert.equal(result.status, "launched", JSON.stringify(result));
    if (result.status !== "launched") return;
    assert.equal(result.purchaseOption, "on-demand");
    // One spot attempt, not one per type and subnet: no spot option can succeed.
    assert.deepEqual(
      result.attempts.map((a) => [a.purchaseOption, a.outcome, a.errorCode]),
      [
        ["spot", "spot-unavailable", "AuthFailure.ServiceLinkedRoleCreationNotPermitted"],
        ["on-demand", "launched", undefined],
      ],
    );
    assert.deepEqual(result.warnings, [SPOT_UNAVAILABLE_WARNING]);
    assert.match(
      SPOT_UNAVAILABLE_WARNING,
      /aws iam create-service-linked-role --aws-service-name spot\.amazonaws\.com/,
    );
  });

  it("spot: fails with the fix instead of a bare AuthFailure", async () => {
    const ec2 = awsLikeEc2();
    ec2.spotRoleMissing = true;
    ec2.capacity.add("spot m7i.large subnet-aaaa");
    const result = await invoke(ec2, specFixture({ purchaseOption: "spot" }));
    assert.equal(result.status, "failed");
    assert.equal((result as { reason: string }).reason, SPOT_UNAVAILABLE_WARNING);
    assert.equal(ec2.runRequests.length, 1);
  });
});

describe("launchRun's time window", () => {
  it("refuses a run later than maxLaunchDelaySeconds after its scheduled time", async () => {
    const ec2 = awsLikeEc2();
    ec2.capacity.add("on-demand m7i.large subnet-aaaa");
    const spec = specFixture({ maxLaunchDelaySeconds: 600 });
    const late = await invoke(ec2, spec, 600_000); // NOW is 10 s after SCHEDULED
    assert.equal(late.status, "failed");
    assert.equal(
      (late as { reason: string }).reason,
      "too late: run pi-20261123T0300Z was due at 2026-11-23T03:00:00Z and can be launched until 2026-11-23T03:10:00Z (maxLaunchDelaySeconds 600); it is now 2026-11-23T03:10:10Z",
    );
    assert.equal(ec2.runRequests.length, 0);
  });

  it("counts a manual launch's deadline from its request, so an old --at gets its full runtime", async () => {
    const ec2 = awsLikeEc2();
    ec2.capacity.add("on-demand m7i.large subnet-aaaa");
    const yesterday = new Date(SCHEDULED.getTime() - 86_400_000);
    const result = await invoke(ec2, specFixture(), 0, {
      manual: true,
      scheduledTime: yesterday,
      requestedTime: NOW,
    });
    assert.equal(result.status, "launched", JSON.stringify(result));
    const tags = Object.fromEntries(
      (ec2.instances[0].Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]),
    );
    assert.equal(tags["transient-jobs:run-id"], "pi-20261122T0300Z");
    assert.equal(tags["transient-jobs:scheduled-time"], "2026-11-22T03:00:00Z");
    // NOW (03:00:10) + 7320 s + 120 min.
    assert.equal(tags["transient-jobs:deadline"], "2026-11-23T07:02:10Z");
  });

  it("refuses a request time in the future, which would push the deadline out", async () => {
    const ec2 = awsLikeEc2();
    const result = await invoke(ec2, specFixture(), 0, {
      manual: true,
      requestedTime: new Date(NOW.getTime() + 86_400_000),
    });
    assert.equal(result.status, "failed");
    assert.match((result as { reason: string }).reason, /in the future/);
    assert.equal(ec2.runRequests.length, 0);
  });
});
