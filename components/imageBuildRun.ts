/**
 * Starts one CodeBuild build of a job image and waits for it: what the image build resource does
 * on `pulumi up` (components/codeBuildImage.ts). The AWS clients, the clock and the sleep are
 * parameters, so every outcome (success, failure, timeout) is tested without AWS or waiting.
 */
import {
  BatchGetBuildsCommand,
  Build,
  CodeBuildClient,
  StartBuildCommand,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  BUILD_VARIABLES,
  buildConsoleUrl,
  DIGEST_VARIABLE,
  IMAGE_DIGEST_PATTERN,
  QUEUED_TIMEOUT_MINUTES,
} from "../lib/codeBuild";

/** What one build needs: the inputs of the image build resource. */
export interface ImageBuildInputs {
  /** Region of the project and the repository. */
  region: string;
  projectName: string;
  /** `bucket/key` of the zipped build context. */
  sourceLocation: string;
  /** The tag pushed (the context's SHA-256): the same context always gets the same tag. */
  imageTag: string;
  /** The repository the build pushes to; the result is `<repositoryUrl>@<digest>`. */
  repositoryUrl: string;
  /** Minutes the build may run (the project's timeout). */
  timeoutMinutes: number;
  /**
   * What else decides the image (the buildspec and environment, hashed): a change rebuilds it
   * even when the context is the same.
   */
  buildSettings: string;
}

/** What a finished build leaves in the resource's state. */
export interface ImageBuildOutputs extends ImageBuildInputs {
  buildId: string;
  imageDigest: string;
  /** `<repositoryUrl>@<digest>`: what the launch spec runs. */
  imageUri: string;
}

/** The clients the runner calls; the real ones or aws-sdk-client-mock's. */
export interface ImageBuildClients {
  codebuild: Pick<CodeBuildClient, "send">;
  logs: Pick<CloudWatchLogsClient, "send">;
}

/** Time, injectable: tests pass a fake clock whose sleep only advances it. */
export interface BuildClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const SYSTEM_CLOCK: BuildClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
};

/** How often the runner asks CodeBuild about the build. */
export const POLL_INTERVAL_MS = 10_000;
/** Log lines a failure message shows. */
export const LOG_TAIL_LINES = 20;
/** Minutes the runner waits beyond CodeBuild's own timeouts before it stops the build itself. */
export const WAIT_MARGIN_MINUTES = 5;

/** A build that did not produce an image; the message has its status, log tail and link. */
export class ImageBuildError extends Error {
  constructor(
    message: string,
    readonly status: string,
    readonly logTail: string[],
    readonly link: string,
  ) {
    super(message);
    this.name = "ImageBuildError";
  }
}

/** The input fields whose change means a new image: any of them differing starts a build. */
export const BUILD_INPUT_FIELDS = [
  "region",
  "projectName",
  "sourceLocation",
  "imageTag",
  "repositoryUrl",
  "timeoutMinutes",
  "buildSettings",
] as const satisfies readonly (keyof ImageBuildInputs)[];

/**
 * The dynamic provider's diff: the fields that changed. None changed (an unchanged context and
 * project) means no update, so no build: the digest stays what the state holds.
 */
export function changedBuildInputs(
  olds: Partial<ImageBuildInputs>,
  news: Partial<ImageBuildInputs>,
): string[] {
  return BUILD_INPUT_FIELDS.filter((field) => olds[field] !== news[field]);
}

/** The last lines the build wrote to its log stream, oldest first; none if it has no stream. */
export async function buildLogTail(
  logs: ImageBuildClients["logs"],
  build: Build,
  lines = LOG_TAIL_LINES,
): Promise<string[]> {
  const { groupName, streamName } = build.logs ?? {};
  if (!groupName || !streamName) return [];
  try {
    const page = await logs.send(
      new GetLogEventsCommand({
        logGroupName: groupName,
        logStreamName: streamName,
        startFromHead: false,
        limit: lines,
      }),
    );
    return (page.events ?? []).map((e) => (e.message ?? "").replace(/\n$/, ""));
  } catch (error) {
    return [`(the build's log could not be read: ${(error as Error).message})`];
  }
}

async function failure(
  clients: ImageBuildClients,
  inputs: ImageBuildInputs,
  build: Build,
  what: string,
): Promise<ImageBuildError> {
  const tail = await buildLogTail(clients.logs, build);
  const link = buildConsoleUrl(inputs.region, build.id ?? inputs.projectName);
  const logs = build.logs?.deepLink ? `\n  logs: ${build.logs.deepLink}` : "";
  const lines = tail.length > 0 ? tail.map((l) => `    ${l}`).join("\n") : "    (no log lines)";
  return new ImageBuildError(
    `image build ${build.id} of ${inputs.repositoryUrl} ${what}\n  build: ${link}${logs}\n  last log lines:\n${lines}`,
    build.buildStatus ?? "UNKNOWN",
    tail,
    link,
  );
}

/**
 * Starts a build of `inputs.sourceLocation` in `inputs.projectName` and waits until it ends: the
 * pushed image's digest when it succeeds; an {@link ImageBuildError} with the build's last log
 * lines and a link when it fails, faults, is stopped or times out (CodeBuild's `TIMED_OUT`, or
 * this wait outlasting the queue and build timeouts, when it stops the build itself).
 * Build statuses: https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html
 */
export async function runImageBuild(
  clients: ImageBuildClients,
  inputs: ImageBuildInputs,
  clock: BuildClock = SYSTEM_CLOCK,
  pollIntervalMs = POLL_INTERVAL_MS,
): Promise<{ buildId: string; imageDigest: string; imageUri: string }> {
  const started = await clients.codebuild.send(
    new StartBuildCommand({
      projectName: inputs.projectName,
      sourceTypeOverride: "S3",
      sourceLocationOverride: inputs.sourceLocation,
      timeoutInMinutesOverride: inputs.timeoutMinutes,
      environmentVariablesOverride: [
        { name: BUILD_VARIABLES.imageTag, value: inputs.imageTag, type: "PLAINTEXT" },
      ],
    }),
  );
  const id = started.build?.id;
  if (!id) throw new Error(`StartBuild of ${inputs.projectName} returned no build id`);
  const deadline =
    clock.now() + (QUEUED_TIMEOUT_MINUTES + inputs.timeoutMinutes + WAIT_MARGIN_MINUTES) * 60_000;
  let build: Build = started.build!;
  for (;;) {
    if (build.buildComplete || (build.buildStatus && build.buildStatus !== "IN_PROGRESS")) break;
    if (clock.now() >= deadline) {
      await clients.codebuild.send(new StopBuildCommand({ id }));
      throw await failure(
        clients,
        inputs,
        build,
        `exceeded its timeout (${QUEUED_TIMEOUT_MINUTES} min queued + ${inputs.timeoutMinutes} min building); it was stopped`,
      );
    }
    await clock.sleep(pollIntervalMs);
    const { builds } = await clients.codebuild.send(new BatchGetBuildsCommand({ ids: [id] }));
    build = builds?.[0] ?? build;
  }
  if (build.buildStatus !== "SUCCEEDED") {
    const what =
      build.buildStatus === "TIMED_OUT"
        ? `exceeded its timeout of ${inputs.timeoutMinutes} minutes (TIMED_OUT)`
        : `ended ${build.buildStatus ?? "without a status"}${build.currentPhase ? ` in phase ${build.currentPhase}` : ""}`;
    throw await failure(clients, inputs, build, what);
  }
  const digest = build.exportedEnvironmentVariables?.find((v) => v.name === DIGEST_VARIABLE)?.value;
  if (!digest || !IMAGE_DIGEST_PATTERN.test(digest)) {
    throw await failure(
      clients,
      inputs,
      build,
      `succeeded but exported no image digest (${DIGEST_VARIABLE}: ${JSON.stringify(digest ?? null)})`,
    );
  }
  return { buildId: id, imageDigest: digest, imageUri: `${inputs.repositoryUrl}@${digest}` };
}
