import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { codePathsOnce, computeCodePathsOnce } from "../../lib/pulumiCodePaths";

type Options = pulumi.runtime.CodePathOptions | undefined;

/** A stand-in for Pulumi's computeCodePaths that counts its calls and answers by its options. */
function counting(fail = false) {
  const calls: Options[] = [];
  const compute = async (options?: pulumi.runtime.CodePathOptions) => {
    calls.push(options);
    if (fail && calls.length === 1) throw new Error("package.json is unreadable");
    return new Map([
      [
        `node_modules/${options?.extraIncludePackages?.[0] ?? "none"}`,
        new pulumi.asset.FileArchive("."),
      ],
    ]);
  };
  return { calls, compute };
}

describe("Lambda code paths computed once (lib/pulumiCodePaths.ts)", () => {
  it("answers the same options once, in any order, with a copy each time", async () => {
    const { calls, compute } = counting();
    const once = codePathsOnce(compute);
    const first = await once({ extraExcludePackages: ["a", "b"] });
    const second = await once({ extraExcludePackages: ["b", "a"] });
    assert.equal(calls.length, 1);
    assert.notEqual(first, second, "each caller gets its own Map");
    assert.deepEqual([...first.keys()], [...second.keys()]);
    first.clear();
    assert.equal((await once({ extraExcludePackages: ["a", "b"] })).size, 1);
  });

  it("computes again for other options or another working directory", async () => {
    const { calls, compute } = counting();
    const once = codePathsOnce(compute);
    await once({ extraIncludePackages: ["x"] });
    await once({ extraIncludePackages: ["y"] });
    await once();
    const cwd = process.cwd();
    try {
      process.chdir(path.dirname(cwd));
      await once();
    } finally {
      process.chdir(cwd);
    }
    assert.equal(calls.length, 4);
  });

  it("passes options it cannot compare (a log resource) straight through, every time", async () => {
    const { calls, compute } = counting();
    const once = codePathsOnce(compute);
    const logResource = {} as pulumi.Resource;
    await once({ logResource });
    await once({ logResource });
    assert.equal(calls.length, 2);
  });

  it("does not keep a failure: the next call asks again", async () => {
    const { calls, compute } = counting(true);
    const once = codePathsOnce(compute);
    await assert.rejects(once(), /package.json is unreadable/);
    assert.equal((await once()).size, 1);
    assert.equal(calls.length, 2);
  });

  it("installs over a runtime once, and the program installs it before declaring resources", () => {
    const { calls, compute } = counting();
    const runtime = { computeCodePaths: compute };
    assert.equal(computeCodePathsOnce(runtime), true);
    assert.equal(computeCodePathsOnce(runtime), false, "a second install changes nothing");
    assert.notEqual(runtime.computeCodePaths, compute);
    assert.equal(calls.length, 0);

    const program = fs.readFileSync(path.join(__dirname, "..", "..", "index.ts"), "utf8");
    const installed = program.indexOf("\ncomputeCodePathsOnce(pulumi.runtime);");
    assert.ok(installed > 0, "index.ts calls computeCodePathsOnce(pulumi.runtime)");
    assert.ok(installed < program.indexOf("new aws."), "before the first resource");
  });
});
