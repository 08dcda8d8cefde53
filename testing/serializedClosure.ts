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
import { PLACEHOLDER_CLOSURE } from "../offline/engine";
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
      `the serialized closure requires modules the runtime lacks: ${unexpected.join(", ")}`,
    );
  }
  if (!required.some((m) => EC2_CLIENT_SPECIFIERS.includes(m))) {
    throw new Error(
      `the serialized closure does not require @aws-sdk/client-ec2 (requires: ${required.join(", ")})`,
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
        `the serialized closure has AWS SDK code inlined (found ${JSON.stringify(marker)})`,
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
  /** Whether this was the container's first invocation: the code was loaded for it. */
  coldStart: boolean;
  /** Lines the handler printed on stdout during this invocation (its JSON log lines). */
  logs: string[];
  /** What the process wrote on stderr up to the end of this invocation (for messages). */
  stderr: string;
  /**
   * The SDK client packages (`@aws-sdk/client-*`) loaded when the handler made its first HTTP
   * request of this invocation, and when it returned: for a cold start, what it pays for before
   * its first AWS call.
   */
  clientsAtFirstRequest: string[];
  clientsAtEnd: string[];
}

/** Starts each line the runner writes with an outcome, never a log line of the handler. */
const OUTCOME_MARK = "\u001etj-outcome ";

/**
 * The container: loads the module at start, as Lambda's init phase does, then reads one
 * invocation a line on stdin ({event, budgetMs, clock}) and serves them in order, writing each
 * outcome on stdout after the handler's log lines (stdout to a pipe is synchronous on Linux, so
 * the order holds). `clock` sets the process's wall clock for that invocation.
 */
const RUNNER = `"use strict";
const readline = require("readline");
const [moduleFile] = process.argv.slice(2);
// The process's wall clock, moved by each invocation's \`clock\` and running on: the code under
// test is unchanged. Installed before the code loads, so every Date it makes is this one.
const RealDate = Date;
let offset = 0;
global.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offset;
  }
};
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
let served = Promise.resolve();
let coldStart = true;
function invoke({ event, budgetMs, clock }) {
  offset = clock ? RealDate.parse(clock) - RealDate.now() : 0;
  clientsAtFirstRequest = undefined;
  const end = Date.now() + budgetMs;
  const context = { awsRequestId: "local", getRemainingTimeInMillis: () => end - Date.now() };
  const facts = () => ({ coldStart, clientsAtFirstRequest: clientsAtFirstRequest ?? [], clientsAtEnd: clients() });
  const write = (outcome) => {
    coldStart = false;
    process.stdout.write(${JSON.stringify(OUTCOME_MARK)} + JSON.stringify(outcome) + "\\n");
  };
  return Promise.resolve()
    .then(() => handler(event, context))
    .then(
      (result) => write({ ok: true, result, ...facts() }),
      (error) => write({ ok: false, error: { name: error.name, message: error.message, hasStack: typeof error.stack === "string" }, ...facts() }),
    );
}
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const request = JSON.parse(line);
  served = served.then(() => invoke(request));
});
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

/** Options of {@link startSerializedContainer}. */
export interface ContainerOptions {
  region?: string;
  /** Endpoints besides the default ones, e.g. `AWS_ENDPOINT_URL_SCHEDULER`. */
  env?: Record<string, string>;
}

/** Options of one invocation. */
export interface InvokeOptions {
  /** What `context.getRemainingTimeInMillis()` counts down from (default 30 s). */
  budgetMs?: number;
  /** How long to wait for the outcome before the container is killed (default 20 s). */
  timeoutMs?: number;
  /** The process's wall clock during the invocation (ISO time), for events with fixed times. */
  clock?: string;
}

/** A Lambda container standing in for the runtime: one process, invoked any number of times. */
export interface SerializedContainer {
  /** Calls `handler(event, context)` once the invocations before it have ended. */
  invoke(event: unknown, options?: InvokeOptions): Promise<Invocation>;
  /** Ends the process and removes its folder. */
  close(): Promise<void>;
}

/**
 * Writes `code` to a fresh folder outside the project and loads it in a new `node` process that
 * resolves packages only through NODE_PATH (this project's node_modules, standing in for the
 * Lambda runtime's SDK), with fake credentials and `AWS_ENDPOINT_URL_EC2` set to `ec2Endpoint`.
 * SNS, CloudWatch and S3 (outcome reporting) go to the same endpoint unless `options.env` points
 * them elsewhere, so nothing leaves the machine. Like a Lambda container, it loads the code once
 * (at start, not waiting for an invocation) and keeps its clients between invocations.
 */
export function startSerializedContainer(
  code: string,
  ec2Endpoint: string,
  options: ContainerOptions = {},
): SerializedContainer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-lambda-"));
  const moduleFile = path.join(dir, "__index.js");
  fs.writeFileSync(moduleFile, code);
  fs.writeFileSync(path.join(dir, "runner.js"), RUNNER);
  const child = spawn(process.execPath, [path.join(dir, "runner.js"), moduleFile], {
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
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  let logs: string[] = [];
  let partial = "";
  let ended: string | undefined;
  /** The invocations sent and not answered, oldest first. */
  const waiting: {
    resolve(outcome: Invocation): void;
    reject(error: Error): void;
  }[] = [];
  const fail = (reason: string) => {
    ended ??= reason;
    for (const pending of waiting.splice(0)) pending.reject(new Error(`${ended}\n${stderr}`));
  };
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // Writing to a process that died fails here; its "close" below reports why.
  child.stdin.on("error", () => undefined);
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith(OUTCOME_MARK)) {
        if (line) logs.push(line);
        continue;
      }
      const outcome = JSON.parse(line.slice(OUTCOME_MARK.length)) as Omit<
        Invocation,
        "logs" | "stderr"
      >;
      waiting.shift()?.resolve({ ...outcome, logs, stderr });
      logs = [];
    }
  });
  child.once("error", (error) => fail(`the serialized handler's process failed: ${error.message}`));
  const closed = new Promise<void>((resolve) =>
    child.once("close", (status) => {
      fail(`the serialized handler exited (${status}) without an outcome:`);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve();
    }),
  );
  return {
    invoke(event, { budgetMs = 30000, timeoutMs = 20000, clock = "" } = {}) {
      return new Promise<Invocation>((resolve, reject) => {
        if (ended) return reject(new Error(`${ended}\n${stderr}`));
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          fail(`the serialized handler did not finish within ${timeoutMs} ms`);
        }, timeoutMs);
        const settle =
          <T>(then: (value: T) => void) =>
          (value: T) => {
            clearTimeout(timer);
            then(value);
          };
        waiting.push({ resolve: settle(resolve), reject: settle(reject) });
        child.stdin.write(`${JSON.stringify({ event, budgetMs, clock })}\n`);
      });
    },
    async close() {
      child.stdin.end();
      await closed;
    },
  };
}

/**
 * One invocation of `code` in a container of its own ({@link startSerializedContainer}): a cold
 * start, the process ended afterwards.
 */
export async function invokeSerializedHandler(
  code: string,
  event: unknown,
  ec2Endpoint: string,
  options: ContainerOptions & InvokeOptions = {},
): Promise<Invocation> {
  const container = startSerializedContainer(code, ec2Endpoint, options);
  try {
    return await container.invoke(event, options);
  } finally {
    await container.close();
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
  const code = await assets["__index.js"].text;
  if (code === PLACEHOLDER_CLOSURE) {
    throw new Error("this evaluation did not serialize its closures (closures: placeholder)");
  }
  return code;
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
