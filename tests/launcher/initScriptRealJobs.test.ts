/**
 * The init script of real jobs, run under bash with stub commands: secrets read on the instance
 * and handed over in a 0600 env file that no output, record or command line ever shows; GPUs;
 * instance-store scratch; images of other accounts and registries.
 */
import * as assert from "node:assert/strict";
import { renderInitScript, type InitScriptInput } from "../../launcher/initScript";
import { initScriptInputFixture } from "../../testing/fixtures";
import { runConcurrently, runScript, type ScriptRun } from "../../testing/scriptHarness";

/** Values no part of the program ever sees: only the stubbed AWS CLI returns them. */
const DB_SENTINEL = "S3NT1NEL-db-'$(reboot)";
const API_SENTINEL = "S3NT1NEL-api token";
const SECRETS = {
  DB_PASSWORD: "ssm:/backup/db-password",
  API_TOKEN: "secretsmanager:backup/api#token",
};
const SECRET_VALUES = {
  "/backup/db-password": DB_SENTINEL,
  "backup/api": JSON.stringify({ user: "backup", token: API_SENTINEL }),
};

const input = (overrides: Partial<InitScriptInput> = {}) =>
  initScriptInputFixture({ secrets: SECRETS, ...overrides });

/** Everything a run left where someone other than the container could read it. */
function visibleOutputs(run: ScriptRun): string {
  return [
    run.calls.join("\n"),
    JSON.stringify(run.dockerRunArgs),
    run.stderr,
    JSON.stringify(run.records),
  ].join("\n");
}

/**
 * The scratch space of each kind of instance, one run each; the secrets and the GPU ride along on
 * two of them (each is asserted on its own below), so that every run proves something of its own.
 */
const SCRATCH_CASES = [
  { instanceStore: false, disks: 0, lvm: false, secrets: {}, gpu: false },
  { instanceStore: true, disks: 0, lvm: false, secrets: {}, gpu: false },
  { instanceStore: true, disks: 1, lvm: false, secrets: SECRETS, gpu: false },
  { instanceStore: true, disks: 2, lvm: true, secrets: {}, gpu: true },
  { instanceStore: true, disks: 2, lvm: false, secrets: {}, gpu: false },
] as const;
const [CPU_ONLY, , WITH_SECRETS, WITH_GPU] = [0, 1, 2, 3];

const OTHER_ACCOUNT_IMAGE = `210987654321.dkr.ecr.us-east-1.amazonaws.com/team/analysis@sha256:${"cd".repeat(32)}`;

/** The runs, started together before the tests: each mostly waits on its stubs. */
function scenarios() {
  const scratch = SCRATCH_CASES.map(
    ({ instanceStore, disks, lvm, secrets, gpu }) =>
      () =>
        runScript(renderInitScript(input({ secrets, gpu, instanceStore })), {
          instanceStoreDisks: disks,
          lvm,
          secretValues: SECRET_VALUES,
          lastLine: "done",
        }),
  );
  return runConcurrently({
    scratch0: scratch[0],
    scratch1: scratch[1],
    scratch2: scratch[2],
    scratch3: scratch[3],
    scratch4: scratch[4],
    missingSecret: () =>
      runScript(renderInitScript(input()), {
        secretValues: { "backup/api": SECRET_VALUES["backup/api"] },
      }),
    noKey: () =>
      runScript(renderInitScript(input()), {
        secretValues: { ...SECRET_VALUES, "backup/api": JSON.stringify({ user: "S3NT1NEL" }) },
      }),
    twoLines: () =>
      runScript(
        renderInitScript(input({ secrets: { DB_PASSWORD: "secretsmanager:backup/api#token" } })),
        { secretValues: { "backup/api": JSON.stringify({ token: "S3NT1NEL\nsecond" }) } },
      ),
    otherAccount: () =>
      runScript(
        renderInitScript(input({ secrets: {}, imageUri: OTHER_ACCOUNT_IMAGE, pullAttempts: 2 })),
        { pullFailures: 99 },
      ),
  });
}

describe("init script of real jobs (bash with stubs)", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);
  let runs: ReturnType<typeof scenarios>;
  let scratchRuns: () => Promise<ScriptRun[]>;
  before(() => {
    runs = scenarios();
    scratchRuns = () =>
      Promise.all([runs.scratch0, runs.scratch1, runs.scratch2, runs.scratch3, runs.scratch4]);
  });

  // shellcheck of a script with secrets, a GPU and an instance store: initScript.test.ts.

  it("renders the references, never a value, and reads each secret with the instance role", async () => {
    const script = renderInitScript(input());
    assert.ok(script.includes("read_secret DB_PASSWORD ssm '/backup/db-password' 'eu-west-1' ''"));
    assert.ok(
      script.includes("read_secret API_TOKEN secretsmanager 'backup/api' 'eu-west-1' 'token'"),
    );
    const run = (await scratchRuns())[WITH_SECRETS];
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    assert.deepEqual(
      run.calls.filter((c) => /^aws (ssm|secretsmanager)/.test(c)),
      [
        "aws secretsmanager GetSecretValue --region eu-west-1 --secret-id backup/api",
        "aws ssm GetParameter --region eu-west-1 --name /backup/db-password --with-decryption",
      ],
    );
  });

  it("hands the values to the container in a 0600 env file, deleted once it ends, and nowhere else", async () => {
    const run = (await scratchRuns())[WITH_SECRETS];
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    const args = run.dockerRunArgs!;
    assert.equal(args[args.indexOf("--env-file") + 1], "<sandbox>/run/pi-20261123T0300Z.env");
    assert.deepEqual(run.dockerEnvFile, {
      text: `API_TOKEN=${API_SENTINEL}\nDB_PASSWORD=${DB_SENTINEL}\n`,
      mode: "600",
    });
    assert.deepEqual(run.runtimeFiles, []);
    const outputs = visibleOutputs(run);
    assert.ok(outputs.includes("PutMetricData"), "the metrics are among the outputs searched");
    for (const sentinel of ["S3NT1NEL", DB_SENTINEL, API_SENTINEL]) {
      assert.equal(outputs.includes(sentinel), false, `${sentinel} leaked`);
    }
  });

  it("fails a run whose secret is missing in phase secrets, naming the reference, before the job", async () => {
    const run = await runs.missingSecret;
    assert.deepEqual(
      [run.records[0].status, run.records[0].phase, run.records[0].message],
      [
        "failed",
        "secrets",
        "could not read secret DB_PASSWORD from ssm /backup/db-password (missing, or the instance role may not read it)",
      ],
    );
    assert.equal(run.dockerRunArgs, undefined);
    assert.deepEqual(run.runtimeFiles, [], "the half-written env file is deleted");
    assert.equal(visibleOutputs(run).includes("S3NT1NEL"), false);
    assert.equal(run.calls.at(-1), "shutdown -h now");
  });

  it("fails a run whose secret lacks its JSON key, or holds a line break, in phase secrets", async () => {
    const [noKey, twoLines] = await Promise.all([runs.noKey, runs.twoLines]);
    assert.deepEqual(
      [noKey, twoLines].map((run) => [run.records[0].phase, run.records[0].message]),
      [
        [
          "secrets",
          "secret API_TOKEN: secretsmanager backup/api is not a JSON object with the key token",
        ],
        [
          "secrets",
          "secret DB_PASSWORD (secretsmanager backup/api) holds a line break, which an env file cannot carry",
        ],
      ],
    );
    for (const run of [noKey, twoLines]) {
      assert.equal(visibleOutputs(run).includes("S3NT1NEL"), false);
      assert.equal(run.dockerRunArgs, undefined);
    }
  });

  it("reads a secret of another region by its ARN there", () => {
    const arn = "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner/key-AbC123";
    const script = renderInitScript(input({ secrets: { PARTNER_KEY: `${arn}#key` } }));
    assert.ok(script.includes(`read_secret PARTNER_KEY secretsmanager '${arn}' 'us-east-1' 'key'`));
  });

  it("runs a GPU job's container with the GPUs", async () => {
    const all = await scratchRuns();
    const run = all[WITH_GPU];
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    const args = run.dockerRunArgs!;
    assert.deepEqual(args.slice(args.indexOf("--gpus"), args.indexOf("--gpus") + 2), [
      "--gpus",
      "all",
    ]);
    assert.equal(all[CPU_ONLY].dockerRunArgs!.includes("--gpus"), false);
  });

  it("gives the container SCRATCH_DIR on the root volume, or on the instance store, striped with LVM if the AMI has it", async () => {
    const all = await scratchRuns();
    const scratchCalls: string[][] = [];
    for (const [n, { disks, lvm }] of SCRATCH_CASES.entries()) {
      const run = all[n];
      assert.equal(run.records[0].status, "succeeded", run.stderr);
      const args = run.dockerRunArgs!;
      assert.ok(args.includes("type=bind,source=<sandbox>/scratch,target=/scratch"));
      assert.ok(args.includes("SCRATCH_DIR=/scratch"));
      scratchCalls.push(
        run.calls.filter((c) => /^(lsblk|vgcreate|lvcreate|mkfs|mount|dnf)/.test(c)),
      );
      if (disks === 2 && !lvm)
        assert.match(run.stderr, /scratch is \/dev\/nvme1n1 alone, not all 2/);
    }
    const lsblk = "lsblk -dno NAME,MODEL";
    const mount = (device: string) => `mount ${device} <sandbox>/scratch`;
    assert.deepEqual(scratchCalls, [
      [],
      [lsblk],
      [lsblk, "mkfs.xfs -f -q /dev/nvme1n1", mount("/dev/nvme1n1")],
      [
        lsblk,
        "vgcreate -qq tj /dev/nvme1n1 /dev/nvme2n1",
        "lvcreate -qq -y -i 2 -l 100%FREE -n scratch tj",
        "mkfs.xfs -f -q /dev/tj/scratch",
        mount("/dev/tj/scratch"),
      ],
      // Nothing installed: without lvm2, the first disk alone.
      [lsblk, "mkfs.xfs -f -q /dev/nvme1n1", mount("/dev/nvme1n1")],
    ]);
  });

  it("logs in to the ECR registry of another account and region, and fails an image it cannot pull", async () => {
    const image = OTHER_ACCOUNT_IMAGE;
    const run = await runs.otherAccount;
    assert.ok(run.calls.includes("aws ecr GetAuthorizationToken --region us-east-1"));
    assert.ok(
      run.calls.includes(
        "docker login --username AWS --password-stdin 210987654321.dkr.ecr.us-east-1.amazonaws.com",
      ),
    );
    assert.deepEqual(
      [run.records[0].status, run.records[0].phase, run.records[0].message],
      ["failed", "pull", `could not pull ${image}`],
    );
    assert.equal(run.dockerRunArgs, undefined);
  });
});
