/**
 * The generated block of docs/performance.md. Its own module, so that what tests it loads no
 * benchmark (and so neither Pulumi nor the offline engine).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";

const PERFORMANCE = path.join(__dirname, "..", "docs", "performance.md");
const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

/** Replaces the generated part of docs/performance.md, formatted as Prettier would. */
export async function updateReadme(section: string, file = PERFORMANCE): Promise<void> {
  const readme = fs.readFileSync(file, "utf8");
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) {
    throw new Error(`${file} has no ${START} … ${END} block for the performance table`);
  }
  const updated = `${readme.slice(0, start + START.length)}\n\n${section.trim()}\n\n${readme.slice(end)}`;
  fs.writeFileSync(
    file,
    await prettier.format(updated, { ...(await prettier.resolveConfig(file)), filepath: file }),
  );
}
