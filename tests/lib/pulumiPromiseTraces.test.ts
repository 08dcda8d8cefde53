import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  leavePulumiPromiseTracesUnformatted,
  pulumiPromiseTraceFormatter,
} from "../../lib/pulumiPromiseTraces";

/** A call site with just what the formatter reads. */
function site(fileName: string, functionName: string): NodeJS.CallSite {
  return { getFileName: () => fileName, getFunctionName: () => functionName } as NodeJS.CallSite;
}

const DEBUGGABLE = path.join("node_modules", "@pulumi", "pulumi", "runtime", "debuggable.js");

describe("Pulumi promise traces (lib/pulumiPromiseTraces.ts)", () => {
  it("leaves a trace taken in Pulumi's debuggable.js unformatted and formats every other", () => {
    const formatted: string[] = [];
    const format = pulumiPromiseTraceFormatter((error, frames) => {
      formatted.push(String(error));
      return `formatted ${frames.length}`;
    });
    const pulumiTrace = format(new Error("p"), [
      site(`/x/${DEBUGGABLE}`, "debuggablePromise"),
      site("/x/index.ts", "main"),
    ]);
    assert.equal(
      pulumiTrace,
      "Error: p\n    at debuggablePromise (a Pulumi promise's trace, not formatted)",
    );
    assert.equal(format(new Error("mine"), [site("/x/index.ts", "main")]), "formatted 1");
    assert.equal(format(new Error("no frames"), []), "formatted 0");
    assert.deepEqual(formatted, ["Error: mine", "Error: no frames"]);
  });

  it("is installed by the program before it loads Pulumi", () => {
    const program = fs.readFileSync(path.join(__dirname, "..", "..", "index.ts"), "utf8");
    const installed = program.indexOf("\nleavePulumiPromiseTracesUnformatted();");
    assert.ok(installed > 0, "index.ts calls leavePulumiPromiseTracesUnformatted()");
    assert.ok(installed < program.indexOf('from "@pulumi/'), "before the first @pulumi import");
  });

  it("goes over ts-node's formatter once, and not when debugging leaks", async () => {
    const before = Error.prepareStackTrace;
    try {
      Error.prepareStackTrace = (error) => `plain ${String(error)}`;
      assert.equal(leavePulumiPromiseTracesUnformatted({ PULUMI_DEBUG_PROMISE_LEAKS: "1" }), false);
      assert.equal(new Error("x").stack, "plain Error: x");
      assert.equal(leavePulumiPromiseTracesUnformatted({}), true);
      assert.equal(leavePulumiPromiseTracesUnformatted({}), false, "installed twice");
      assert.equal(new Error("y").stack, "plain Error: y");
      // The real thing: the trace Pulumi's runtime takes for one of its promises.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable") as {
        debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
      };
      // It records the trace on the promise it is given (and returns a derived one).
      const promise = Promise.resolve(1) as Promise<number> & { _debugStackTrace?: string };
      await debuggablePromise(promise, "test");
      assert.match(promise._debugStackTrace ?? "", /a Pulumi promise's trace, not formatted/);
    } finally {
      Error.prepareStackTrace = before;
    }
  });
});
