/**
 * Which compiler transpiled what (testing/transpileMemo.ts): the program as `pulumi up` does
 * (TypeScript) unless the tier asks for swc, the test code by swc, and stack traces still point
 * at the TypeScript source.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { handleLaunchEvent } from "../../launcher/handler";
import { TRANSPILER_ENV } from "../../testing/transpileMemo";

/** TypeScript names an imported module `<name>_1`; swc names it `_<name>`. */
const byTypeScript = (fn: (...args: never[]) => unknown) => /\b[A-Za-z]+_1\./.test(fn.toString());

function importsSomething(): string {
  return TRANSPILER_ENV.toLowerCase();
}

describe("transpiling the tests and the program", () => {
  it("transpiles the program with TypeScript, as pulumi up does, unless the tier asks for swc", () => {
    const swcEverywhere = process.env[TRANSPILER_ENV] === "swc";
    assert.equal(byTypeScript(handleLaunchEvent), !swcEverywhere, handleLaunchEvent.toString());
  });

  it("transpiles the test code with swc", () => {
    assert.equal(byTypeScript(importsSomething), false, importsSomething.toString());
    assert.match(importsSomething.toString(), /_transpileMemo\.TRANSPILER_ENV/);
  });

  it("maps stack traces of swc's output to the TypeScript source", () => {
    const stack = new Error("here").stack!;
    const source = fs.readFileSync(__filename, "utf8").split("\n");
    const line = source.findIndex((text) => text.includes('new Error("here")')) + 1;
    assert.match(stack, new RegExp(`transpileMemo\\.test\\.ts:${line}:`), stack);
  });
});
