/**
 * A job's own declaration of its parameters: `parameters.json` in its image folder (the build
 * context), read at deploy time, so that a job's `parameters` in stack config are checked against
 * what the job accepts before anything is deployed. Pure: the file's text is passed in.
 */
import { z } from "zod";
import { MIN_DEADLINE_MINUTES, STOP_MARGIN_MINUTES } from "./launcher/contract";

/** Name of the declaration file in a job's build context. */
export const PARAMETERS_FILE = "parameters.json";

/**
 * Minutes of a run that are not the job's: the init script stops the job before the deadline,
 * and boot, image pull and start-up take about 3 more (the shortest runtime config accepts).
 */
export const RUNTIME_OVERHEAD_MINUTES = MIN_DEADLINE_MINUTES;

const declarationSchema = z.strictObject({
  type: z.enum(["string", "integer", "number", "boolean"]),
  description: z.string().min(1),
  min: z.number().optional(),
  max: z.number().optional(),
  /** For a duration in seconds: it must leave the run's overhead within `maxRuntimeMinutes`. */
  withinRuntime: z.boolean().optional(),
  default: z.string().optional(),
});

/** One declared parameter. */
export type ParameterDeclaration = z.infer<typeof declarationSchema>;

/** Every parameter a job declares, by environment variable name. */
export type ParameterDeclarations = Record<string, ParameterDeclaration>;

const fileSchema = z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), declarationSchema);

/** A declaration file that cannot be read as one; the message names the file and the problem. */
export class ParameterFileError extends Error {}

/** Parses a declaration file's text; throws {@link ParameterFileError} naming `file`. */
export function parseParameterDeclarations(text: string, file: string): ParameterDeclarations {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ParameterFileError(`${file}: not JSON: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new ParameterFileError(
      `${file}: not a parameter declaration file (${issues.join("; ")}); each entry is NAME: { type, description, min?, max?, withinRuntime?, default? }`,
    );
  }
  return parsed.data;
}

function allowed(declaration: ParameterDeclaration): string {
  const range =
    declaration.min !== undefined && declaration.max !== undefined
      ? ` from ${declaration.min} to ${declaration.max}`
      : declaration.min !== undefined
        ? ` of at least ${declaration.min}`
        : declaration.max !== undefined
          ? ` of at most ${declaration.max}`
          : "";
  const kind =
    declaration.type === "integer"
      ? "a whole number"
      : declaration.type === "number"
        ? "a number"
        : declaration.type === "boolean"
          ? "true or false"
          : "a string";
  return `${kind}${range}`;
}

/** What is wrong with one value, or nothing. */
function valueProblem(value: string, declaration: ParameterDeclaration): string | undefined {
  const what = allowed(declaration);
  if (declaration.type === "boolean") {
    return value === "true" || value === "false" ? undefined : `must be ${what}`;
  }
  if (declaration.type === "string") return undefined;
  const pattern = declaration.type === "integer" ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
  const number = Number(value);
  if (!pattern.test(value.trim()) || !Number.isFinite(number)) return `must be ${what}`;
  if (declaration.min !== undefined && number < declaration.min) return `must be ${what}`;
  if (declaration.max !== undefined && number > declaration.max) return `must be ${what}`;
  return undefined;
}

/** One job as the check sees it. */
export interface DeclaredJob {
  name: string;
  /** Build context, for messages (`job-image`). */
  image: string;
  parameters: Record<string, string>;
  maxRuntimeMinutes: number;
}

/**
 * The problems of a job's parameters against its declarations: a parameter the job does not
 * declare, a value of the wrong type or range, and a duration (`withinRuntime`) that leaves no
 * room for the run's overhead within `maxRuntimeMinutes`. Each names the key, the value, the rule
 * (from the declaration file) and the fix.
 */
export function parameterProblems(
  job: DeclaredJob,
  declarations: ParameterDeclarations,
  keyPrefix: string,
): string[] {
  const file = `${job.image}/${PARAMETERS_FILE}`;
  const names = Object.keys(declarations).sort();
  const problems: string[] = [];
  for (const [name, value] of Object.entries(job.parameters)) {
    const key = `${keyPrefix}:jobs.${job.name}.parameters.${name}`;
    const declaration = declarations[name];
    if (!declaration) {
      problems.push(
        `${key}: is not a parameter of ${job.image} (${file} declares ${names.join(", ") || "none"}); check the spelling or declare it there`,
      );
      continue;
    }
    const problem = valueProblem(value, declaration);
    if (problem) {
      problems.push(
        `${key}: ${JSON.stringify(value)} ${problem} (${file}: ${declaration.description})`,
      );
      continue;
    }
    const room = (job.maxRuntimeMinutes - RUNTIME_OVERHEAD_MINUTES) * 60;
    if (declaration.withinRuntime && Number(value) > room) {
      problems.push(
        `${key}: ${JSON.stringify(value)} seconds leave no room within maxRuntimeMinutes ${job.maxRuntimeMinutes}: at most ${Math.max(0, room)} (the run needs about ${RUNTIME_OVERHEAD_MINUTES} minutes besides the job: boot, image pull, and the stop ${STOP_MARGIN_MINUTES} minutes before the deadline); lower it or raise maxRuntimeMinutes`,
      );
    }
  }
  return problems;
}
