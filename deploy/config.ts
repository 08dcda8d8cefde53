/**
 * Config of the deploy program (`deploy/Pulumi.<stack>.yaml`): raw values in, a typed and
 * validated `DeployConfig` out. Pure, like the job program's `config.ts`; defaults live here and
 * in `deploy/Pulumi.yaml`.
 */
import { z } from "zod";

/** The deploy program's project name, which is also its config namespace. */
export const DEPLOY_PROJECT = "transient-jobs-deploy";

/** What the deploy stack sets up for one job stack. */
export interface DeployConfig {
  /** Pulumi organization that owns the job stack; the OIDC token's `aud`. Lowercase. */
  organization: string;
  /** GitHub repository holding the program, `owner/name`. */
  repository: string;
  /** Branch whose pushes run `pulumi up` and whose pull requests get a preview. */
  branch: string;
  /** The job stack deployed (a stack of the `transient-jobs` project). Default: this stack's name. */
  jobStack: string;
  /** Folder of the job program's `Pulumi.yaml` in the repository. Default: `.` (the root). */
  repoDir: string;
  /** Run `pulumi up` on every push to `branch`. Default: true. */
  deployCommits: boolean;
  /** Run `pulumi preview` on pull requests into `branch`. Default: true. */
  previewPullRequests: boolean;
  /** Only pushes changing these paths (globs, `!` excludes) deploy. Default: every push. */
  paths?: string[];
  /**
   * Create the account's OIDC identity provider for Pulumi Cloud. AWS allows one per URL and
   * account: set false in every other deploy stack of the same account. Default: true.
   */
  createOidcProvider: boolean;
  /**
   * The job stack retains its results buckets and image repositories (its `retainResources`):
   * the deploy role then cannot delete buckets, objects, repositories or images. Default: true
   * for the `prod` job stack, false otherwise, as in the job program.
   */
  retainData: boolean;
  /** Lifetime of the deployment's AWS session, `XhYmZs`, at most 12h. Default: `1h`. */
  sessionDuration: string;
  /** Customer-managed agent pool to run deployments on; default: Pulumi-hosted runners. */
  agentPoolId?: string;
}

/** Raised for invalid deploy config; `problems` holds one line per bad value. */
export class DeployConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid deploy stack config:\n  ${problems.join("\n  ")}`);
    this.name = "DeployConfigError";
  }
}

/** Seconds in an `XhYmZs` duration, or `undefined` if it is not one. */
export function durationSeconds(text: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === "") return undefined;
  const [, h = "0", m = "0", s = "0"] = match;
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

// Names end up in an IAM condition matched with StringLike: "*", "?" and ":" would widen it.
const claimPart = (what: string) =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
      `is not a valid ${what} name: letters, digits, ".", "_", "-" (no "*", "?" or ":")`,
    );

const schema = z.strictObject({
  organization: claimPart("Pulumi organization").regex(
    /^[^A-Z]*$/,
    "must be lowercase, as in app.pulumi.com/<org>: AWS compares the token's aud claim case-sensitively",
  ),
  repository: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'is not a GitHub repository ("owner/name")'),
  branch: z
    .string()
    .regex(
      /^(?!refs\/)(?!.*\.\.)[A-Za-z0-9._/-]+$/,
      'is not a branch name (e.g. "main", "release"; without "refs/heads/", no wildcards)',
    ),
  jobStack: claimPart("stack").optional(),
  repoDir: z
    .string()
    .refine(
      (p) => !p.startsWith("/") && !p.split("/").includes(".."),
      'must be a folder inside the repository (e.g. "." or "infra")',
    )
    .default("."),
  deployCommits: z.boolean().default(true),
  previewPullRequests: z.boolean().default(true),
  paths: z.array(z.string().min(1)).min(1).optional(),
  createOidcProvider: z.boolean().default(true),
  retainData: z.boolean().optional(),
  sessionDuration: z
    .string()
    .refine((d) => {
      const seconds = durationSeconds(d);
      return seconds !== undefined && seconds >= 900 && seconds <= 12 * 3600;
    }, 'is not a duration from 15m to 12h in the form "XhYmZs" (e.g. "1h", "1h30m")')
    .default("1h"),
  agentPoolId: z.string().min(1).optional(),
});

/**
 * Validates the deploy stack's config and applies defaults.
 * @param raw config values keyed without the project namespace.
 * @param stack the deploy stack's name (the default job stack).
 * @throws DeployConfigError naming each bad key, its value and the rule.
 */
export function parseDeployConfig(raw: Record<string, unknown>, stack: string): DeployConfig {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new DeployConfigError(
      parsed.error.issues.flatMap((issue) => {
        const key = (path: readonly PropertyKey[]) =>
          `${DEPLOY_PROJECT}:${path
            .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
            .join("")
            .replace(/^\./, "")}`;
        if (issue.code === "unrecognized_keys") {
          return issue.keys.map(
            (k) =>
              `${key([...issue.path, k])}: unknown key; check the spelling against deploy/Pulumi.yaml`,
          );
        }
        let value: unknown = raw;
        for (const p of issue.path) value = (value as Record<PropertyKey, unknown>)?.[p];
        const shown = value === undefined ? "(missing)" : JSON.stringify(value);
        const message = issue.message
          .replace(/^Invalid (input|option): /, "is invalid: ")
          .replace(/^Too (small|big): /, (_, size: string) => `is too ${size}: `);
        return [`${key(issue.path)}: ${shown} ${message}`];
      }),
    );
  }
  const data = parsed.data;
  const jobStack = data.jobStack ?? stack;
  return {
    ...data,
    jobStack,
    retainData: data.retainData ?? jobStack === "prod",
  };
}

/** This project's keys out of Pulumi's flat config map, with JSON values decoded. */
export function deployConfigFromPulumi(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(all)) {
    if (!key.startsWith(`${DEPLOY_PROJECT}:`)) continue;
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // A plain string value.
    }
    raw[key.slice(DEPLOY_PROJECT.length + 1)] = value;
  }
  return raw;
}
