/**
 * Figures, targets and the table `npm run bench` prints. Pure: formatting and target checks
 * take plain values.
 */

/** A target a figure is checked against, e.g. `{ op: "<=", limit: 50, unit: "ms" }`. */
export interface Target {
  op: ">=" | "<=";
  limit: number;
  /** Written after the limit: `×`, ` ms`, ` KB`... */
  unit: string;
}

/** `hit` and `MISS` for figures with a target, `-` for figures reported without one. */
export type Status = "hit" | "MISS" | "-";

/** One line of the table. */
export interface Figure {
  /** The benchmark that measured it: `pi`, `launcher`, `evaluation`, `init-script`. */
  benchmark: string;
  /** What was measured, with its conditions (duration, cores, regions...). */
  metric: string;
  /** The figure as printed. */
  text: string;
  /** The figure as a number (what the target is checked against), when it is one. */
  value?: number;
  /** The target as printed, e.g. `≥ 200×`. */
  target?: string;
  status: Status;
  /** Why a figure is what it is, or what it includes. */
  note?: string;
}

/** A figure without a target. */
export function info(
  benchmark: string,
  metric: string,
  text: string,
  value?: number,
  note?: string,
): Figure {
  return { benchmark, metric, text, value, status: "-", note };
}

/** A figure checked against `target`. */
export function checked(
  benchmark: string,
  metric: string,
  value: number,
  text: string,
  target: Target,
  note?: string,
): Figure {
  const ok = target.op === ">=" ? value >= target.limit : value <= target.limit;
  return {
    benchmark,
    metric,
    text,
    value,
    target: `${target.op === ">=" ? "≥" : "≤"} ${formatNumber(target.limit)}${target.unit}`,
    status: ok ? "hit" : "MISS",
    note,
  };
}

/** A yes/no figure whose target is `expected`. */
export function checkedFlag(
  benchmark: string,
  metric: string,
  actual: boolean,
  expected: boolean,
  note?: string,
): Figure {
  return {
    benchmark,
    metric,
    text: actual ? "yes" : "no",
    target: expected ? "yes" : "no",
    status: actual === expected ? "hit" : "MISS",
    note,
  };
}

/** `1234567` → `1,234,567`; fractions keep up to `decimals` places. */
export function formatNumber(n: number, decimals = 2): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: decimals });
}

/** Milliseconds with a precision that suits their size: `0.84 ms`, `12.3 ms`, `1,204 ms`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${formatNumber(Math.round(ms))} ms`;
}

/** A ratio: `41.2×`, `312×`. */
export function formatRatio(r: number): string {
  return r < 100 ? `${r.toFixed(1)}×` : `${formatNumber(Math.round(r))}×`;
}

const COLUMNS = ["benchmark", "metric", "figure", "target", "status"] as const;

function cells(f: Figure): string[] {
  return [f.benchmark, f.metric, f.text, f.target ?? "", f.status];
}

/** The figures as an aligned plain-text table, one figure per line, notes listed below. */
export function textTable(figures: readonly Figure[]): string {
  const rows = [COLUMNS.slice(), ...figures.map(cells)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c + " ".repeat(widths[i] - [...c].length))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/** Words of `text` in lines of at most `width` characters (a longer word keeps its own line). */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    const next = line === "" ? word : `${line} ${word}`;
    if ([...((lines.length === 0 ? "" : indent) + next)].length > width && line !== "") {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line !== "") lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

/** Width of the generated Markdown, so that the raw file reads well in a terminal. */
export const MARKDOWN_WIDTH = 100;

/**
 * The figures as Markdown, one list per benchmark and one item per figure (what was measured,
 * the figure in bold, the target and whether it was hit, the note), wrapped at
 * {@link MARKDOWN_WIDTH}: a table would be as wide as its longest note.
 */
export function markdownFigures(figures: readonly Figure[]): string {
  const benchmarks = [...new Set(figures.map((f) => f.benchmark))];
  return benchmarks
    .map((benchmark) => {
      const items = figures
        .filter((f) => f.benchmark === benchmark)
        .map((f) => {
          const target = f.target ? ` (target ${f.target}: ${f.status})` : "";
          const note = f.note ? `. ${f.note}` : "";
          return wrap(`- ${f.metric}: **${f.text}**${target}${note}`, MARKDOWN_WIDTH, "  ").join(
            "\n",
          );
        });
      return [`**${benchmark}**`, "", ...items].join("\n");
    })
    .join("\n\n");
}

/** Options every benchmark receives. */
export interface RunOptions {
  /** Short durations and few iterations: a smoke run, not figures to quote. */
  quick: boolean;
  /** Progress lines (stderr), so the table on stdout stays clean. */
  log: (line: string) => void;
}

/** What a benchmark returns: its lines of the table and its raw measurements for results.json. */
export interface BenchmarkResult {
  figures: Figure[];
  details: Record<string, unknown>;
}
