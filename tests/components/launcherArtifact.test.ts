/**
 * The launcher exactly as `pulumi up` would upload it: the code asset the Launcher component hands
 * to aws:lambda/function under mocks (from the real Pulumi.dev.yaml), run in a fresh Node process
 * against a local EC2 endpoint.
 */
import * as assert from "node:assert/strict";
import type { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";
import {
  assertSelfContained,
  ec2Xml,
  invokeSerializedHandler,
  startEc2Stub,
  type Ec2Stub,
} from "../../testing/serializedClosure";

describe("launcher artifact from the program", function () {
  this.timeout(60000);
  let code: string;
  let launchTemplate: RecordedResource;
  let stub: Ec2Stub;

  before(async () => {
    const { resources } = (await evaluatedStack("dev")).evaluation;
    const fn = resources.find(
      (r) => r.type === "aws:lambda/function:Function" && r.name.includes("launcher"),
    );
    assert.ok(fn, "no launcher function");
    const assets = await (
      fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
    ).assets;
    assert.deepEqual(Object.keys(assets), ["__index.js"]);
    code = await assets["__index.js"].text;
    launchTemplate = resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!;
    stub = await startEc2Stub(({ action, params }) => {
      if (action === "DescribeInstances") return { body: ec2Xml.describeInstances([]) };
      if (action === "RunInstances") {
        return {
          body: ec2Xml.runInstances({
            instanceId: "i-0artifact",
            instanceType: params.InstanceType,
            availabilityZone: "eu-west-1b",
          }),
        };
      }
      return { status: 400, body: ec2Xml.error("InvalidAction", `unexpected ${action}`) };
    });
  });

  after(async () => stub?.close());

  it("bundles no AWS SDK and no other package", () => {
    assertSelfContained(code);
    assert.ok(Buffer.byteLength(code) < 100_000, `${Buffer.byteLength(code)} bytes`);
  });

  it("launches the configured job from its launch template, with the deployed config baked in", async () => {
    const outcome = await invokeSerializedHandler(
      code,
      { job: "pi", scheduledTime: "2026-11-24T06:00:00Z" },
      stub.endpoint,
      { clock: "2026-11-24T06:00:20Z" },
    );
    assert.equal(outcome.ok, true, JSON.stringify(outcome.error) + outcome.stderr);
    assert.equal(outcome.result?.status, "launched");
    assert.equal(outcome.result?.instanceId, "i-0artifact");
    const run = stub.requests.find((r) => r.action === "RunInstances");
    assert.ok(run, "no RunInstances request");
    assert.equal(run.params["LaunchTemplate.LaunchTemplateId"], launchTemplate.id);
    // dev's first preference, spot first (purchaseOption spot-then-on-demand).
    assert.equal(run.params.InstanceType, "t3.medium");
    assert.equal(run.params["InstanceMarketOptions.MarketType"], "spot");
    const userData = Buffer.from(run.params.UserData, "base64").toString();
    assert.match(userData, /DURATION_SECONDS/);
    assert.match(userData, /pi-20261124T0600Z/);
  });

  it("rejects an event for a job it was not deployed with, naming the job", async () => {
    const before = stub.requests.length;
    const outcome = await invokeSerializedHandler(
      code,
      { job: "nightly-pi", scheduledTime: "2026-11-24T06:00:00Z" },
      stub.endpoint,
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.error!.message, /nightly-pi/);
    assert.equal(stub.requests.slice(before).filter((r) => r.action === "RunInstances").length, 0);
  });
});
