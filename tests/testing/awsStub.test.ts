/**
 * The init script's stand-in for IMDS and the AWS APIs refuses what AWS refuses, so that the
 * script's passing runs against it mean something: requests sent by the real curl, signed (or
 * not) as the script signs them.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AwsStub, ROLE_CREDENTIALS } from "../../testing/awsStub";

const ECR = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
const JSON_11 = "Content-Type: application/x-amz-json-1.1";

describe("AWS stand-in of the init script tests (real curl)", function () {
  this.timeout(20000);
  let dir: string;
  let stub: AwsStub;
  let connectTo: string;
  let configs = 0;
  const config = (user: string, token?: string) => {
    const file = path.join(dir, `${++configs}.curlrc`);
    const lines = [
      `user = "${user}"`,
      ...(token ? [`header = "x-amz-security-token: ${token}"`] : []),
    ];
    fs.writeFileSync(file, `${lines.join("\n")}\n`);
    return file;
  };
  const goodUser = `${ROLE_CREDENTIALS.accessKeyId}:${ROLE_CREDENTIALS.secretAccessKey}`;

  /** HTTP status and body of one curl request through the stand-in. */
  function curl(args: string[], stdin = ""): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        "curl",
        ["-sS", "--connect-to", connectTo, "-w", "\n%{http_code}", ...args],
        { encoding: "utf8" },
        (error, stdout) => {
          if (error) return reject(error);
          const at = stdout.lastIndexOf("\n");
          resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
        },
      );
      child.stdin!.end(stdin);
    });
  }
  const signed = (
    service: string,
    region = "eu-west-1",
    file = config(goodUser, ROLE_CREDENTIALS.token),
  ) => ["-K", file, "--aws-sigv4", `aws:amz:${region}:${service}`];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-aws-stub-"));
    fs.writeFileSync(path.join(dir, "calls.log"), "");
    stub = new AwsStub(dir, { secretValues: { "/db": "v" } });
    connectTo = `::${await stub.listen()}`;
  });
  after(async () => {
    await stub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ecr = "http://api.ecr.eu-west-1.amazonaws.com/";
  const ecrHeaders = ["-H", `X-Amz-Target: ${ECR}`, "-H", JSON_11, "--data-binary", "@-"];

  it("answers a request signed with the role's credentials and session token", async () => {
    const reply = await curl([...signed("ecr"), ...ecrHeaders, ecr], "{}");
    assert.equal(reply.status, 200, reply.body);
    assert.match(reply.body, /"authorizationToken":"[A-Za-z0-9+/=]+"/);
  });

  const refusals: [string, () => string[], string, number, RegExp][] = [
    ["an unsigned request", () => [...ecrHeaders, ecr], "{}", 403, /MissingAuthenticationToken/],
    [
      "temporary credentials without their session token",
      () => [...signed("ecr", "eu-west-1", config(goodUser)), ...ecrHeaders, ecr],
      "{}",
      403,
      /security token included in the request is invalid/,
    ],
    [
      "a signature made with another secret key",
      () => [
        ...signed(
          "ecr",
          "eu-west-1",
          config(`${ROLE_CREDENTIALS.accessKeyId}:wrong`, ROLE_CREDENTIALS.token),
        ),
        ...ecrHeaders,
        ecr,
      ],
      "{}",
      403,
      /SignatureDoesNotMatch/,
    ],
    [
      "a signature scoped to another region",
      () => [...signed("ecr", "us-east-1"), ...ecrHeaders, ecr],
      "{}",
      403,
      /scoped to a valid region/,
    ],
    [
      "a wrong X-Amz-Target",
      () => [
        ...signed("ecr"),
        "-H",
        "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetLoginPassword",
        "-H",
        JSON_11,
        "--data-binary",
        "@-",
        ecr,
      ],
      "{}",
      400,
      /UnknownOperationException/,
    ],
    [
      "a malformed JSON body",
      () => [...signed("ecr"), ...ecrHeaders, ecr],
      "{",
      400,
      /SerializationException/,
    ],
    [
      "a JSON call without its content type",
      () => [
        ...signed("ssm"),
        "-H",
        "X-Amz-Target: AmazonSSM.GetParameter",
        "--data-binary",
        "@-",
        "http://ssm.eu-west-1.amazonaws.com/",
      ],
      '{"Name":"/db"}',
      400,
      /application\/x-amz-json-1\.1/,
    ],
    [
      "an S3 PUT without x-amz-content-sha256",
      () => [
        ...signed("s3"),
        "-X",
        "PUT",
        "--data-binary",
        "@-",
        "http://b.s3.eu-west-1.amazonaws.com/k.json",
      ],
      "{}",
      400,
      /x-amz-content-sha256/,
    ],
    [
      "a query call without its Version",
      () => [
        ...signed("monitoring"),
        "-d",
        "Action=PutMetricData",
        "http://monitoring.eu-west-1.amazonaws.com/",
      ],
      "",
      400,
      /InvalidAction/,
    ],
  ];
  for (const [title, args, body, status, message] of refusals) {
    it(`refuses ${title}`, async () => {
      const reply = await curl(args(), body);
      assert.equal(reply.status, status, reply.body);
      assert.match(reply.body, message);
    });
  }

  it("gives instance metadata only for an IMDSv2 session token", async () => {
    const url = "http://169.254.169.254/latest/meta-data/instance-id";
    assert.equal((await curl([url])).status, 401);
    const token = await curl([
      "-X",
      "PUT",
      "-H",
      "X-aws-ec2-metadata-token-ttl-seconds: 60",
      "http://169.254.169.254/latest/api/token",
    ]);
    assert.equal(token.status, 200);
    const id = await curl(["-H", `X-aws-ec2-metadata-token: ${token.body}`, url]);
    assert.deepEqual(id, { status: 200, body: "i-0123456789abcdef0" });
    assert.equal((await curl(["-H", "X-aws-ec2-metadata-token: forged", url])).status, 401);
  });

  it("logs only the requests it accepted", () => {
    const lines = fs.readFileSync(path.join(dir, "calls.log"), "utf8").trim().split("\n");
    assert.deepEqual(lines, ["aws ecr GetAuthorizationToken --region eu-west-1"]);
  });
});
