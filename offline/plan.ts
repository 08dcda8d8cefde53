/**
 * `npm run plan -- <stack> [--now ISO-TIME]`: evaluates the program offline under Pulumi's mocks
 * and prints, per region and job, the resources `pulumi up` would create and the next 3 runs.
 * Nothing is deployed and no AWS account is needed.
 */
import { HELP, parsePlanArgs, UsageError } from "./planArgs";

async function main(): Promise<void> {
  // The command line first: a usage error (or the help) without loading Pulumi and the program.
  const options = parsePlanArgs(process.argv.slice(2));
  if (options === "help") return console.log(HELP);
  const { planFor } = await import("./planOutput");
  console.log(await planFor(options));
}

/** Errors that are the user's (command line, stack file, config) or `pulumi up`'s refusal. */
async function isKnown(error: unknown): Promise<boolean> {
  if (error instanceof UsageError) return true;
  const [{ StackConfigError }, { StackFileError }, pulumi] = await Promise.all([
    import("../config"),
    import("./engine"),
    import("@pulumi/pulumi"),
  ]);
  // A ResourceError is what `pulumi up` would stop with (e.g. a type EC2 offers nowhere there).
  return (
    error instanceof StackConfigError ||
    error instanceof StackFileError ||
    error instanceof pulumi.ResourceError
  );
}

if (require.main === module) {
  main().catch(async (error: unknown) => {
    const known = await isKnown(error);
    console.error(known ? (error as Error).message : error);
    process.exit(known ? 2 : 1);
  });
}
