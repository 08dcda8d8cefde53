import * as assert from "node:assert/strict";
import { CommandSpec, formatHelp, parseArgs, UsageError } from "../../cli/args";
import { CliError } from "../../cli/args";
import { runMain } from "../../cli/io";
import { formatDuration, formatTable } from "../../cli/io";
import { memoryDeps } from "./support";

const SPEC: CommandSpec = {
  usage: "npm run tool --",
  summary: "A tool.",
  positionals: ["run-id", "extra?"],
  flags: [
    { name: "stack", type: "string", description: "the stack", placeholder: "<stack>" },
    { name: "last", type: "integer", description: "how many", min: 1, max: 100, default: 20 },
    { name: "mode", type: "string", description: "a mode", allowed: ["a", "b"] },
    {
      name: "month",
      type: "string",
      description: "a month",
      pattern: { regex: /^\d{4}-\d{2}$/, rule: "a month such as 2026-11" },
    },
    { name: "follow", type: "boolean", description: "keep going", default: true },
    { name: "json", type: "boolean", description: "JSON" },
  ],
};

describe("parseArgs", () => {
  const valid: [string[], Record<string, unknown>, string[]][] = [
    [["r1"], { last: 20, follow: true }, ["r1"]],
    [
      ["--stack", "dev", "r1", "--last=5", "--json", "--mode", "b"],
      { stack: "dev", last: 5, json: true, mode: "b", follow: true },
      ["r1"],
    ],
    [["--no-follow", "r1", "x"], { last: 20, follow: false }, ["r1", "x"]],
    [["--follow=false", "--", "--not-a-flag"], { last: 20, follow: false }, ["--not-a-flag"]],
  ];
  for (const [argv, flags, positionals] of valid) {
    it(`reads ${argv.join(" ")}`, () =>
      assert.deepEqual(parseArgs(argv, SPEC), { help: false, flags, positionals }));
  }

  it("reads --help without checking positionals", () =>
    assert.equal(parseArgs(["--help"], SPEC).help, true));

  const hint = "; see npm run tool -- --help";
  const invalid: [string[], string][] = [
    [
      ["r1", "--verbose"],
      `unknown flag "--verbose"; the flags are --stack, --last, --mode, --month, --follow, --json${hint}`,
    ],
    [
      ["r1", "-s", "dev"],
      `unknown flag "-s"; the flags are --stack, --last, --mode, --month, --follow, --json${hint}`,
    ],
    [["r1", "--stack"], `--stack needs a value (--stack <stack>)${hint}`],
    [["r1", "--stack", "--json"], `--stack needs a value (--stack <stack>)${hint}`],
    [["r1", "--last", "0"], `--last: "0" is not a whole number from 1 to 100${hint}`],
    [["r1", "--last", "2.5"], `--last: "2.5" is not a whole number from 1 to 100${hint}`],
    [["r1", "--mode", "c"], `--mode: "c" is not one of a, b${hint}`],
    [["r1", "--month", "Nov"], `--month: "Nov" is not a month such as 2026-11${hint}`],
    [["r1", "--json=yes"], `--json: "yes" must be true or false${hint}`],
    [["r1", "--no-stack"], `--no-stack: --stack is not a yes/no flag${hint}`],
    [["r1", "--stack", "a", "--stack", "b"], `--stack is given twice${hint}`],
    [[], `missing <run-id>${hint}`],
    [["a", "b", "c"], `unexpected argument "c"${hint}`],
  ];
  for (const [argv, message] of invalid) {
    it(`rejects ${JSON.stringify(argv)}`, () =>
      assert.throws(
        () => parseArgs(argv, SPEC),
        (e: Error) => e instanceof UsageError && e.message === message,
      ));
  }
});

describe("formatHelp", () => {
  it("lists usage, every flag with its placeholder, allowed values and default", () => {
    assert.equal(
      formatHelp(SPEC),
      [
        "usage: npm run tool -- <run-id> [<extra>] [flags]",
        "",
        "A tool.",
        "",
        "flags:",
        "  --stack <stack>  the stack",
        "  --last <value>   how many (default 20)",
        "  --mode <value>   a mode (one of a, b)",
        "  --month <value>  a month",
        "  --follow         keep going",
        "  --json           JSON",
        "  --help           show this help",
      ].join("\n"),
    );
  });
});

describe("runMain", () => {
  const cases: [string, () => never, number, string][] = [
    [
      "a usage error",
      () => {
        throw new UsageError("--x: bad");
      },
      2,
      "error: --x: bad",
    ],
    [
      "a CLI error",
      () => {
        throw new CliError("no run record");
      },
      1,
      "error: no run record",
    ],
    [
      "an SDK credentials error",
      () => {
        const e = new Error("Could not load credentials from any providers");
        e.name = "CredentialsProviderError";
        throw e;
      },
      1,
      "error: CredentialsProviderError: Could not load credentials from any providers (configure AWS credentials, e.g. AWS_PROFILE, for the stack's account)",
    ],
  ];
  for (const [title, fail, status, message] of cases) {
    it(`turns ${title} into exit status ${status} and one line`, async () => {
      const world = memoryDeps();
      assert.equal(await runMain(async () => fail(), [], world.deps), status);
      assert.equal(world.stderr(), message);
      assert.equal(world.stdout(), "");
    });
  }
});

describe("formatTable and formatDuration", () => {
  it("pads columns and right-aligns the numeric ones", () =>
    assert.equal(
      formatTable(
        ["ID", "COST"],
        [
          ["a", "$1.00"],
          ["long-id", "$0.0049"],
        ],
        [1],
      ),
      ["ID          COST", "a          $1.00", "long-id  $0.0049"].join("\n"),
    ));
  for (const [seconds, text] of [
    [7, "7s"],
    [312, "5m 12s"],
    [4000, "1h 06m"],
    [undefined, "-"],
    [-1, "-"],
  ] as const) {
    it(`writes ${seconds} seconds as ${text}`, () => assert.equal(formatDuration(seconds), text));
  }
});
