/**
 * A local stand-in for what the init script talks to over HTTP: the instance metadata service
 * (IMDSv2) and the AWS APIs it calls with curl's SigV4 signing. The script's curl is pointed here
 * with `--connect-to`, so the requests keep their real host names, paths and headers, and this
 * server answers by host name, as DNS would route them.
 *
 * It refuses what AWS refuses, so that a script that passes here does not only agree with it:
 * - IMDSv2: metadata without a session token from `PUT /latest/api/token` is 401
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html);
 * - every API request must carry a Signature Version 4 `Authorization` header that verifies with
 *   the role credentials IMDS handed out, `x-amz-date`, and the session token of those temporary
 *   credentials in `x-amz-security-token`
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html);
 * - the JSON 1.1 services (ECR, SSM, Secrets Manager) need `Content-Type:
 *   application/x-amz-json-1.1`, the operation's `X-Amz-Target` and a JSON object body
 *   (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html);
 * - the query services (CloudWatch, SNS) need a form body with `Action` and `Version`
 *   (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html);
 * - S3 needs `x-amz-content-sha256`, the body's hash or `UNSIGNED-PAYLOAD`
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
 *
 * Each accepted request is appended to the calls log as one line `aws <service> <Operation>
 * ...` (its parameters as the AWS CLI would name them), beside the stub commands' lines.
 */
import { createHash, createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { TAGS } from "../launcher/contract";

/** The instance role's temporary credentials, as IMDS hands them out. */
export const ROLE_CREDENTIALS = {
  role: "tj-dev-pi-instance",
  accessKeyId: "ASIAEXAMPLESTUB00001",
  secretAccessKey: "stubSecretKey/with+base64=chars",
  token: "IQoJb3JpZ2luX2VjEXAMPLE/stub+session=token",
};

/** The ECR password the stub registry accepts (`authorizationToken` is `AWS:<password>`, base64). */
export const ECR_PASSWORD = "ECR-PASSWORD-STUB";

/** What the stand-in answers and how it fails; everything succeeds by default. */
export interface AwsStubBehaviour {
  /** S3 PutObject answers 500 this many times before it succeeds. */
  s3Failures?: number;
  /** S3 PutObject takes this many seconds to answer (to be interrupted). */
  s3Seconds?: number;
  /** SNS Publish answers 500 when this is set and not 0 (as the AWS CLI's exit status was). */
  snsExit?: number;
  /** CloudWatch PutMetricData answers 500 when this is set and not 0. */
  metricsExit?: number;
  /** What IMDS says of `instance-life-cycle`. Default `on-demand`. */
  lifecycle?: string;
  /** SSM parameters and Secrets Manager secrets by name or id; any other is not found. */
  secretValues?: Record<string, string>;
  /** IMDS has no role credentials (an instance without a profile). */
  noCredentials?: boolean;
  /**
   * A spot interruption notice (`spot/instance-action`), given once the file `after` exists in
   * the state folder (e.g. `docker-run.argv`: once the container started); 404 before, as IMDS.
   */
  spotNotice?: { action: string; time: string; after: string };
  /** Scheduled events (`events/maintenance/scheduled`), listed once `after` exists; `[]` before. */
  scheduledEvents?: { events: Record<string, string>[]; after: string };
  /** The launcher has not tagged the instance with its launch times (or tags are not in IMDS). */
  noLaunchTags?: boolean;
}

/**
 * The launcher's launch-time tags, as it writes them after RunInstances: requested 3 s, accepted
 * 2.5 s and launched 2 s before the stand-in started (so before the script did).
 */
export function launchTags(startedMs: number): Record<string, string> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    [TAGS.launchRequestedAt]: iso(startedMs - 3000),
    [TAGS.launchAcceptedAt]: iso(startedMs - 2500),
    // EC2's LaunchTime has whole seconds.
    [TAGS.instanceLaunchTime]: iso(Math.floor((startedMs - 2000) / 1000) * 1000),
  };
}

type Reply = { status: number; body: string; type?: string };

const json = (status: number, value: unknown): Reply => ({
  status,
  body: JSON.stringify(value),
  type: "application/x-amz-json-1.1",
});
const awsError = (status: number, type: string, message: string): Reply =>
  json(status, { __type: type, message });

const IMDS_HOST = "169.254.169.254";
const METADATA: Record<string, string> = {
  "instance-id": "i-0123456789abcdef0",
  "instance-type": "m7i.large",
  "placement/availability-zone": "eu-west-1b",
};

/** The stand-in server; `listen()` first, `close()` when done. */
export class AwsStub {
  private server?: http.Server;
  private readonly tokens = new Set<string>();
  private counts = new Map<string, number>();
  /** When {@link listen} was called, in epoch milliseconds. */
  startedMs = 0;

  /**
   * @param state the sandbox's state folder: calls.log and the S3 objects (`record-<n>.json`,
   *   numbered in the order of the PutObject requests, failed ones included)
   */
  constructor(
    private readonly state: string,
    private readonly behaviour: AwsStubBehaviour = {},
  ) {}

  /** Starts listening on a free local port; returns `127.0.0.1:<port>`. */
  async listen(): Promise<string> {
    this.startedMs = Date.now();
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.answer(req, Buffer.concat(chunks)).then((reply) => {
          res.writeHead(reply.status, { "content-type": reply.type ?? "text/plain" });
          res.end(reply.body);
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private count(name: string): number {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    return n;
  }

  private log(line: string): void {
    fs.appendFileSync(path.join(this.state, "calls.log"), `${line.replace(/\n/g, "\\n")}\n`);
  }

  private async answer(req: http.IncomingMessage, body: Buffer): Promise<Reply> {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (host === IMDS_HOST) return this.imds(req);
    const service =
      /^(?:[a-z0-9.-]+\.)?(s3|api\.ecr|ssm|secretsmanager|monitoring|sns)\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(
        host,
      );
    if (!service) return { status: 502, body: `no such endpoint: ${host}` };
    const name = service[1] === "api.ecr" ? "ecr" : service[1];
    const region = service[2];
    const refused = verifySignature(req, body, name, region);
    if (refused) return refused;
    switch (name) {
      case "s3":
        return this.s3(req, body, host, region);
      case "monitoring":
      case "sns":
        return this.query(name, region, body, req);
      default:
        return this.jsonService(name, region, body, req);
    }
  }

  private imds(req: http.IncomingMessage): Reply {
    const url = req.url ?? "";
    if (url === "/latest/api/token") {
      if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) {
        return { status: 400, body: "Bad Request" };
      }
      const token = `TOKEN-${this.tokens.size + 1}`;
      this.tokens.add(token);
      return { status: 200, body: token };
    }
    if (!this.tokens.has(String(req.headers["x-aws-ec2-metadata-token"] ?? ""))) {
      return { status: 401, body: "Unauthorized" };
    }
    if (url === "/latest/dynamic/instance-identity/document") {
      // As IMDS formats it: pretty-printed, a space before each colon.
      const document = {
        accountId: "123456789012",
        architecture: "x86_64",
        availabilityZone: METADATA["placement/availability-zone"],
        imageId: "ami-0123456789abcdef0",
        instanceId: METADATA["instance-id"],
        instanceType: METADATA["instance-type"],
        pendingTime: new Date(this.startedMs - 2000).toISOString().replace(/\.\d+Z$/, "Z"),
        region: "eu-west-1",
      };
      return { status: 200, body: JSON.stringify(document, null, 2).replace(/": /g, '" : ') };
    }
    const item = url.replace(/^\/latest\/meta-data\//, "");
    if (item in METADATA) return { status: 200, body: METADATA[item] };
    const tag = /^tags\/instance\/(.+)$/.exec(item);
    if (tag && !this.behaviour.noLaunchTags) {
      const value = launchTags(this.startedMs)[decodeURIComponent(tag[1])];
      if (value !== undefined) return { status: 200, body: value };
    }
    const { spotNotice, scheduledEvents } = this.behaviour;
    const since = (file: string) => fs.existsSync(path.join(this.state, file));
    if (item === "spot/instance-action" && spotNotice && since(spotNotice.after)) {
      return {
        status: 200,
        body: JSON.stringify({ action: spotNotice.action, time: spotNotice.time }),
      };
    }
    if (item === "events/maintenance/scheduled") {
      const events = scheduledEvents && since(scheduledEvents.after) ? scheduledEvents.events : [];
      return { status: 200, body: JSON.stringify(events) };
    }
    if (item === "instance-life-cycle") {
      return { status: 200, body: this.behaviour.lifecycle ?? "on-demand" };
    }
    if (!this.behaviour.noCredentials) {
      if (item === "iam/security-credentials/") {
        return { status: 200, body: ROLE_CREDENTIALS.role };
      }
      if (item === `iam/security-credentials/${ROLE_CREDENTIALS.role}`) {
        // As IMDS formats it: one field per line.
        const body = JSON.stringify(
          {
            Code: "Success",
            LastUpdated: "2026-11-23T03:00:05Z",
            Type: "AWS-HMAC",
            AccessKeyId: ROLE_CREDENTIALS.accessKeyId,
            SecretAccessKey: ROLE_CREDENTIALS.secretAccessKey,
            Token: ROLE_CREDENTIALS.token,
            Expiration: "2026-11-23T09:00:05Z",
          },
          null,
          2,
        );
        return { status: 200, body };
      }
    }
    return { status: 404, body: "Not Found" };
  }

  private async s3(
    req: http.IncomingMessage,
    body: Buffer,
    host: string,
    region: string,
  ): Promise<Reply> {
    if (req.method !== "PUT") return { status: 405, body: "MethodNotAllowed" };
    // Virtual-hosted style (the bucket is the host's first labels), or path style.
    const url = decodeURIComponent(req.url ?? "/").slice(1);
    const hosted = host.startsWith("s3.") ? "" : host.slice(0, host.indexOf(".s3."));
    const bucket = hosted || url.split("/")[0];
    const key = hosted ? url : url.slice(bucket.length + 1);
    if (!bucket || !key) return { status: 400, body: "InvalidRequest: no bucket or key" };
    const type = req.headers["content-type"];
    this.log(`aws s3 PutObject s3://${bucket}/${key} --region ${region} --content-type ${type}`);
    const n = this.count("s3");
    fs.writeFileSync(path.join(this.state, `record-${n}.json`), body);
    if (this.behaviour.s3Seconds) {
      await new Promise((r) => setTimeout(r, this.behaviour.s3Seconds! * 1000));
    }
    if (n <= (this.behaviour.s3Failures ?? 0)) return { status: 500, body: "InternalError" };
    return { status: 200, body: "" };
  }

  private query(
    service: "monitoring" | "sns",
    region: string,
    body: Buffer,
    req: http.IncomingMessage,
  ): Reply {
    const type = String(req.headers["content-type"] ?? "");
    if (req.method !== "POST" || !type.startsWith("application/x-www-form-urlencoded")) {
      return { status: 400, body: "the query protocol needs a form POST" };
    }
    const form = new URLSearchParams(body.toString("utf8"));
    const action = form.get("Action");
    const expected = service === "monitoring" ? "PutMetricData" : "Publish";
    const version = service === "monitoring" ? "2010-08-01" : "2010-03-31";
    if (action !== expected || form.get("Version") !== version) {
      return { status: 400, body: `InvalidAction: ${action} ${form.get("Version")}` };
    }
    if (service === "monitoring") {
      const data = metricDataOf(form);
      if (!form.get("Namespace") || data === undefined) {
        return { status: 400, body: "MissingParameter or malformed MetricData" };
      }
      this.log(
        `aws cloudwatch PutMetricData --region ${region} --namespace ${form.get("Namespace")} --metric-data ${data}`,
      );
      if (this.behaviour.metricsExit) return { status: 500, body: "InternalFailure" };
      return { status: 200, body: "<PutMetricDataResponse/>" };
    }
    const [topic, message] = [form.get("TopicArn"), form.get("Message")];
    if (!topic || !message) return { status: 400, body: "MissingParameter" };
    this.log(
      `aws sns Publish --region ${region} --topic-arn ${topic} --subject ${form.get("Subject")} --message ${message}`,
    );
    if (this.behaviour.snsExit) return { status: 500, body: "InternalError" };
    return { status: 200, body: "<PublishResponse/>" };
  }

  private jsonService(
    service: string,
    region: string,
    body: Buffer,
    req: http.IncomingMessage,
  ): Reply {
    if (req.method !== "POST" || req.headers["content-type"] !== "application/x-amz-json-1.1") {
      return awsError(400, "UnknownOperationException", "not an application/x-amz-json-1.1 POST");
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString("utf8"));
      if (typeof input !== "object" || input === null || Array.isArray(input)) throw new Error();
    } catch {
      return awsError(400, "SerializationException", "the body is not a JSON object");
    }
    const target = String(req.headers["x-amz-target"] ?? "");
    const secrets = this.behaviour.secretValues ?? {};
    if (
      service === "ecr" &&
      target === "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    ) {
      this.log(`aws ecr GetAuthorizationToken --region ${region}`);
      return json(200, {
        authorizationData: [
          {
            authorizationToken: Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64"),
            expiresAt: 1795000000,
            proxyEndpoint: `https://123456789012.dkr.ecr.${region}.amazonaws.com`,
          },
        ],
      });
    }
    if (service === "ssm" && target === "AmazonSSM.GetParameter") {
      const name = input.Name;
      if (typeof name !== "string") return awsError(400, "ValidationException", "Name is missing");
      this.log(
        `aws ssm GetParameter --region ${region} --name ${name}${input.WithDecryption === true ? " --with-decryption" : ""}`,
      );
      if (!Object.hasOwn(secrets, name)) return awsError(400, "ParameterNotFound", name);
      return json(200, { Parameter: { Name: name, Type: "SecureString", Value: secrets[name] } });
    }
    if (service === "secretsmanager" && target === "secretsmanager.GetSecretValue") {
      const id = input.SecretId;
      if (typeof id !== "string")
        return awsError(400, "ValidationException", "SecretId is missing");
      this.log(`aws secretsmanager GetSecretValue --region ${region} --secret-id ${id}`);
      if (!Object.hasOwn(secrets, id)) {
        return awsError(400, "ResourceNotFoundException", "Secrets Manager can't find the secret");
      }
      return json(200, {
        ARN: `arn:aws:secretsmanager:${region}:1:secret:${id}`,
        SecretString: secrets[id],
      });
    }
    return awsError(400, "UnknownOperationException", `${service} has no operation ${target}`);
  }
}

/**
 * The `MetricData.member.N.*` fields of a PutMetricData form as the JSON the AWS CLI takes
 * (MetricName, Dimensions, Value, Unit, in that order, values as sent); undefined when a member
 * lacks a name or a numeric value.
 */
function metricDataOf(form: URLSearchParams): string | undefined {
  const members: string[] = [];
  for (let n = 1; form.has(`MetricData.member.${n}.MetricName`); n++) {
    const at = (field: string) => form.get(`MetricData.member.${n}.${field}`);
    const dimensions: string[] = [];
    for (let d = 1; form.has(`MetricData.member.${n}.Dimensions.member.${d}.Name`); d++) {
      dimensions.push(
        `{"Name":${JSON.stringify(at(`Dimensions.member.${d}.Name`))},"Value":${JSON.stringify(at(`Dimensions.member.${d}.Value`))}}`,
      );
    }
    const value = at("Value") ?? "";
    if (!/^-?\d+(?:\.\d+)?$/.test(value)) return undefined;
    members.push(
      `{"MetricName":${JSON.stringify(at("MetricName"))},"Dimensions":[${dimensions.join(",")}],"Value":${value},"Unit":${JSON.stringify(at("Unit"))}}`,
    );
  }
  return members.length > 0 ? `[${members.join(",")}]` : undefined;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) =>
  createHmac("sha256", key).update(data).digest();

/**
 * Verifies a request's Signature Version 4 against {@link ROLE_CREDENTIALS}; returns the error
 * AWS would answer, or undefined when the request is signed as AWS requires.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
export function verifySignature(
  req: http.IncomingMessage,
  body: Buffer,
  service: string,
  region: string,
): Reply | undefined {
  const auth = String(req.headers.authorization ?? "");
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!match) {
    return awsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  const [, keyId, day, scopeRegion, scopeService, signedHeaders, signature] = match;
  if (keyId !== ROLE_CREDENTIALS.accessKeyId) {
    return awsError(
      403,
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  }
  if (req.headers["x-amz-security-token"] !== ROLE_CREDENTIALS.token) {
    // Temporary credentials without their session token are refused.
    return awsError(
      403,
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  }
  if (scopeRegion !== region || scopeService !== service) {
    return awsError(
      403,
      "InvalidSignatureException",
      `Credential should be scoped to a valid region and service: ${scopeRegion}/${scopeService}, expected ${region}/${service}`,
    );
  }
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const signed = signedHeaders.split(";");
  if (!amzDate.startsWith(day) || !signed.includes("host") || !signed.includes("x-amz-date")) {
    return awsError(403, "IncompleteSignatureException", "host and x-amz-date must be signed");
  }
  let payloadHash = sha256(body);
  if (service === "s3") {
    const declared = req.headers["x-amz-content-sha256"];
    if (typeof declared !== "string") {
      return {
        status: 400,
        body: "Missing required header for this request: x-amz-content-sha256",
      };
    }
    if (declared !== "UNSIGNED-PAYLOAD" && declared !== payloadHash) {
      return { status: 400, body: "XAmzContentSHA256Mismatch" };
    }
    payloadHash = declared;
  }
  const url = new URL(req.url ?? "/", "http://stub");
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join("&");
  const headers = signed
    .map(
      (name) =>
        `${name}:${String(req.headers[name] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonical = [req.method, url.pathname, query, headers, signedHeaders, payloadHash].join(
    "\n",
  );
  const scope = `${day}/${scopeRegion}/${scopeService}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${ROLE_CREDENTIALS.secretAccessKey}`, day);
  for (const part of [scopeRegion, scopeService, "aws4_request"]) key = hmac(key, part);
  if (createHmac("sha256", key).update(toSign).digest("hex") !== signature) {
    return awsError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match",
    );
  }
  return undefined;
}
