/**
 * Tools to test the launcher Lambda as deployed: the text Pulumi's closure serializer produces,
 * run in a fresh Node process against a local EC2 endpoint (a stub or moto).
 *
 * Reusable with code taken from the `Launcher` component's mock inputs:
 * `const code = await (await inputs.code.assets)["__index.js"].text;`
 * then {@link assertSelfContained}`(code)` and {@link invokeSerializedHandler}`(code, event, env)`.
 */
import { EC2Client } from "@aws-sdk/client-ec2";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { handleLaunchEvent } from "../launcher/handler";
import type { JobLaunchSpec } from "../launcher/contract";

const PROJECT_ROOT = path.resolve(__dirname, "..");

/**
 * Serializes a launcher closure the way `components/launcher.ts` builds it (a callback factory
 * that creates one `EC2Client` per container) and returns the CommonJS module text.
 */
export async function serializeLauncherClosure(
  jobs: Record<string, JobLaunchSpec>,
): Promise<string> {
  // Loaded lazily: @pulumi/pulumi takes a second to import and only these tests need it.
  const pulumi = await import("@pulumi/pulumi");
  const factory = () => {
    const ec2 = new EC2Client({});
    return (event: unknown, context: { getRemainingTimeInMillis(): number }) =>
      handleLaunchEvent(event, {
        ec2,
        jobs,
        remainingTimeMs: () => context.getRemainingTimeInMillis(),
      });
  };
  const serialized = await pulumi.runtime.serializeFunction(factory, {
    exportName: "handler",
    isFactoryFunction: true,
  });
  return serialized.text;
}

/** The module specifiers the serialized code `require`s. */
export function requiredModules(code: string): string[] {
  return [...new Set([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))].sort();
}

/**
 * The specifiers by which the code may load an SDK client package the Lambda runtime provides:
 * the package name, or (as Pulumi's serializer writes it) its main file, e.g. dist-cjs/index.js;
 * the runtime's copy of the package has the same layout.
 */
export function sdkClientSpecifiers(pkg: string): string[] {
  const main = path
    .relative(path.dirname(require.resolve(`${pkg}/package.json`)), require.resolve(pkg))
    .split(path.sep)
    .join("/");
  return [pkg, `${pkg}/${main}`];
}

/** The specifiers by which the code may load the EC2 client the Lambda runtime provides. */
export const EC2_CLIENT_SPECIFIERS: readonly string[] = sdkClientSpecifiers("@aws-sdk/client-ec2");

/**
 * The SDK clients the launcher loads: EC2 to launch, SNS and CloudWatch to report outcomes, S3
 * to record runs it did not launch.
 */
export const LAUNCHER_SDK_SPECIFIERS: readonly string[] = [
  ...EC2_CLIENT_SPECIFIERS,
  ...sdkClientSpecifiers("@aws-sdk/client-sns"),
  ...sdkClientSpecifiers("@aws-sdk/client-cloudwatch"),
  ...sdkClientSpecifiers("@aws-sdk/client-s3"),
];

/** The run supervisor's clients: the launcher's, and Scheduler for the next attempts. */
export const SUPERVISOR_SDK_SPECIFIERS: readonly string[] = [
  ...LAUNCHER_SDK_SPECIFIERS,
  ...sdkClientSpecifiers("@aws-sdk/client-scheduler"),
];

/**
 * Throws unless the code loads only Node built-ins and the SDK clients of `allowed` (default
 * {@link LAUNCHER_SDK_SPECIFIERS}; the Lambda Node.js runtime provides them), does load
 * `@aws-sdk/client-ec2`, and has no SDK or smithy code inlined.
 */
export function assertSelfContained(
  code: string,
  allowed: readonly string[] = LAUNCHER_SDK_SPECIFIERS,
): void {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const required = requiredModules(code);
  const unexpected = required.filter((m) => !builtins.has(m) && !allowed.includes(m));
  if (unexpected.length > 0) {
    throw new Error(
      `the serialized launcher requires modules the runtime lacks: ${unexpected.join(", ")}`,
    );
  }
  if (!required.some((m) => EC2_CLIENT_SPECIFIERS.includes(m))) {
    throw new Error(
      `the serialized launcher does not require @aws-sdk/client-ec2 (requires: ${required.join(", ")})`,
    );
  }
  for (const marker of [
    "@smithy/",
    "smithy-client",
    "class EC2Client",
    "resolveAwsSdkSigV4Config",
  ]) {
    if (code.includes(marker)) {
      throw new Error(
        `the serialized launcher has AWS SDK code inlined (found ${JSON.stringify(marker)})`,
      );
    }
  }
}

/** How one invocation in the child process ended. */
export interface Invocation {
  ok: boolean;
  result?: Record<string, unknown>;
  /** What the Lambda runtime reports (it needs a name, a message and a stack). */
  error?: { name: string; message: string; hasStack: boolean };
  /** Lines the handler printed on stdout (its JSON log lines). */
  logs: string[];
  stderr: string;
  /**
   * The SDK client packages (`@aws-sdk/client-*`) loaded when the handler made its first HTTP
   * request, and when it returned: what a cold start pays for before its first AWS call.
   */
  clientsAtFirstRequest: string[];
  clientsAtEnd: string[];
}

const RUNNER = `"use strict";
const fs = require("fs");
const [moduleFile, outFile, eventJson, budgetMs, clock] = process.argv.slice(2);
if (clock) {
  // The process's wall clock, set to \`clock\` and running on: the code under test is unchanged.
  const RealDate = Date;
  const offset = RealDate.parse(clock) - RealDate.now();
  global.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  };
}
const clients = () => [...new Set(Object.keys(require.cache)
  .map((file) => /[\\/]@aws-sdk[\\/](client-[^\\/]+)[\\/]/.exec(file)?.[1])
  .filter(Boolean))].sort();
let clientsAtFirstRequest;
for (const name of ["http", "https"]) {
  const mod = require(name);
  const request = mod.request;
  mod.request = function (...args) {
    clientsAtFirstRequest ??= clients();
    return request.apply(this, args);
  };
}
const { handler } = require(moduleFile);
const end = Date.now() + Number(budgetMs);
const context = { awsRequestId: "local", getRemainingTimeInMillis: () => end - Date.now() };
const loaded = () => ({ clientsAtFirstRequest: clientsAtFirstRequest ?? [], clientsAtEnd: clients() });
Promise.resolve()
  .then(() => handler(JSON.parse(eventJson), context))
  .then(
    (result) => fs.writeFileSync(outFile, JSON.stringify({ ok: true, result, ...loaded() })),
    (error) => fs.writeFileSync(outFile, JSON.stringify({ ok: false, error: { name: error.name, message: error.message, hasStack: typeof error.stack === "string" }, ...loaded() })),
  );
`;

/**
 * Environment of a child process standing in for the Lambda runtime: packages only through
 * NODE_PATH (this project's node_modules, as the runtime provides the SDK), fake credentials, no
 * instance metadata, and `endpoints` (e.g. `AWS_ENDPOINT_URL_EC2`) so nothing leaves the machine.
 */
export function lambdaRuntimeEnv(
  home: string,
  endpoints: Record<string, string>,
  region = "eu-west-1",
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    NODE_PATH: path.join(PROJECT_ROOT, "node_modules"),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...endpoints,
  };
}

/**
 * Writes `code` to a fresh folder outside the project, loads it in a new `node` process that
 * resolves packages only through NODE_PATH (this project's node_modules, standing in for the
 * Lambda runtime's SDK), and calls `handler(event, context)` with fake credentials and
 * `AWS_ENDPOINT_URL_EC2` set to `ec2Endpoint`. SNS, CloudWatch and S3 (outcome reporting) go
 * to the same endpoint unless `options.env` points them elsewhere, so nothing leaves the machine.
 * `options.clock` sets the process's wall clock (ISO time), for events with fixed scheduled times.
 */
export async function invokeSerializedHandler(
  code: string,
  event: unknown,
  ec2Endpoint: string,
  options: {
    region?: string;
    budgetMs?: number;
    timeoutMs?: number;
    env?: Record<string, string>;
    clock?: string;
  } = {},
): Promise<Invocation> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-lambda-"));
  try {
    const moduleFile = path.join(dir, "__index.js");
    const outFile = path.join(dir, "outcome.json");
    fs.writeFileSync(moduleFile, code);
    fs.writeFileSync(path.join(dir, "runner.js"), RUNNER);
    const child = spawn(
      process.execPath,
      [
        path.join(dir, "runner.js"),
        moduleFile,
        outFile,
        JSON.stringify(event),
        String(options.budgetMs ?? 30000),
        options.clock ?? "",
      ],
      {
        cwd: dir,
        env: lambdaRuntimeEnv(
          dir,
          {
            AWS_ENDPOINT_URL_EC2: ec2Endpoint,
            AWS_ENDPOINT_URL_SNS: ec2Endpoint,
            AWS_ENDPOINT_URL_CLOUDWATCH: ec2Endpoint,
            AWS_ENDPOINT_URL_S3: ec2Endpoint,
            ...options.env,
          },
          options.region,
        ),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timeoutMs = options.timeoutMs ?? 20000;
    const code_ = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(`the serialized handler did not finish within ${timeoutMs} ms\n${stderr}`),
        );
      }, timeoutMs);
      child.once("error", reject);
      child.once("close", (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
    if (!fs.existsSync(outFile)) {
      throw new Error(`the serialized handler exited (${code_}) without an outcome:\n${stderr}`);
    }
    const outcome = JSON.parse(fs.readFileSync(outFile, "utf8")) as Omit<
      Invocation,
      "logs" | "stderr"
    >;
    return { ...outcome, logs: stdout.split("\n").filter(Boolean), stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One request the stub received: the Query API action and its form parameters. */
export interface StubRequest {
  action: string;
  params: Record<string, string>;
}

/** A local HTTP server speaking just enough of the EC2 Query API. */
export interface Ec2Stub {
  endpoint: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

/** Starts an EC2 stub; `respond` maps each request to an HTTP status and XML body. */
export async function startEc2Stub(
  respond: (request: StubRequest) => { status?: number; body: string },
): Promise<Ec2Stub> {
  const requests: StubRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const request = { action: params.Action ?? "", params };
      requests.push(request);
      const { status = 200, body: xml } = respond(request);
      res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
      res.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const NS = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`;

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An instance as the stub returns it. */
export interface StubInstance {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  state?: string;
  tags?: Record<string, string>;
}

function instanceXml(i: StubInstance): string {
  const tags = Object.entries(i.tags ?? {})
    .map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`)
    .join("");
  return (
    `<item><instanceId>${i.instanceId}</instanceId><instanceType>${i.instanceType}</instanceType>` +
    `<placement><availabilityZone>${i.availabilityZone}</availabilityZone></placement>` +
    `<instanceState><code>0</code><name>${i.state ?? "pending"}</name></instanceState>` +
    `<tagSet>${tags}</tagSet></item>`
  );
}

/** XML bodies of the EC2 Query API responses the launcher reads. */
export const ec2Xml = {
  describeInstances: (instances: StubInstance[]): string =>
    `<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse ${NS}><requestId>stub</requestId><reservationSet>` +
    instances
      .map(
        (i) =>
          `<item><reservationId>r-stub</reservationId><instancesSet>${instanceXml(i)}</instancesSet></item>`,
      )
      .join("") +
    `</reservationSet></DescribeInstancesResponse>`,
  runInstances: (instance: StubInstance): string =>
    `<?xml version="1.0" encoding="UTF-8"?><RunInstancesResponse ${NS}><requestId>stub</requestId>` +
    `<reservationId>r-stub</reservationId><ownerId>123456789012</ownerId>` +
    `<instancesSet>${instanceXml(instance)}</instancesSet></RunInstancesResponse>`,
  createTags: (): string =>
    `<?xml version="1.0" encoding="UTF-8"?><CreateTagsResponse ${NS}><requestId>stub</requestId><return>true</return></CreateTagsResponse>`,
  error: (code: string, message: string): string =>
    `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error></Errors><RequestID>stub</RequestID></Response>`,
};

/** The serialized code of the first launcher function among an evaluation's resources. */
export async function deployedLauncherCode(
  resources: readonly { type: string; name: string; inputs: Record<string, unknown> }[],
): Promise<string> {
  const fn = resources.find(
    (r) => r.type === "aws:lambda/function:Function" && r.name.includes("launcher"),
  );
  if (!fn) throw new Error("no launcher function");
  const assets = await (
    fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
  ).assets;
  if (Object.keys(assets).join() !== "__index.js") {
    throw new Error(`the launcher's code is ${Object.keys(assets).join(", ")}, not __index.js`);
  }
  return assets["__index.js"].text;
}

/** An EC2 stand-in that finds no instance and launches every RunInstances as `instanceId`. */
export function startLaunchingEc2Stub(instanceId: string): Promise<Ec2Stub> {
  return startEc2Stub(({ action, params }) => {
    if (action === "DescribeInstances") return { body: ec2Xml.describeInstances([]) };
    if (action === "CreateTags") return { body: ec2Xml.createTags() };
    if (action === "RunInstances") {
      return {
        body: ec2Xml.runInstances({
          instanceId,
          instanceType: params.InstanceType,
          availabilityZone: "eu-west-1b",
        }),
      };
    }
    return { status: 400, body: ec2Xml.error("InvalidAction", `unexpected ${action}`) };
  });
}
