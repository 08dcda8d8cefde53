import * as assert from "node:assert/strict";
import { S3Client, CreateBucketCommand, ListBucketsCommand } from "@aws-sdk/client-s3";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";

describe("moto emulator", function () {
  this.timeout(30000);

  it("serves S3 over real HTTP and resets between tests", async () => {
    const endpoint = await startMoto();
    // A worker keeps moto between spec files; start from an empty account whatever ran before.
    await resetMoto();
    const s3 = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint, forcePathStyle: true });
    await s3.send(
      new CreateBucketCommand({
        Bucket: "probe",
        CreateBucketConfiguration: { LocationConstraint: "eu-west-1" },
      }),
    );
    assert.deepEqual(
      (await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name),
      ["probe"],
    );
    await resetMoto();
    assert.deepEqual((await s3.send(new ListBucketsCommand({}))).Buckets ?? [], []);
  });
});
