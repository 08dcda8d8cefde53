/**
 * docs/configuration.md against config.ts: its key lists name exactly the keys the schema
 * accepts, and its sample error is what the sample stack file really gives.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS, parseStackConfig, PROJECT, StackConfigError } from "../../config";

const PAGE = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "configuration.md"), "utf8");

/** The text of the `## title` section, up to the next heading of that level. */
function section(title: string): string {
  const start = PAGE.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/configuration.md has no "## ${title}"`);
  const end = PAGE.indexOf("\n## ", start + 1);
  return PAGE.slice(start, end < 0 ? undefined : end);
}

/** Each `- \`key\`` bullet at `indent` with its text, continuation lines included. */
function bullets(text: string, indent = ""): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = new RegExp(`^${indent}- \`(\\w+)\`((?:.|\\n(?!${indent}- |\\n))*)`, "gm");
  for (const match of text.matchAll(pattern)) found.set(match[1], match[2]);
  return found;
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

describe("docs/configuration.md lists every key the schema accepts", () => {
  const stack = bullets(section("Stack keys"));
  const job = bullets(section("Job keys"));

  it("every stack key, and no other", () => {
    assert.deepEqual(sorted(stack.keys()), sorted(CONFIG_KEYS.stack));
  });

  it("every key of a region entry, in the regions bullet and as its own sub-bullet", () => {
    const listed = /\{([^}]*)\}/.exec(stack.get("regions") ?? "")?.[1] ?? "";
    assert.deepEqual(sorted(listed.split(",").map((k) => k.trim())), sorted(CONFIG_KEYS.region));
    const described = bullets(section("Stack keys"), "  ");
    assert.deepEqual(
      sorted(described.keys()),
      sorted(CONFIG_KEYS.region.filter((k) => k !== "name")),
    );
  });

  it("every job key, and no other", () => {
    assert.deepEqual(sorted(job.keys()), sorted(CONFIG_KEYS.job));
  });

  it("the keys of every key that is an object, in that key's bullet", () => {
    assert.ok(Object.keys(CONFIG_KEYS.nested).length >= 3);
    for (const [parent, keys] of Object.entries(CONFIG_KEYS.nested)) {
      const text = parent.startsWith("jobs.*.")
        ? job.get(parent.slice("jobs.*.".length))
        : stack.get(parent);
      assert.ok(text !== undefined, `no bullet for ${parent}`);
      for (const key of keys) {
        assert.ok(text.includes(key), `the ${parent} bullet does not name ${key}`);
      }
    }
  });
});

describe("docs/configuration.md's sample error", () => {
  it("is what the sample stack file gives, every problem in one run", () => {
    const blocks = [...PAGE.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
    const sample = blocks.findIndex(([, , body]) => body.startsWith("Invalid stack config:"));
    assert.ok(sample > 0, "no sample error");
    const [, language, yamlText] = blocks[sample - 1];
    assert.equal(language, "yaml", "the sample error follows its stack file");
    const file = parse(yamlText) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(
      Object.entries(file.config).map(([key, value]) => [key.slice(PROJECT.length + 1), value]),
    );
    assert.throws(
      () => parseStackConfig(raw, "dev"),
      (e: unknown) => {
        assert.ok(e instanceof StackConfigError);
        assert.equal(e.message, blocks[sample][2].trimEnd());
        return true;
      },
    );
  });
});
