import * as assert from "node:assert/strict";
import {
  BatchGetBuildsCommand,
  Build,
  CodeBuildClient,
  StartBuildCommand,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import {
  BuildClock,
  changedBuildInputs,
  ImageBuildError,
  ImageBuildInputs,
  LOG_TAIL_LINES,
  runImageBuild,
} from "../../components/imageBuildRun";
import { imageBuildProvider } from "../../components/codeBuildImage";
import { QUEUED_TIMEOUT_MINUTES } from "../../lib/codeBuild";

const INPUTS: ImageBuildInputs = {
  region: "eu-west-1",
  projectName: "tj-prod-eu-west-1-job-image-arm64-build-abc1234",
  sourceLocation: `tj-prod-eu-west-1-job-image-arm64-src-abc1234/sources/job-image-arm64/${"a".repeat(64)}.zip`,
  imageTag: "a".repeat(64),
  repositoryUrl:
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tj-prod-eu-west-1-job-image-arm64-repo",
  timeoutMinutes: 30,
  buildSettings: "b".repeat(64),
};
const ID = `${INPUTS.projectName}:0f0e0d0c-0000-4000-8000-000000000000`;
const DIGEST = `sha256:${"c".repeat(64)}`;
const LOGS = { groupName: "tj-prod-eu-west-1-job-image-arm64-build-logs", streamName: "0f0e0d0c" };

/** A clock whose sleep only moves time on, recording each wait. */
function fakeClock(): BuildClock & { waits: number[] } {
  let now = Date.UTC(2026, 11, 2, 4, 0);
  const waits: number[] = [];
  return { waits, now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
}

describe("image build runner (CodeBuild client mock)", () => {
  const codebuild = mockClient(CodeBuildClient);
  const logs = mockClient(CloudWatchLogsClient);
  const clients = { codebuild: new CodeBuildClient({}), logs: new CloudWatchLogsClient({}) };
  const build = (status: Build["buildStatus"], extra: Partial<Build> = {}): Build => ({
    id: ID,
    buildStatus: status,
    buildComplete: status !== "IN_PROGRESS",
    logs: LOGS,
    ...extra,
  });

  beforeEach(() => {
    codebuild.reset();
    logs.reset();
    codebuild.on(StartBuildCommand).resolves({ build: build("IN_PROGRESS") });
  });

  it("starts the build of exactly this context and tag, polls until it succeeds, returns the digest", async () => {
    codebuild
      .on(BatchGetBuildsCommand)
      .resolvesOnce({ builds: [build("IN_PROGRESS", { currentPhase: "BUILD" })] })
      .resolvesOnce({
        builds: [
          build("SUCCEEDED", {
            exportedEnvironmentVariables: [{ name: "IMAGE_DIGEST", value: DIGEST }],
          }),
        ],
      });
    const clock = fakeClock();
    const result = await runImageBuild(clients, INPUTS, clock, 10_000);
    assert.deepEqual(result, {
      buildId: ID,
      imageDigest: DIGEST,
      imageUri: `${INPUTS.repositoryUrl}@${DIGEST}`,
    });
    assert.deepEqual(codebuild.commandCalls(StartBuildCommand)[0].args[0].input, {
      projectName: INPUTS.projectName,
      sourceTypeOverride: "S3",
      sourceLocationOverride: INPUTS.sourceLocation,
      timeoutInMinutesOverride: 30,
      environmentVariablesOverride: [
        { name: "IMAGE_TAG", value: INPUTS.imageTag, type: "PLAINTEXT" },
      ],
    });
    assert.equal(codebuild.commandCalls(BatchGetBuildsCommand).length, 2);
    assert.deepEqual(codebuild.commandCalls(BatchGetBuildsCommand)[0].args[0].input, { ids: [ID] });
    assert.deepEqual(clock.waits, [10_000, 10_000]);
    assert.equal(logs.commandCalls(GetLogEventsCommand).length, 0);
  });

  it("fails with the build's status, last log lines and a link when the build fails", async () => {
    codebuild.on(BatchGetBuildsCommand).resolves({
      builds: [
        build("FAILED", {
          currentPhase: "COMPLETED",
          logs: {
            ...LOGS,
            deepLink: "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:x",
          },
        }),
      ],
    });
    logs.on(GetLogEventsCommand).resolves({
      events: [{ message: "Step 5/9 : RUN npm ci\n" }, { message: "npm ERR! code E404\n" }],
    });
    const error = await runImageBuild(clients, INPUTS, fakeClock()).then(
      () => assert.fail("the build failed"),
      (e: unknown) => e as ImageBuildError,
    );
    assert.ok(error instanceof ImageBuildError);
    assert.equal(error.status, "FAILED");
    assert.deepEqual(error.logTail, ["Step 5/9 : RUN npm ci", "npm ERR! code E404"]);
    assert.equal(
      error.link,
      `https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/${INPUTS.projectName}/build/${encodeURIComponent(ID)}/?region=eu-west-1`,
    );
    assert.match(error.message, /ended FAILED in phase COMPLETED/);
    assert.match(error.message, /npm ERR! code E404/);
    assert.match(error.message, /logs: https:\/\/console\.aws\.amazon\.com\/cloudwatch/);
    assert.deepEqual(logs.commandCalls(GetLogEventsCommand)[0].args[0].input, {
      logGroupName: LOGS.groupName,
      logStreamName: LOGS.streamName,
      startFromHead: false,
      limit: LOG_TAIL_LINES,
    });
  });

  it("fails the same way when CodeBuild times the build out", async () => {
    codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build("TIMED_OUT")] });
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: "#12 exporting layers" }] });
    await assert.rejects(runImageBuild(clients, INPUTS, fakeClock()), (e: ImageBuildError) => {
      assert.equal(e.status, "TIMED_OUT");
      assert.match(e.message, /exceeded its timeout of 30 minutes \(TIMED_OUT\)/);
      assert.match(e.message, /#12 exporting layers/);
      return true;
    });
  });

  it("stops a build that outlasts the queue and build timeouts, and fails with its log tail", async () => {
    codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build("IN_PROGRESS")] });
    codebuild.on(StopBuildCommand).resolves({});
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: "still pulling" }] });
    const clock = fakeClock();
    const start = clock.now();
    await assert.rejects(runImageBuild(clients, INPUTS, clock, 60_000), (e: ImageBuildError) => {
      assert.match(e.message, /exceeded its timeout .*it was stopped/);
      assert.match(e.message, /still pulling/);
      return true;
    });
    assert.deepEqual(codebuild.commandCalls(StopBuildCommand)[0].args[0].input, { id: ID });
    const waited = (clock.now() - start) / 60_000;
    assert.ok(
      waited >= QUEUED_TIMEOUT_MINUTES + INPUTS.timeoutMinutes,
      `gave up after ${waited} min`,
    );
    assert.ok(waited <= QUEUED_TIMEOUT_MINUTES + INPUTS.timeoutMinutes + 6, `waited ${waited} min`);
  });

  it("refuses a successful build that exported no digest", async () => {
    codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build("SUCCEEDED")] });
    logs.on(GetLogEventsCommand).resolves({ events: [] });
    await assert.rejects(runImageBuild(clients, INPUTS, fakeClock()), /exported no image digest/);
  });

  it("the provider's create starts the build with SDK clients of the build's region and records the digest", async () => {
    const done = build("SUCCEEDED", {
      exportedEnvironmentVariables: [{ name: "IMAGE_DIGEST", value: DIGEST }],
    });
    codebuild.on(StartBuildCommand).resolves({ build: done });
    const created = await imageBuildProvider.create({ ...INPUTS });
    assert.deepEqual(created, {
      id: ID,
      outs: {
        ...INPUTS,
        buildId: ID,
        imageDigest: DIGEST,
        imageUri: `${INPUTS.repositoryUrl}@${DIGEST}`,
      },
    });
    const call = codebuild.commandCalls(StartBuildCommand)[0];
    assert.equal(await call.thisValue.config.region(), INPUTS.region);
    assert.equal(codebuild.commandCalls(StartBuildCommand).length, 1);
  });

  it("starts no build for an unchanged context and project: the provider's diff sees no change", async () => {
    const diff = imageBuildProvider.diff!;
    // What the state holds after a build: its inputs and what it pushed.
    const state = {
      ...INPUTS,
      buildId: ID,
      imageDigest: DIGEST,
      imageUri: `${INPUTS.repositoryUrl}@${DIGEST}`,
    };
    assert.deepEqual(await diff(ID, state, { ...INPUTS }), {
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
    assert.equal((await diff(ID, state, { ...INPUTS, imageTag: "d".repeat(64) })).changes, true);
    assert.deepEqual(changedBuildInputs(INPUTS, { ...INPUTS }), []);
    // The diff, which preview runs too, calls no AWS API at all.
    assert.equal(codebuild.calls().length + logs.calls().length, 0);
    assert.deepEqual(changedBuildInputs(INPUTS, { ...INPUTS, imageTag: "d".repeat(64) }), [
      "imageTag",
    ]);
    assert.deepEqual(changedBuildInputs(INPUTS, { ...INPUTS, buildSettings: "e".repeat(64) }), [
      "buildSettings",
    ]);
    assert.equal(codebuild.commandCalls(StartBuildCommand).length, 0);
  });
});
