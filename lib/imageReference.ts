/**
 * Container image references of images built elsewhere (`imageUri` in job config): which
 * registry serves them, whether they are pinned, and, for ECR, the repository a job's role must be
 * allowed to pull.
 */

/** A parsed image reference. */
export interface ImageReference {
  /** Registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com` or `public.ecr.aws`. */
  registry: string;
  /** Repository path within the registry. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`: the image content itself; a tag can be moved to other content. */
  digest?: string;
  /** A private ECR repository: its account and region (login and pull permissions). */
  ecr?: { accountId: string; region: string };
}

/** The forms an image reference may take, for error messages and docs. */
export const IMAGE_REFERENCE_RULE =
  "<registry host>/<repository>[:<tag>][@sha256:<digest>], with the registry named (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/job@sha256:…, public.ecr.aws/org/job:1.2, docker.io/library/python:3.12)";

// Docker's reference grammar: a host with a dot or a port, path components of lowercase
// alphanumerics joined by separators, an optional tag and digest
// (https://github.com/distribution/reference/blob/main/reference.go).
const IMAGE = new RegExp(
  "^([a-z0-9-]+(?:\\.[a-z0-9-]+)+(?::\\d{1,5})?)" +
    "\\/([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)" +
    "(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$",
);
/** Private ECR registries: `<account>.dkr.ecr.<region>.amazonaws.com` (`.cn` in China). */
const ECR_REGISTRY = /^(\d{12})\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** The reference, or undefined when it is not a fully qualified image reference. */
export function parseImageReference(text: string): ImageReference | undefined {
  const match = IMAGE.exec(text);
  if (!match || text.length > 512) return undefined;
  const [, registry, repository, tag, digest] = match;
  const ecr = ECR_REGISTRY.exec(registry);
  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    ...(ecr ? { ecr: { accountId: ecr[1], region: ecr[2] } } : {}),
  };
}

/** The ARN of a private ECR image's repository, for the pull permissions; none for others. */
export function ecrRepositoryArn(reference: ImageReference, partition: string): string | undefined {
  if (!reference.ecr) return undefined;
  const { accountId, region } = reference.ecr;
  return `arn:${partition}:ecr:${region}:${accountId}:repository/${reference.repository}`;
}
