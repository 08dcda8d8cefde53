/**
 * Where the project is and which stacks it has: all the plan tool needs to check its command line,
 * without loading Pulumi (a usage error comes back at once).
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The project root (where `Pulumi.yaml` lives). */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** Stack names that have a `Pulumi.<stack>.yaml`. */
export function knownStacks(root = PROJECT_ROOT): string[] {
  return fs
    .readdirSync(root)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}
