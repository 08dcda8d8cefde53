/**
 * Benchmark 2: the launcher Lambda exactly as `pulumi up` would upload it (the code asset of the
 * dev stack's launcher function, taken from the program evaluated under mocks): its zipped size,
 * whether it bundles the AWS SDK, how long a fresh Node process takes to load it, and how long one
 * launch decision takes against a local EC2 stub once it is loaded.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { evaluateProgram, loadStackConfig } from "../offline/engine";
import {
  lambdaRuntimeEnv,
  assertSelfContained,
  invokeSerializedHandler,
  ec2Xml,
  requiredModules,
  startEc2Stub,
} from "../testing/serializedClosure";
import { hasCommand, runChild } from "./child";
import { timeTask } from "./measure";
import {
  checked,
  checkedFlag,
  formatMs,
  formatNumber,
  info,
  type BenchmarkResult,
  type RunOptions,
} from "./report";

export const TARGETS = {
  zippedBytes: 20 * 1024,
  loadMs: 50,
  decisionMs: 5,
  /** EC2 alone decides and launches (launcher/lazySdk.ts). */
  clientsBeforeFirstRequest: 1,
} as const;

/**
 * Runs in a fresh `node`: loads the module (timed with hrtime around `require`), and with `decide`
 * also invokes the handler once (cold) and then `iterations` times under tinybench, each time
 * for a new scheduled time, so each is a real decision: look for a live run, then launch.
 */
const RUNNER = `"use strict";
const fs = require("fs");
const [moduleFile, outFile, mode, iterations, tinybench, preload] = process.argv.slice(2);
// "own": the SDK clients are loaded first, untimed, so the timing is the module's own code.
if (mode === "own") for (const m of JSON.parse(preload)) require(m);
const started = process.hrtime.bigint();
const loaded = require(moduleFile);
const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
if (mode !== "decide") {
  fs.writeFileSync(outFile, JSON.stringify({ loadMs }));
  return;
}
const context = { awsRequestId: "bench", getRemainingTimeInMillis: () => 60000 };
let hour = 0;
const decide = async () => {
  const scheduledTime = new Date(Date.UTC(2026, 10, 24) + 3600000 * hour++).toISOString();
  // Manual launches, requested now: a past scheduled time is in its launch window only so.
  const requestedTime = new Date().toISOString();
  const result = await loaded.handler({ job: "pi", scheduledTime, manual: true, requestedTime }, context);
  if (result.status !== "launched") throw new Error("unexpected result " + JSON.stringify(result));
};
(async () => {
  const coldStart = process.hrtime.bigint();
  await decide();
  const firstMs = Number(process.hrtime.bigint() - coldStart) / 1e6;
  const { Bench } = require(tinybench);
  const bench = new Bench({ iterations: Number(iterations), time: 0, warmup: false, throws: true });
  bench.add("decision", decide);
  await bench.run();
  const { latency } = bench.tasks[0].result;
  // The floor: one bare EC2 SDK request to the same stub (the decision makes three in a row).
  const { EC2Client, DescribeInstancesCommand } = require("@aws-sdk/client-ec2");
  const ec2 = new EC2Client({});
  const bare = new DescribeInstancesCommand({ InstanceIds: ["i-0floor"] });
  await ec2.send(bare);
  const floor = new Bench({ iterations: Number(iterations), time: 0, warmup: false, throws: true });
  floor.add("request", () => ec2.send(bare));
  await floor.run();
  fs.writeFileSync(outFile, JSON.stringify({
    loadMs, firstMs, decisions: latency.samplesCount, medianMs: latency.p50,
    minMs: latency.min, maxMs: latency.max, invocations: hour,
    sdkRequestMs: floor.tasks[0].result.latency.p50,
  }));
})().catch((error) => {
  fs.writeFileSync(outFile, JSON.stringify({ error: String(error && error.stack || error) }));
});
`;

/** What the runner writes; the decision fields only in `decide` mode. */
interface ChildOutput {
  loadMs: number;
  /** The first, cold decision (SDK clients resolve credentials and endpoints). */
  firstMs: number;
  decisions: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Handler calls, the cold one included. */
  invocations: number;
  /** Median of one bare EC2 request to the stub. */
  sdkRequestMs: number;
}

const SNS_PUBLISH_XML =
  `<?xml version="1.0" encoding="UTF-8"?><PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">` +
  `<PublishResult><MessageId>stub</MessageId></PublishResult>` +
  `<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></PublishResponse>`;

/** Zipped size of `code` as `__index.js`: a real zip when `zip` is installed, else raw deflate. */
function zippedBytes(code: string, dir: string): { bytes: number; how: string } {
  const file = path.join(dir, "__index.js");
  fs.writeFileSync(file, code);
  if (hasCommand("zip")) {
    const archive = path.join(dir, "launcher.zip");
    // -X: no extra attributes, as in the archive Pulumi uploads.
    const result = spawnSync("zip", ["-q", "-X", archive, "__index.js"], { cwd: dir });
    if (result.status === 0) return { bytes: fs.statSync(archive).size, how: "zip (deflate)" };
  }
  return { bytes: zlib.deflateRawSync(code).length, how: "raw deflate (zip not installed)" };
}

/** Runs benchmark 2. */
export async function runLauncherBenchmark(options: RunOptions): Promise<BenchmarkResult> {
  const loads = options.quick ? 3 : 15;
  const decisions = options.quick ? 20 : 200;

  options.log("launcher: evaluating the dev stack under mocks for the launcher's code");
  const { resources } = await evaluateProgram("dev", loadStackConfig("dev"));
  const fn = resources.find(
    (r) => r.type === "aws:lambda/function:Function" && r.name.includes("launcher"),
  );
  if (!fn) throw new Error("the dev stack has no aws:lambda/function:Function named *launcher*");
  const assets = await (fn.inputs.code as any).assets;
  const code: string = await assets["__index.js"].text;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-bench-launcher-"));
  const stub = await startEc2Stub(({ action, params }) => {
    if (action === "DescribeInstances") return { body: ec2Xml.describeInstances([]) };
    if (action === "RunInstances") {
      return {
        body: ec2Xml.runInstances({
          instanceId: "i-0bench",
          instanceType: params.InstanceType,
          availabilityZone: "eu-west-1a",
        }),
      };
    }
    if (action === "Publish") return { body: SNS_PUBLISH_XML };
    // CloudWatch speaks JSON (awsJson1_0), so its body has no Action: PutMetricData answers {}.
    if (action === "") return { body: "{}" };
    return { status: 400, body: ec2Xml.error("InvalidAction", `unexpected ${action}`) };
  });
  try {
    const zipped = zippedBytes(code, dir);
    let bundlesSdk = false;
    let bundleProblem: string | undefined;
    try {
      assertSelfContained(code);
    } catch (error) {
      bundlesSdk = true;
      bundleProblem = (error as Error).message;
    }
    const external = requiredModules(code).filter((m) => !m.startsWith("node:") && m.includes("/"));

    fs.writeFileSync(path.join(dir, "runner.js"), RUNNER);
    // The Lambda runtime's SDK: this project's node_modules, found only through NODE_PATH.
    const env = lambdaRuntimeEnv(dir, {
      AWS_ENDPOINT_URL_EC2: stub.endpoint,
      AWS_ENDPOINT_URL_SNS: stub.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: stub.endpoint,
      AWS_ENDPOINT_URL_S3: stub.endpoint,
    });
    const moduleFile = path.join(dir, "__index.js");
    const child = async (mode: "load" | "own" | "decide") => {
      const outFile = path.join(dir, `out-${mode}.json`);
      const run = await runChild(
        process.execPath,
        [
          path.join(dir, "runner.js"),
          moduleFile,
          outFile,
          mode,
          String(decisions),
          require.resolve("tinybench"),
          JSON.stringify(external),
        ],
        { cwd: dir, env, timeoutMs: 120_000 },
      );
      const out = JSON.parse(fs.readFileSync(outFile, "utf8")) as ChildOutput & { error?: string };
      if (out.error) throw new Error(`the serialized launcher failed in its process: ${out.error}`);
      return { ...out, logs: run.stdout.split("\n").filter(Boolean) };
    };

    options.log(`launcher: loading the module in ${loads} fresh processes, then its own code`);
    const load = await timeTask("launcher load", loads, async () => ({
      overriddenDuration: (await child("load")).loadMs,
    }));
    // Its own code alone: the SDK clients it requires are loaded first, untimed.
    const ownLoad = await timeTask("launcher own code load", loads, async () => ({
      overriddenDuration: (await child("own")).loadMs,
    }));

    options.log(`launcher: ${decisions} launch decisions against a local EC2 stub`);
    const before = stub.requests.length;
    const decided = await child("decide");
    const requests = stub.requests.slice(before);
    const decisionRequests = requests.filter((r) => r.params["InstanceId.1"] !== "i-0floor");
    const perDecision = decisionRequests.length / decided.invocations;
    const actions = [...new Set(decisionRequests.map((r) => r.action || "PutMetricData"))].join(
      " + ",
    );
    // A decision whose report failed would be timed on an error path: not a decision to quote.
    const warnings = decided.logs.filter((l) => !l.includes('"level":"info"'));
    if (warnings.length > 0) {
      throw new Error(
        `the launcher logged problems during the decisions:\n${warnings.slice(0, 3).join("\n")}`,
      );
    }

    // A cold start in a fresh process: which SDK clients it loads before its first request.
    const requestedTime = new Date().toISOString();
    const cold = await invokeSerializedHandler(
      code,
      { job: "pi", scheduledTime: requestedTime, manual: true, requestedTime },
      stub.endpoint,
    );
    if (!cold.ok) throw new Error(`the cold invocation failed: ${JSON.stringify(cold.error)}`);

    const figures = [
      checked(
        "launcher",
        "serialized Lambda code, zipped",
        zipped.bytes,
        `${formatNumber(zipped.bytes)} bytes (${formatNumber(Buffer.byteLength(code))} unzipped)`,
        { op: "<=", limit: TARGETS.zippedBytes, unit: " bytes" },
        zipped.how,
      ),
      checkedFlag(
        "launcher",
        "bundles the AWS SDK",
        bundlesSdk,
        false,
        bundleProblem ?? `requires ${external.join(", ")} from the runtime`,
      ),
      checked(
        "launcher",
        `module load in a fresh node, median of ${load.samples}`,
        load.median,
        formatMs(load.median),
        { op: "<=", limit: TARGETS.loadMs, unit: " ms" },
        `its own code ${formatMs(ownLoad.median)}, the rest is requiring ${cold.clientsAtFirstRequest.join(", ")} (the others load on first use)`,
      ),
      checked(
        "launcher",
        `one launch decision after load, median of ${decided.decisions}`,
        decided.medianMs,
        formatMs(decided.medianMs),
        { op: "<=", limit: TARGETS.decisionMs, unit: " ms" },
        `${perDecision} requests each (${actions}) to a local stub, 3 in sequence; first call ${formatMs(decided.firstMs)}`,
      ),
      checked(
        "launcher",
        "SDK clients loaded before the first request (cold start)",
        cold.clientsAtFirstRequest.length,
        cold.clientsAtFirstRequest.join(", ") || "none",
        { op: "<=", limit: TARGETS.clientsBeforeFirstRequest, unit: "" },
        `then ${cold.clientsAtEnd.filter((c) => !cold.clientsAtFirstRequest.includes(c)).join(", ")} to report the outcome`,
      ),
      info(
        "launcher",
        "one bare EC2 SDK request to the same stub, median",
        formatMs(decided.sdkRequestMs),
        decided.sdkRequestMs,
        "the floor of each of the decision's requests (signing, HTTP, XML parsing)",
      ),
    ];
    return {
      figures,
      details: {
        codeBytes: Buffer.byteLength(code),
        zippedBytes: zipped.bytes,
        zippedWith: zipped.how,
        requiredModules: requiredModules(code),
        bundlesSdk,
        loadMs: load,
        ownCodeLoadMs: ownLoad,
        decision: { ...decided, logs: undefined, requestsPerDecision: perDecision, actions },
        coldStart: {
          clientsAtFirstRequest: cold.clientsAtFirstRequest,
          clientsAtEnd: cold.clientsAtEnd,
        },
      },
    };
  } finally {
    await stub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
