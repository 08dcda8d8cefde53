/**
 * Every `aws.lambda.CallbackFunction` asks Pulumi which files its zip needs besides the serialized
 * closure (`pulumi.runtime.computeCodePaths`, called from @pulumi/aws's lambdaMixins.js), and
 * Pulumi answers by reading the whole installed package tree with npm's arborist, every time:
 * measured here at about 0.2 s per function, three functions per region, the same answer each
 * time. Within one program run neither the working directory nor `node_modules` changes, so the
 * answer for the same options is computed once and handed out as a copy.
 */
import type * as Pulumi from "@pulumi/pulumi";

type CodePaths = Map<string, Pulumi.asset.Asset | Pulumi.asset.Archive>;
type ComputeCodePaths = (options?: Pulumi.runtime.CodePathOptions) => Promise<CodePaths>;

/** The part of `pulumi.runtime` this module replaces. */
export interface CodePathsRuntime {
  computeCodePaths: ComputeCodePaths;
}

/**
 * The cache key of `options`, or undefined when they cannot be compared as data (a `logResource`,
 * or the deprecated array form): those calls go to Pulumi unchanged.
 */
function keyOf(options: unknown, cwd: string): string | undefined {
  if (options === undefined) return JSON.stringify([cwd]);
  if (typeof options !== "object" || options === null || Array.isArray(options)) return undefined;
  const { extraIncludePaths, extraIncludePackages, extraExcludePackages, ...rest } =
    options as Pulumi.runtime.CodePathOptions;
  if (Object.values(rest).some((value) => value !== undefined)) return undefined;
  const sorted = (list?: string[]) => [...(list ?? [])].sort();
  return JSON.stringify([
    cwd,
    sorted(extraIncludePaths),
    sorted(extraIncludePackages),
    sorted(extraExcludePackages),
  ]);
}

/** `compute` answering each distinct set of options once; a failed answer is not kept. */
export function codePathsOnce(compute: ComputeCodePaths): ComputeCodePaths {
  const answers = new Map<string, Promise<CodePaths>>();
  return async (...args) => {
    const key = args.length <= 1 ? keyOf(args[0], process.cwd()) : undefined;
    if (key === undefined) return (compute as (...a: unknown[]) => Promise<CodePaths>)(...args);
    let answer = answers.get(key);
    if (!answer) {
      answer = compute(args[0]);
      answers.set(key, answer);
      answer.catch(() => answers.delete(key));
    }
    return new Map(await answer);
  };
}

const INSTALLED = Symbol.for("transient-jobs.codePathsOnce");

/** Replaces `runtime.computeCodePaths` with {@link codePathsOnce} of itself, once. */
export function computeCodePathsOnce(runtime: CodePathsRuntime): boolean {
  const current = runtime.computeCodePaths as ComputeCodePaths & { [INSTALLED]?: true };
  if (current[INSTALLED]) return false;
  runtime.computeCodePaths = Object.assign(codePathsOnce(current.bind(runtime)), {
    [INSTALLED]: true as const,
  });
  return true;
}
