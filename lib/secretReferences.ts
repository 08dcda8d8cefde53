/**
 * References to a job's secrets: where the instance reads each value at run time. A reference is
 * never the value, so it may appear in config, user data, the launcher and the plan; the value
 * exists only on the instance, between the read and the container's start.
 */

/** A parsed secret reference. */
export type SecretReference =
  | {
      /** A Parameter Store parameter of the run's region (String or SecureString). */
      kind: "ssm";
      /** Its fully qualified name, e.g. `/backup/db-password`. */
      name: string;
    }
  | {
      /** A Secrets Manager secret. */
      kind: "secretsmanager";
      /** Its name, or its full ARN (any region and account). */
      secretId: string;
      /** The region and account of an ARN reference; the run's own for a name. */
      region?: string;
      accountId?: string;
      /** The key to take from a secret whose value is a JSON object. */
      jsonKey?: string;
    };

/** The forms a reference may take, for error messages and docs. */
export const SECRET_REFERENCE_RULE =
  "ssm:/<parameter path>, secretsmanager:<secret name>[#<json key>] or a Secrets Manager secret ARN arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>[#<json key>]";

// Parameter names: letters, digits and . - _ /, fully qualified with a leading "/", at most 1011
// characters (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html).
const SSM_NAME = /^\/[A-Za-z0-9_.\-/]{1,1010}$/;
// Secret names: 1-512 of letters, digits and /_+=.@- (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
// An ARN ends in the name, "-" and the six random characters Secrets Manager adds.
const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6})$/;
/** JSON keys: plain words, so the key can be named on the instance's command line. */
const JSON_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

/** The reference, or a sentence saying what is wrong with it. */
export function parseSecretReference(text: string): SecretReference | string {
  if (text.startsWith("ssm:")) {
    const name = text.slice(4);
    if (name.includes("//") || name.endsWith("/") || !SSM_NAME.test(name)) {
      return `is not a Parameter Store reference: use ssm:/<path>/<name> (a fully qualified parameter name: letters, digits and . - _ /, starting with "/")`;
    }
    return { kind: "ssm", name };
  }
  const hash = text.indexOf("#");
  const target = hash < 0 ? text : text.slice(0, hash);
  const jsonKey = hash < 0 ? undefined : text.slice(hash + 1);
  if (jsonKey !== undefined && !JSON_KEY.test(jsonKey)) {
    return `has an invalid JSON key ${JSON.stringify(jsonKey)}: use 1-128 letters, digits, "_", "." or "-"`;
  }
  const arn = SECRET_ARN.exec(target);
  if (arn) {
    return { kind: "secretsmanager", secretId: target, region: arn[1], accountId: arn[2], jsonKey };
  }
  if (target.startsWith("secretsmanager:")) {
    const name = target.slice("secretsmanager:".length);
    if (!SECRET_NAME.test(name) || name.startsWith("arn:")) {
      return `is not a Secrets Manager reference: use secretsmanager:<name> (1-512 letters, digits and /_+=.@-) or the secret's full ARN`;
    }
    return { kind: "secretsmanager", secretId: name, jsonKey };
  }
  return `is not a secret reference: use ${SECRET_REFERENCE_RULE}`;
}

/** Where an IAM policy names a reference's resource. */
export interface SecretScope {
  partition: string;
  /** The run's region and account: a name reference's secret lives there. */
  region: string;
  accountId: string;
}

/**
 * The ARN IAM matches for a reference. A Secrets Manager name matches its ARN only with the six
 * random characters Secrets Manager appends, hence `-??????`: exactly one more "-" and six
 * characters, so `db` does not also match `db-old-123456`
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html).
 */
export function secretResourceArn(reference: SecretReference, scope: SecretScope): string {
  const { partition, region, accountId } = scope;
  if (reference.kind === "ssm") {
    // A fully qualified name's ARN drops its leading "/" after "parameter".
    return `arn:${partition}:ssm:${region}:${accountId}:parameter${reference.name}`;
  }
  if (reference.region !== undefined) return reference.secretId;
  return `arn:${partition}:secretsmanager:${region}:${accountId}:secret:${reference.secretId}-??????`;
}

/** The region a reference is read in: an ARN's own, otherwise the run's. */
export function secretRegion(reference: SecretReference, runRegion: string): string {
  return reference.kind === "secretsmanager" && reference.region ? reference.region : runRegion;
}
