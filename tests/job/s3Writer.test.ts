import * as assert from "node:assert/strict";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import {
  buildManifest,
  encodeManifest,
  encodePiData,
  Manifest,
} from "../../job-image/src/manifest";
import { prepareWithin } from "../../job-image/src/main";
import {
  MIN_PART_SIZE_BYTES,
  MultipartUploadError,
  partRanges,
  PROBE_FILE,
  ResultsNotWritableError,
  S3ResultWriter,
} from "../../job-image/src/s3Writer";

const MiB = 1024 * 1024;
const BUCKET = "tj-results-eu-west-1";
const FOLDER = "jobs/pi/results/pi-20261123T0300Z";

function manifestFor(data: Buffer): Manifest {
  return buildManifest(data, {
    runId: "pi-20261123T0300Z",
    version: "1.0.0",
    startedAt: new Date("2026-11-23T03:00:00Z"),
    finishedAt: new Date("2026-11-23T03:00:10Z"),
    durationSeconds: 10,
    workers: 2,
    stopReason: "planned",
    steps: [],
  });
}

/** `"3."` and `places` digits (not Pi: the writer does not care), plus the newline. */
function dataOf(places: number): Buffer {
  return encodePiData(`3.${"0123456789".repeat(Math.ceil(places / 10)).slice(0, places)}`);
}

/** The command name and input of every call, in order. */
function callLog(mock: ReturnType<typeof mockClient>): [string, Record<string, unknown>][] {
  return mock.calls().map((call) => {
    const command = call.args[0] as {
      constructor: { name: string };
      input: Record<string, unknown>;
    };
    return [command.constructor.name, command.input];
  });
}

describe("job S3 writer (aws-sdk-client-mock)", () => {
  // Installed in `before`, not at load: the mock replaces every S3Client's send, and the moto
  // tests in other files need the real one.
  const installMock = () => mockClient(S3Client);
  let s3: ReturnType<typeof installMock>;
  const writer = (options: Partial<ConstructorParameters<typeof S3ResultWriter>[1]> = {}) =>
    new S3ResultWriter(new S3Client({ region: "eu-west-1" }), {
      bucket: BUCKET,
      prefix: "jobs/pi/results",
      runId: "pi-20261123T0300Z",
      ...options,
    });

  before(() => {
    s3 = installMock();
  });
  beforeEach(() => s3.reset());
  after(() => s3.restore());

  it("puts small data, then the manifest, under <prefix>/<run id>/", async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    const data = dataOf(1000);
    const manifest = manifestFor(data);
    const subject = writer();
    assert.equal(subject.destination, `s3://${BUCKET}/${FOLDER}/`);
    const stored = await subject.write(data, manifest);
    assert.deepEqual(stored, {
      data: `s3://${BUCKET}/${FOLDER}/pi.txt`,
      manifest: `s3://${BUCKET}/${FOLDER}/manifest.json`,
    });
    assert.deepEqual(callLog(s3), [
      [
        "PutObjectCommand",
        { Bucket: BUCKET, Key: `${FOLDER}/pi.txt`, Body: data, ContentType: "text/plain" },
      ],
      [
        "PutObjectCommand",
        {
          Bucket: BUCKET,
          Key: `${FOLDER}/manifest.json`,
          Body: encodeManifest(manifest),
          ContentType: "application/json",
        },
      ],
    ]);
    const storedManifest = JSON.parse(
      (callLog(s3)[1][1].Body as Buffer).toString("utf8"),
    ) as Manifest;
    assert.equal(storedManifest.digits, 1000);
    assert.equal(storedManifest.bytes, data.length);
    assert.equal(storedManifest.runId, "pi-20261123T0300Z");
  });

  it("uploads data above the threshold in parts of the part size, in order", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-1" });
    s3.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({
      ETag: `"etag-${input.PartNumber}"`,
    }));
    s3.on(CompleteMultipartUploadCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    const data = dataOf(12 * MiB);
    const manifest = manifestFor(data);
    await writer({ multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB }).write(
      data,
      manifest,
    );
    const key = `${FOLDER}/pi.txt`;
    const part = (n: number, start: number, end: number) => [
      "UploadPartCommand",
      {
        Bucket: BUCKET,
        Key: key,
        UploadId: "upload-1",
        PartNumber: n,
        Body: data.subarray(start, end),
      },
    ];
    const log = callLog(s3);
    assert.deepEqual(log[0], [
      "CreateMultipartUploadCommand",
      { Bucket: BUCKET, Key: key, ContentType: "text/plain" },
    ]);
    // Parts go up to four at a time, so compare them as a set.
    const parts = log.slice(1, 4).sort((a, b) => Number(a[1].PartNumber) - Number(b[1].PartNumber));
    assert.deepEqual(parts, [
      part(1, 0, 5 * MiB),
      part(2, 5 * MiB, 10 * MiB),
      part(3, 10 * MiB, data.length),
    ]);
    assert.deepEqual(log.slice(4), [
      [
        "CompleteMultipartUploadCommand",
        {
          Bucket: BUCKET,
          Key: key,
          UploadId: "upload-1",
          MultipartUpload: {
            Parts: [
              { ETag: '"etag-1"', PartNumber: 1 },
              { ETag: '"etag-2"', PartNumber: 2 },
              { ETag: '"etag-3"', PartNumber: 3 },
            ],
          },
        },
      ],
      [
        "PutObjectCommand",
        {
          Bucket: BUCKET,
          Key: `${FOLDER}/manifest.json`,
          Body: encodeManifest(manifest),
          ContentType: "application/json",
        },
      ],
    ]);
    assert.deepEqual(
      Buffer.concat(parts.map((p) => (p[1] as { Body: Buffer }).Body)),
      data,
      "the parts add up to the data",
    );
  });

  it("puts data exactly at the threshold in one request", async () => {
    s3.on(PutObjectCommand).resolves({});
    const data = dataOf(100);
    await writer({ multipartThresholdBytes: data.length }).write(data, manifestFor(data));
    assert.deepEqual(
      callLog(s3).map(([name]) => name),
      ["PutObjectCommand", "PutObjectCommand"],
    );
    s3.reset();
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "u" });
    s3.on(UploadPartCommand).resolves({ ETag: '"e"' });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    await writer({ multipartThresholdBytes: data.length - 1 }).write(data, manifestFor(data));
    assert.deepEqual(
      callLog(s3).map(([name]) => name),
      [
        "CreateMultipartUploadCommand",
        "UploadPartCommand",
        "CompleteMultipartUploadCommand",
        "PutObjectCommand",
      ],
    );
  });

  it("aborts the upload when a part fails, and writes no manifest", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-2" });
    s3.on(UploadPartCommand)
      .resolves({ ETag: '"ok"' })
      .on(UploadPartCommand, { PartNumber: 2 })
      .rejects(new Error("SlowDown"));
    s3.on(AbortMultipartUploadCommand).resolves({});
    const data = dataOf(11 * MiB);
    await assert.rejects(
      writer({
        multipartThresholdBytes: MIN_PART_SIZE_BYTES,
        partSizeBytes: MIN_PART_SIZE_BYTES,
      }).write(data, manifestFor(data)),
      (error: unknown) =>
        error instanceof MultipartUploadError &&
        error.message ===
          `multipart upload of s3://${BUCKET}/${FOLDER}/pi.txt failed and was aborted: SlowDown`,
    );
    const names = callLog(s3).map(([name]) => name);
    assert.equal(names[names.length - 1], "AbortMultipartUploadCommand");
    assert.ok(!names.includes("CompleteMultipartUploadCommand"));
    assert.ok(!names.includes("PutObjectCommand"));
    assert.deepEqual(s3.commandCalls(AbortMultipartUploadCommand)[0].args[0].input, {
      Bucket: BUCKET,
      Key: `${FOLDER}/pi.txt`,
      UploadId: "upload-2",
    });
  });

  it("aborts when a part comes back without ETag, and says when the abort fails too", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-3" });
    s3.on(UploadPartCommand).resolves({});
    s3.on(AbortMultipartUploadCommand).rejects(new Error("AccessDenied"));
    const data = dataOf(100);
    await assert.rejects(
      writer({ multipartThresholdBytes: 10 }).write(data, manifestFor(data)),
      /failed \(UploadPart 1 returned no ETag\) and aborting upload upload-3 failed too \(AccessDenied\); delete it with aws s3api abort-multipart-upload/,
    );
  });

  it("fails clearly when CreateMultipartUpload returns no UploadId", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({});
    const data = dataOf(100);
    await assert.rejects(
      writer({ multipartThresholdBytes: 10 }).write(data, manifestFor(data)),
      /CreateMultipartUpload for s3:\/\/tj-results-eu-west-1\/jobs\/pi\/results\/pi-20261123T0300Z\/pi\.txt returned no UploadId/,
    );
    assert.equal(s3.commandCalls(UploadPartCommand).length, 0);
  });

  describe("prepare: the bucket is writable under the run's folder, before any computation", () => {
    const s3Error = (name: string, message: string) => Object.assign(new Error(message), { name });
    const PROBE = `${FOLDER}/${PROBE_FILE}`;

    it("starts a probe upload inside the run's folder and aborts it, nothing else", async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "probe-1" });
      s3.on(AbortMultipartUploadCommand).resolves({});
      await writer().prepare();
      assert.deepEqual(callLog(s3), [
        ["CreateMultipartUploadCommand", { Bucket: BUCKET, Key: PROBE, ContentType: "text/plain" }],
        ["AbortMultipartUploadCommand", { Bucket: BUCKET, Key: PROBE, UploadId: "probe-1" }],
      ]);
    });

    for (const [title, error] of [
      ["a missing bucket", s3Error("NoSuchBucket", "The specified bucket does not exist")],
      ["a denied write", s3Error("AccessDenied", "User is not authorized to perform s3:PutObject")],
    ] as const) {
      it(`fails at once on ${title}, naming the bucket, the prefix and the S3 error`, async () => {
        s3.on(CreateMultipartUploadCommand).rejects(error);
        const started = Date.now();
        await assert.rejects(
          writer().prepare(),
          (e: unknown) =>
            e instanceof ResultsNotWritableError &&
            e.message ===
              `cannot write results to s3://${BUCKET}/${FOLDER}/ (bucket "${BUCKET}", prefix "jobs/pi/results"): CreateMultipartUpload of s3://${BUCKET}/${PROBE} failed: ${error.name}: ${error.message}; check RESULTS_BUCKET and RESULTS_PREFIX, and that the instance role may s3:PutObject and s3:AbortMultipartUpload under them`,
        );
        assert.ok(Date.now() - started < 1000);
        assert.equal(s3.commandCalls(AbortMultipartUploadCommand).length, 0);
      });
    }

    it("fails when the probe cannot be aborted, as a failed write could not be", async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "probe-2" });
      s3.on(AbortMultipartUploadCommand).rejects(s3Error("AccessDenied", "Access Denied"));
      await assert.rejects(
        writer().prepare(),
        /AbortMultipartUpload of s3:\/\/tj-results-eu-west-1\/jobs\/pi\/results\/pi-20261123T0300Z\/\.write-check failed: AccessDenied: Access Denied/,
      );
    });

    it("fails within the write time limit when S3 does not answer", async () => {
      s3.on(CreateMultipartUploadCommand).callsFake(() => new Promise(() => undefined));
      await assert.rejects(
        prepareWithin(writer(), 50),
        new RegExp(
          `^Error: checking that s3://${BUCKET}/${FOLDER}/ can be written did not finish within 0.05 s$`,
        ),
      );
    });
  });

  describe("partRanges", () => {
    const cases: [string, number, number, [number, number][]][] = [
      ["empty", 0, 5 * MiB, []],
      ["one short part", 10, 5 * MiB, [[0, 10]]],
      ["exactly one part", 5 * MiB, 5 * MiB, [[0, 5 * MiB]]],
      [
        "a short last part",
        5 * MiB + 1,
        5 * MiB,
        [
          [0, 5 * MiB],
          [5 * MiB, 5 * MiB + 1],
        ],
      ],
    ];
    for (const [label, size, partSize, expected] of cases) {
      it(label, () => assert.deepEqual(partRanges(size, partSize), expected));
    }

    it("grows the parts to stay within 10,000", () => {
      const size = 60_000 * MiB;
      const ranges = partRanges(size, 5 * MiB);
      assert.equal(ranges.length, 10_000);
      assert.equal(ranges[0][1], 6 * MiB);
      assert.equal(ranges[ranges.length - 1][1], size);
    });

    it("refuses parts below S3's minimum, also at construction", () => {
      assert.throws(() => partRanges(10, MIN_PART_SIZE_BYTES - 1), /use at least 5242880/);
      assert.throws(() => writer({ partSizeBytes: 1024 }), /below S3's minimum part size/);
    });
  });
});
