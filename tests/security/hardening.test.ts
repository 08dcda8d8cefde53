/**
 * Instance and container hardening that no single component test owns: the job image runs as an
 * unprivileged user, the container gets no extra privileges, and user data holds no secrets.
 * (IMDSv2, no SSH key, no inbound rule and the encrypted root volume are checked on every
 * resource by the policy pack and tests/components/program.test.ts.)
 */
import * as assert from "node:assert/strict";
import { decodeUserData } from "../../launcher/initScript";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { FAIL_SAFE_USER_DATA } from "../../components/jobLaunchTemplate";
import { handleLaunchEvent } from "../../launcher/handler";
import { PROJECT_ROOT } from "../../offline/engine";
import { NOW, specFixture } from "../../testing/fixtures";
import { runScript } from "../../testing/scriptHarness";

/** Patterns of credentials that must never be in user data. */
const SECRETS: RegExp[] = [
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/,
  /aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /password\s*[=:]/i,
];

/** The user data of one launch of the fixture job, as sent to RunInstances. */
async function launchedUserData(): Promise<string> {
  const ec2 = new EC2Client({ region: "eu-west-1" });
  const ec2Mock = mockClient(ec2);
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2Mock.on(RunInstancesCommand).resolves({
    Instances: [{ InstanceId: "i-1", InstanceType: "m7i.large", Placement: {} }],
  });
  await handleLaunchEvent(
    { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" },
    { ec2, jobs: { pi: specFixture() }, now: () => NOW, log: () => undefined },
  );
  const input = ec2Mock.commandCalls(RunInstancesCommand)[0].args[0]
    .input as RunInstancesCommandInput;
  return decodeUserData(String(input.UserData));
}

describe("hardening", function () {
  this.timeout(30000);

  it("runs the job image as an unprivileged user", () => {
    const dockerfile = fs.readFileSync(path.join(PROJECT_ROOT, "job-image", "Dockerfile"), "utf8");
    const stages = dockerfile.split(/^FROM\s/m);
    const users = [...stages[stages.length - 1].matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(users.length > 0, "the final stage sets no USER: the container would run as root");
    assert.ok(!["root", "0", "0:0"].includes(users[users.length - 1]), `USER ${users.at(-1)}`);
  });

  it("gives the container no extra privileges, host mounts or host network", async () => {
    const run = await runScript(await launchedUserData());
    assert.equal(run.status, 0, run.stderr);
    const args = run.dockerRunArgs ?? [];
    assert.equal(args[0], "run");
    for (const flag of ["--privileged", "--cap-add", "--pid", "--ipc", "--userns", "--device"]) {
      assert.ok(!args.some((a) => a === flag || a.startsWith(`${flag}=`)), `docker run ${flag}`);
    }
    for (const flag of ["-v", "--volume", "--network", "--net"]) {
      assert.ok(!args.some((a) => a === flag || a.startsWith(`${flag}=`)), `docker run ${flag}`);
    }
    // One host mount only: the run's scratch folder (SCRATCH_DIR), nothing else of the host.
    const mounts = args.flatMap((a, i) => (a === "--mount" ? [args[i + 1]] : []));
    assert.deepEqual(mounts, ["type=bind,source=<sandbox>/scratch,target=/scratch"]);
    assert.ok(!args.some((a) => a.startsWith("--mount=")), "docker run --mount=");
    // A user may be set (e.g. to harden another image), but never root.
    args.forEach((arg, i) => {
      const user = ["-u", "--user"].includes(arg) ? args[i + 1] : /^--user=(.*)$/.exec(arg)?.[1];
      if (user !== undefined) assert.ok(!/^(root|0)(:|$)/.test(user), `docker run --user ${user}`);
    });
  });

  it("puts no credentials in user data, the launcher's or the launch template's", async () => {
    const userData = await launchedUserData();
    const failSafe = Buffer.from(FAIL_SAFE_USER_DATA, "base64").toString("utf8");
    for (const [name, text] of [
      ["run", userData],
      ["launch template", failSafe],
    ]) {
      for (const pattern of SECRETS) {
        assert.ok(!pattern.test(text), `${name} user data matches ${pattern}`);
      }
    }
    // The ECR password is fetched at run time with the instance role, never rendered.
    assert.match(userData, /AmazonEC2ContainerRegistry_V20150921\.GetAuthorizationToken/);
  });
});
