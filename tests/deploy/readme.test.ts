/**
 * docs/deploying.md against the code: its config commands,
 * replayed on the real stack files, give configs the programs accept, and its examples hold.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { offsetSchedule } from "../../lib/scheduleExpression";
import { AWS_REGIONS, parseStackConfig, rawConfigFromPulumi, RawStackConfig } from "../../config";
import { deployConfigFromPulumi, parseDeployConfig } from "../../deploy/config";
import { loadStackConfig, PROJECT_ROOT } from "../../offline/engine";

const README = fs.readFileSync(path.join(PROJECT_ROOT, "docs", "deploying.md"), "utf8");

/** Parses `regions[2].name` into `["regions", 2, "name"]`. */
function parsePath(text: string): Array<string | number> {
  return [...text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] ? Number(m[2]) : m[1]));
}

/** Pulumi's `--path` typing: "true"/"false" are booleans and integers numbers. */
const typed = (value: string): unknown =>
  value === "true" || value === "false"
    ? value === "true"
    : /^-?\d+$/.test(value)
      ? Number(value)
      : value;

function setPath(root: RawStackConfig, keys: Array<string | number>, value: unknown): void {
  let node = root as Record<string | number, unknown>;
  keys.slice(0, -1).forEach((key, i) => {
    if (node[key] === undefined) node[key] = typeof keys[i + 1] === "number" ? [] : {};
    node = node[key] as Record<string | number, unknown>;
    assert.ok(typeof node === "object", `${keys.join(".")}: ${String(key)} is not a map or list`);
  });
  node[keys[keys.length - 1]] = value;
}

function removePath(root: RawStackConfig, keys: Array<string | number>): void {
  let node = root as Record<string | number, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = keys[keys.length - 1];
  if (Array.isArray(node) && typeof last === "number") node.splice(last, 1);
  else delete node[last];
}

/** Every `pulumi config set/rm --path` command for `stack` in `text`, in order. */
function pathCommands(text: string, stack: string) {
  const pattern = new RegExp(
    `pulumi config (set|rm) --path '([^']+)'(?: (\\S+))? --stack acme/${stack}\\b`,
    "g",
  );
  return [...text.matchAll(pattern)].map(([, verb, key, value]) => ({ verb, key, value }));
}

/** The deploying guide's shell snippets: each fenced block, and each inline command outside them. */
function snippets(): string[] {
  const parts = README.split(/^\s*```.*$/m);
  const fenced = parts.filter((_, i) => i % 2 === 1);
  const inline = parts
    .filter((_, i) => i % 2 === 0)
    .flatMap((text) => [...text.matchAll(/`(pulumi [^`]+)`/g)].map((m) => m[1]));
  return [...fenced, ...inline];
}

/** The region the guide adds as `regions[2]`. */
const NEW_REGION = pathCommands(README, "prod").find((c) => c.key === "regions[2]")?.value ?? "";

/** A region entry's name, for either form (`eu-west-1` or `{ name: eu-west-1, ... }`). */
const nameOf = (entry: unknown): string =>
  typeof entry === "string" ? entry : String((entry as { name?: unknown }).name);

/**
 * The shipped prod config as the guide's starting point, whatever regions it has: without the
 * region the guide adds (it may be there already), and with at least the two regions the guide
 * pauses and retires. The guide's `regions[2]` (the next free index of its two-region prod) is
 * replayed at the next free index of this one.
 */
function guideBaseline(): { raw: RawStackConfig; names: string[]; at: (key: string) => string } {
  const raw = rawConfigFromPulumi(loadStackConfig("prod"));
  const regions = ((raw.regions as unknown[]) ?? []).filter((r) => nameOf(r) !== NEW_REGION);
  for (const spare of AWS_REGIONS) {
    if (regions.length >= 2) break;
    if (spare !== NEW_REGION && !regions.some((r) => nameOf(r) === spare)) regions.push(spare);
  }
  raw.regions = regions as RawStackConfig["regions"];
  for (const job of Object.values((raw.jobs ?? {}) as Record<string, { regions?: string[] }>)) {
    if (!job.regions) continue;
    job.regions = job.regions.filter((r) => r !== NEW_REGION);
    if (job.regions.length === 0) delete job.regions;
  }
  const names = regions.map(nameOf);
  return { raw, names, at: (key) => key.replace(/^regions\[2\]/, `regions[${names.length}]`) };
}

describe("docs/deploying.md", () => {
  it("adds, configures, pauses and removes prod regions with commands the program accepts", () => {
    const seen: string[] = [];
    for (const snippet of snippets()) {
      const commands = pathCommands(snippet, "prod");
      if (commands.length === 0) continue;
      // The snippet's commands in order, on the shipped prod config.
      const { raw, names: before, at } = guideBaseline();
      for (const { verb, key, value } of commands) {
        seen.push(`${verb} ${key}`);
        const keys = parsePath(at(key));
        if (verb === "rm") removePath(raw, keys);
        else setPath(raw, keys, typed(value));
      }
      const regions = parseStackConfig(raw, "prod").regions;
      const names = regions.map((r) => r.name);
      if (commands.some((c) => c.key.startsWith("regions[2]"))) {
        assert.deepEqual(names, [...before, NEW_REGION]);
      } else if (commands.some((c) => c.verb === "rm")) {
        assert.deepEqual(
          names,
          before.filter((_, i) => i !== 1),
        );
      } else {
        assert.equal(regions[1].enabled, false, snippet);
      }
    }
    for (const expected of [
      "set regions[2]",
      "set regions[2].name",
      "set regions[1].enabled",
      "rm regions[1]",
    ]) {
      assert.ok(seen.includes(expected), `no "${expected}" command`);
    }
  });

  it("replays the options of a new region together", () => {
    const { raw, names, at } = guideBaseline();
    for (const { key, value } of pathCommands(README, "prod").filter((c) =>
      c.key.startsWith("regions[2]."),
    )) {
      setPath(raw, parsePath(at(key)), typed(value));
    }
    assert.deepEqual(parseStackConfig(raw, "prod").regions[names.length], {
      name: NEW_REGION,
      enabled: true,
      scheduleOffsetMinutes: 30,
      rolloutOrder: 2,
    });
  });

  it("bootstraps the deploy stacks with keys deploy/Pulumi.yaml declares", () => {
    for (const stack of ["dev", "prod"]) {
      const pattern = new RegExp(`pulumi config set (\\w+) (\\S+) --stack acme/${stack}\\b`, "g");
      const commands = [...README.matchAll(pattern)];
      assert.ok(commands.length >= 3, `${stack}: only ${commands.length} commands`);
      const flat = loadStackConfig(stack, path.join(PROJECT_ROOT, "deploy"));
      for (const [, key, value] of commands) flat[`transient-jobs-deploy:${key}`] = value;
      const config = parseDeployConfig(deployConfigFromPulumi(flat), stack);
      assert.equal(config.branch, stack === "dev" ? "main" : "release");
    }
  });

  it("shows the offset example as the code computes it", () => {
    const example = /`(cron\([^`]+\))` becomes `(cron\([^`]+\))` with (\d+)/.exec(README);
    assert.ok(example, "no offset example");
    assert.equal(offsetSchedule(example[1], Number(example[3])), example[2]);
  });
});
