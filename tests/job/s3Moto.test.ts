/**
 * S3 output end to end over real HTTP against moto: the compiled job as a child process with the
 * variables the init script sets, then the objects read back and checked.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { decodeCheckpoint } from "../../job-image/src/checkpoint";
import { buildManifest, encodePiData } from "../../job-image/src/manifest";
import { S3ResultWriter } from "../../job-image/src/s3Writer";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";
import { buildJob, PI_2000, startJob, temporaryDir } from "./helpers/jobBuild";
import { checkStoredResult } from "./helpers/results";

const BUCKET = "tj-results-eu-west-1";
const PREFIX = "jobs/pi/results";
const MiB = 1024 * 1024;

describe("job S3 output against moto", function () {
  this.timeout(60000);
  let endpoint: string;
  let s3: S3Client;
  let cwd: string;

  before(async () => {
    [endpoint] = await Promise.all([startMoto(), buildJob()]);
    s3 = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint, forcePathStyle: true });
  });
  after(() => s3?.destroy());

  beforeEach(async () => {
    await resetMoto();
    await s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: MOTO_CLIENT_CONFIG.region },
      }),
    );
    cwd = temporaryDir("s3");
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  /** The variables the init script passes to the container, pointed at moto. */
  const containerEnv = (runId: string, extra: Record<string, string> = {}) => ({
    // 3 s: loading the SDK, the write check's two requests and starting the threads take a good
    // part of 2 s on a busy machine, and the budget counts from process start.
    DURATION_SECONDS: "3",
    WORKERS: "1",
    RUN_ID: runId,
    RESULTS_BUCKET: BUCKET,
    RESULTS_PREFIX: PREFIX,
    AWS_REGION: MOTO_CLIENT_CONFIG.region,
    AWS_ACCESS_KEY_ID: MOTO_CLIENT_CONFIG.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CLIENT_CONFIG.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoint,
    ...extra,
  });

  async function getObject(key: string) {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    return { body, contentType: object.ContentType, etag: object.ETag ?? "" };
  }

  async function keys(): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
  }

  async function checkRun(runId: string) {
    const folder = `${PREFIX}/${runId}`;
    assert.deepEqual(await keys(), [`${folder}/manifest.json`, `${folder}/pi.txt`]);
    const data = await getObject(`${folder}/pi.txt`);
    const manifest = await getObject(`${folder}/manifest.json`);
    assert.equal(data.contentType, "text/plain");
    assert.equal(manifest.contentType, "application/json");
    return { data, manifest: checkStoredResult(data.body, manifest.body.toString("utf8"), runId) };
  }

  it("stores pi.txt and manifest.json under RESULTS_PREFIX/RUN_ID with one PutObject each, and leaves nothing of its write check behind", async () => {
    const run = await startJob({ cwd, env: containerEnv("pi-20261123T0300Z") });
    assert.equal(run.code, 0, run.stderr);
    // No object besides the two (checkRun lists the bucket) and no open upload of the check.
    const { data, manifest } = await checkRun("pi-20261123T0300Z");
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.deepEqual(uploads.Uploads ?? [], []);
    assert.doesNotMatch(data.etag, /-\d+"?$/, "a single PUT has a plain MD5 ETag");
    assert.ok(manifest.digits >= 10_000, `${manifest.digits} digits`);
    assert.match(
      run.stdout,
      new RegExp(
        `wrote s3://${BUCKET}/${PREFIX}/pi-20261123T0300Z/pi\\.txt and s3://${BUCKET}/${PREFIX}/pi-20261123T0300Z/manifest\\.json\\n$`,
      ),
    );
    assert.deepEqual(fs.readdirSync(cwd), [], "nothing written locally");
  });

  it("uses a multipart upload above RESULTS_MULTIPART_THRESHOLD_BYTES", async () => {
    const run = await startJob({
      cwd,
      env: containerEnv("multipart-run", { RESULTS_MULTIPART_THRESHOLD_BYTES: "1024" }),
    });
    assert.equal(run.code, 0, run.stderr);
    const { data } = await checkRun("multipart-run");
    // Multipart ETags end in -<number of parts>; below 5 MiB the data is a single (last) part.
    assert.match(data.etag, /-1"?$/);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.deepEqual(uploads.Uploads ?? [], []);
  });

  it("uploads a result larger than one 5 MiB part in several parts", async () => {
    // The job would need minutes for 5 MiB of digits; the writer is the same.
    const block = PI_2000.slice(2);
    const places = block.repeat(Math.ceil((5.5 * MiB) / block.length)).slice(0, 5.5 * MiB);
    const body = encodePiData(`3.${places}`);
    const manifest = buildManifest(body, {
      runId: "big",
      version: "1.0.0",
      startedAt: new Date(),
      finishedAt: new Date(),
      durationSeconds: 1,
      workers: 1,
      stopReason: "planned",
      steps: [{ digits: places.length, ms: 1 }],
    });
    const writer = new S3ResultWriter(s3, {
      bucket: BUCKET,
      prefix: PREFIX,
      runId: "big",
      multipartThresholdBytes: 5 * MiB,
      partSizeBytes: 5 * MiB,
    });
    await writer.write(body, manifest);
    const stored = await getObject(`${PREFIX}/big/pi.txt`);
    assert.match(stored.etag, /-2"?$/);
    assert.equal(createHash("sha256").update(stored.body).digest("hex"), manifest.sha256);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/big/pi.txt` }),
    );
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ContentType, "text/plain");
  });

  it("fails at once, before computing, with exit code 1 and the S3 error when the bucket does not exist", async () => {
    const run = await startJob({
      cwd,
      env: containerEnv("no-bucket", {
        RESULTS_BUCKET: "tj-missing-bucket",
        DURATION_SECONDS: "120",
      }),
    });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(run.ms < 20_000, `failed after ${run.ms} ms of a 120 s run`);
    assert.match(
      run.stderr,
      /^pi: failed: cannot write results to s3:\/\/tj-missing-bucket\/jobs\/pi\/results\/no-bucket\/ \(bucket "tj-missing-bucket", prefix "jobs\/pi\/results"\): CreateMultipartUpload .*(NoSuchBucket|does not exist)/m,
    );
    assert.doesNotMatch(run.stdout, /pi: run /, "the run started computing");
    assert.deepEqual(await keys(), []);
  });

  it("keeps its checkpoint in S3 when stopped, and the next attempt resumes from it", async () => {
    const runId = "spot-run";
    const checkpointKey = `jobs/pi/checkpoints/${runId}/checkpoint.bin`;
    const env = containerEnv(runId, {
      DURATION_SECONDS: "4",
      CHECKPOINT_URI: `s3://${BUCKET}/jobs/pi/checkpoints/${runId}/`,
    });
    let sent = false;
    const first = await startJob({
      cwd,
      env,
      onStdout: (stdout, child) => {
        if (!sent && /step 6 verified/.test(stdout)) {
          sent = true;
          child.kill("SIGTERM");
        }
      },
    });
    assert.equal(first.code, 143, first.stderr);
    const saved = decodeCheckpoint((await getObject(checkpointKey)).body, runId);
    const second = await startJob({ cwd, env });
    assert.equal(second.code, 0, second.stderr);
    const stored = await getObject(`${PREFIX}/${runId}/pi.txt`);
    const manifest = checkStoredResult(
      stored.body,
      (await getObject(`${PREFIX}/${runId}/manifest.json`)).body.toString("utf8"),
      runId,
    );
    assert.equal(manifest.resumed?.digits, saved.pi.length - 2);
    assert.ok(manifest.digits > saved.pi.length - 2);
    assert.equal(stored.body.toString("ascii").slice(0, saved.pi.length), saved.pi);
    assert.deepEqual(
      (await keys()).filter((k) => k.includes("/checkpoints/")),
      [checkpointKey],
    );
  });
});
