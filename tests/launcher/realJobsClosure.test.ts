/**
 * examples/real-jobs.yaml end to end, without AWS: its serialized launcher (as deployed) launches
 * a run, and the user data it sends is run under bash with stub commands. The secrets' values
 * exist only in the stubbed secret stores: the launcher's code and the user data hold references,
 * and after the run no output, record or command line holds a value.
 */
import * as assert from "node:assert/strict";
import { decodeUserData } from "../../launcher/initScript";
import * as path from "node:path";
import { loadConfigFile, PROJECT_ROOT } from "../../offline/engine";
import { evaluatedWith } from "../../testing/evaluations";
import {
  deployedLauncherCode,
  startLaunchingEc2Stub,
  startSerializedContainer,
  type Ec2Stub,
  type SerializedContainer,
} from "../../testing/serializedClosure";
import { runScript } from "../../testing/scriptHarness";

const SENTINELS = {
  "/backup/db-password": "S3NT1NEL-db",
  "backup/api": JSON.stringify({ token: "S3NT1NEL-api" }),
};

describe("examples/real-jobs.yaml: serialized launcher to init script", function () {
  this.timeout(120000);
  let code: string;
  let stub: Ec2Stub;
  let lambda: SerializedContainer;

  before(async () => {
    const example = loadConfigFile(path.join(PROJECT_ROOT, "examples", "real-jobs.yaml"));
    const { resources } = (await evaluatedWith("dev", example)).evaluation;
    code = await deployedLauncherCode(resources);
    stub = await startLaunchingEc2Stub("i-0realjob");
    lambda = startSerializedContainer(code, stub.endpoint);
  });

  after(async () => {
    await lambda?.close();
    await stub?.close();
  });

  /** The user data of the run the serialized launcher starts for `job`. */
  async function launch(job: string): Promise<string> {
    const before = stub.requests.length;
    const outcome = await lambda.invoke(
      { job, scheduledTime: "2026-11-24T06:00:00Z" },
      { clock: "2026-11-24T06:00:20Z" },
    );
    assert.equal(
      outcome.result?.status,
      "launched",
      JSON.stringify(outcome.error) + outcome.stderr,
    );
    const run = stub.requests.slice(before).find((r) => r.action === "RunInstances");
    assert.ok(run, "no RunInstances request");
    return decodeUserData(run.params.UserData);
  }

  it("holds the secrets' references, not their values", () => {
    for (const reference of [
      "ssm:/backup/db-password",
      "secretsmanager:backup/api#token",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:report/token-AbCdEf",
    ]) {
      assert.ok(code.includes(reference), reference);
    }
    assert.equal(code.includes("S3NT1NEL"), false);
  });

  it("launches the backup job with user data that reads its secrets on the instance, and leaks none", async () => {
    const userData = await launch("nightly-backup");
    assert.ok(
      userData.includes("read_secret DB_PASSWORD ssm '/backup/db-password' 'eu-west-1' ''"),
    );
    assert.ok(userData.includes("EC2 NVMe Instance Storage"), "no instance-store step");
    assert.equal(userData.includes("--gpus"), false);
    const run = await runScript(userData, { secretValues: SENTINELS, instanceStoreDisks: 1 });
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    assert.equal(run.dockerEnvFile?.text, `API_TOKEN=S3NT1NEL-api\nDB_PASSWORD=S3NT1NEL-db\n`);
    const outputs = [run.calls.join("\n"), run.stderr, JSON.stringify(run.records), userData];
    assert.equal(outputs.join("\n").includes("S3NT1NEL"), false);
    assert.deepEqual(run.runtimeFiles, []);
  });

  it("launches the GPU job from the other account's image, with the GPUs", async () => {
    const userData = await launch("gpu-analysis");
    const run = await runScript(userData, { instanceStoreDisks: 1 });
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    assert.ok(run.calls.includes("aws ecr GetAuthorizationToken --region eu-west-1"));
    assert.ok(run.dockerRunArgs!.includes("--gpus"));
    assert.equal(
      run.dockerRunArgs!.at(-1),
      "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/analysis@sha256:4f2b8c9d0e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4",
    );
  });
});
