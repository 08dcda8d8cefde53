/**
 * Command-line parsing shared by the operator tools: typed flags, `--flag value` and
 * `--flag=value`, `--no-flag` for booleans, positionals, and `--help`. Every error names the flag,
 * the value and what is allowed, and ends with how to get help.
 */

/** A bad command line: the tools print the message and exit with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure that is not the user's typing (AWS, Pulumi, a missing run): exit status 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** One flag of a tool. */
export interface FlagSpec {
  /** Without the dashes, e.g. `stack`. */
  name: string;
  type: "string" | "integer" | "boolean";
  /** One line for `--help`. */
  description: string;
  /** Placeholder in `--help`, e.g. `<name>`. */
  placeholder?: string;
  /** For strings: the values allowed, listed in errors. */
  allowed?: readonly string[];
  /** For strings: a rule and how to say it. */
  pattern?: { regex: RegExp; rule: string };
  /** For integers: inclusive bounds. */
  min?: number;
  max?: number;
  /** Shown in `--help` and used when the flag is absent. */
  default?: string | number | boolean;
}

/** What a tool accepts. */
export interface CommandSpec {
  /** e.g. `npm run runs --`. */
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Names of positional arguments, in order, e.g. `["run-id"]`; a trailing `?` marks optional. */
  positionals: string[];
  /** Usage lines for `--help` when the positionals alone do not say it (sub-commands). */
  synopsis?: string[];
  /** Extra lines for `--help` (examples, exit codes). */
  notes?: string[];
}

/** A parsed command line. */
export interface ParsedArgs {
  help: boolean;
  flags: Record<string, string | number | boolean | undefined>;
  positionals: string[];
}

const describeValue = (value: string | undefined) =>
  value === undefined ? "nothing" : JSON.stringify(value);

/** Parses `argv` against `spec`; throws {@link UsageError} naming the offending flag or value. */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const hint = `; see ${spec.usage} --help`;
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const flags: ParsedArgs["flags"] = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const raw = arg.replace(/^--?/, "");
    let name = eq === -1 ? raw : raw.slice(0, raw.indexOf("="));
    let inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let flag = byName.get(name);
    let negated = false;
    if (!flag && name.startsWith("no-") && byName.has(name.slice(3))) {
      name = name.slice(3);
      flag = byName.get(name);
      negated = true;
    }
    if (!flag || !arg.startsWith("--")) {
      const known = spec.flags.map((f) => `--${f.name}`).join(", ");
      throw new UsageError(`unknown flag ${JSON.stringify(arg)}; the flags are ${known}${hint}`);
    }
    if (flags[name] !== undefined) {
      throw new UsageError(`--${name} is given twice${hint}`);
    }
    if (flag.type === "boolean") {
      if (inline !== undefined && !["true", "false"].includes(inline)) {
        throw new UsageError(`--${name}: ${describeValue(inline)} must be true or false${hint}`);
      }
      flags[name] = negated ? false : inline === undefined ? true : inline === "true";
      continue;
    }
    if (negated) throw new UsageError(`--no-${name}: --${name} is not a yes/no flag${hint}`);
    if (inline === undefined) {
      const next = argv[i + 1];
      inline = next === undefined || next.startsWith("--") ? undefined : argv[++i];
    }
    flags[name] = checkValue(flag, inline, hint);
  }
  for (const flag of spec.flags) {
    if (flags[flag.name] === undefined && flag.default !== undefined) {
      flags[flag.name] = flag.default;
    }
  }
  if (!help) {
    const required = spec.positionals.filter((p) => !p.endsWith("?"));
    if (positionals.length < required.length) {
      throw new UsageError(`missing <${required[positionals.length]}>${hint}`);
    }
    if (positionals.length > spec.positionals.length) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}${hint}`,
      );
    }
  }
  return { help, flags, positionals };
}

function checkValue(flag: FlagSpec, value: string | undefined, hint: string): string | number {
  const name = `--${flag.name}`;
  const placeholder = flag.placeholder ?? "<value>";
  if (value === undefined || value === "") {
    throw new UsageError(`${name} needs a value (${name} ${placeholder})${hint}`);
  }
  if (flag.type === "integer") {
    const min = flag.min ?? Number.MIN_SAFE_INTEGER;
    const max = flag.max ?? Number.MAX_SAFE_INTEGER;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new UsageError(
        `${name}: ${describeValue(value)} is not a whole number from ${min} to ${max}${hint}`,
      );
    }
    return n;
  }
  if (flag.allowed && !flag.allowed.includes(value)) {
    throw new UsageError(
      `${name}: ${describeValue(value)} is not one of ${flag.allowed.join(", ")}${hint}`,
    );
  }
  if (flag.pattern && !flag.pattern.regex.test(value)) {
    throw new UsageError(`${name}: ${describeValue(value)} is not ${flag.pattern.rule}${hint}`);
  }
  return value;
}

/** The `--help` text of a tool. */
export function formatHelp(spec: CommandSpec): string {
  const positionals = spec.positionals
    .map((p) => (p.endsWith("?") ? `[<${p.slice(0, -1)}>]` : `<${p}>`))
    .join(" ");
  const synopsis = spec.synopsis ?? [
    `${spec.usage} ${positionals ? `${positionals} ` : ""}[flags]`,
  ];
  const rows = spec.flags.map((f) => {
    const left = `--${f.name}${f.type === "boolean" ? "" : ` ${f.placeholder ?? "<value>"}`}`;
    const extra = [
      f.allowed ? `one of ${f.allowed.join(", ")}` : "",
      f.default !== undefined && f.type !== "boolean" ? `default ${f.default}` : "",
    ].filter(Boolean);
    return [left, `${f.description}${extra.length ? ` (${extra.join("; ")})` : ""}`];
  });
  const width = Math.max(...rows.map(([left]) => left.length), "--help".length);
  return [
    ...synopsis.map((line, i) => `${i === 0 ? "usage:" : "      "} ${line}`),
    "",
    spec.summary,
    "",
    "flags:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    `  ${"--help".padEnd(width)}  show this help`,
    ...(spec.notes?.length ? ["", ...spec.notes] : []),
  ].join("\n");
}

/** Flags every tool shares. */
export const COMMON_FLAGS: Record<"stack" | "region" | "json", FlagSpec> = {
  stack: {
    name: "stack",
    type: "string",
    placeholder: "<stack>",
    description: "Pulumi stack (environment), e.g. dev; default: the selected stack",
    pattern: { regex: /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, rule: "a Pulumi stack name" },
  },
  region: {
    name: "region",
    type: "string",
    placeholder: "<region>",
    description: "only this region of the stack",
    pattern: { regex: /^[a-z]{2}(-[a-z]+)+-\d+$/, rule: "an AWS region such as eu-west-1" },
  },
  json: {
    name: "json",
    type: "boolean",
    description: "print JSON instead of text, for scripts",
  },
};
