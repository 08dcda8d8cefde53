/**
 * The project's CrossGuard rules, as data and pure checks. `policy/index.ts` serves them as the
 * `transient-jobs` policy pack; the tests run the program's resources through them. Each check
 * takes a resource's type and properties and returns the violations, one message each, naming
 * the property, the bad value and the fix. Resource types are matched by their Pulumi type token,
 * so the pack needs no provider SDK.
 */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { BROAD_MANAGED_POLICY } from "../lib/iamRules";

/** A resource as a check sees it. */
export interface CheckedResource {
  type: string;
  props: Record<string, unknown>;
}

/** A check: the violations of one resource (empty when it complies). */
export type Check = (resource: CheckedResource) => string[];

const T = {
  bucket: ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"],
  bucketAcl: ["aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"],
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  instance: "aws:ec2/instance:Instance",
  volume: "aws:ebs/volume:Volume",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  iamPolicies: [
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
  ],
  role: "aws:iam/role:Role",
  attachments: [
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
  ],
} as const;

const PUBLIC_ACLS = ["public-read", "public-read-write", "authenticated-read"];
const PUBLIC_GRANTEES = /acs\.amazonaws\.com\/groups\/global\/(AllUsers|AuthenticatedUsers)/;
const ANYWHERE_V4 = "0.0.0.0/0";
const ANYWHERE_V6 = "::/0";
/** Condition keys that tie a wildcard principal to known callers, so a statement is not public. */
const PRINCIPAL_LIMITING_KEYS = [
  "aws:sourceaccount",
  "aws:sourcearn",
  "aws:sourceowner",
  "aws:sourcevpc",
  "aws:sourcevpce",
  "aws:principalaccount",
  "aws:principalarn",
  "aws:principalorgid",
  "aws:principalorgpaths",
  "aws:userid",
];
const list = <T>(value: T | T[] | undefined | null): T[] =>
  value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];

const isTrue = (value: unknown) => value === true || value === "true";

function is(type: string, types: string | readonly string[]): boolean {
  return typeof types === "string" ? type === types : types.includes(type);
}

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** The statements of a policy given as JSON text or an object; unreadable text is a violation. */
function statements(policy: unknown, where: string, problems: string[]): Statement[] {
  let document = policy;
  if (typeof policy === "string") {
    try {
      document = JSON.parse(policy);
    } catch {
      problems.push(`${where}: is not valid JSON, so it cannot be checked`);
      return [];
    }
  }
  if (typeof document !== "object" || document === null) return [];
  return list((document as { Statement?: Statement | Statement[] }).Statement);
}

function statementName(statement: Statement, index: number): string {
  return statement.Sid ? `statement ${JSON.stringify(statement.Sid)}` : `statement ${index}`;
}

/** True when the statement's principal is everyone (`*`, `{AWS: "*"}`) without a limiting key. */
function isPublicStatement(statement: Statement): boolean {
  const principal = statement.Principal;
  const everyone =
    principal === "*" ||
    (typeof principal === "object" &&
      principal !== null &&
      Object.values(principal as Record<string, unknown>).some((p) => list(p).includes("*")));
  if (!everyone) return false;
  const keys = Object.values(statement.Condition ?? {}).flatMap((block) =>
    Object.keys(block ?? {}).map((k) => k.toLowerCase()),
  );
  return !keys.some((k) => PRINCIPAL_LIMITING_KEYS.includes(k));
}

/** Rule "no public bucket": no public ACL or grant, no public bucket policy, a full block. */
export const noPublicBucket: Check = ({ type, props }) => {
  const problems: string[] = [];
  if (is(type, T.bucket) || is(type, T.bucketAcl)) {
    const acl = props.acl;
    if (typeof acl === "string" && PUBLIC_ACLS.includes(acl)) {
      problems.push(`acl: "${acl}" makes the bucket public; leave acl unset (private)`);
    }
    const grants = [
      ...list(props.grants as unknown[]),
      ...list((props.accessControlPolicy as { grants?: unknown[] } | undefined)?.grants),
    ];
    if (grants.some((g) => PUBLIC_GRANTEES.test(JSON.stringify(g)))) {
      problems.push("grants: a grant to AllUsers or AuthenticatedUsers makes the bucket public");
    }
  }
  if (is(type, T.bucket) && props.policy !== undefined) {
    statements(props.policy, "policy", problems).forEach((s, i) => {
      if (s.Effect === "Allow" && isPublicStatement(s)) {
        problems.push(`policy ${statementName(s, i)}: allows everyone ("*"); name the principals`);
      }
    });
  }
  if (is(type, T.bucketPolicy)) {
    statements(props.policy, "policy", problems).forEach((s, i) => {
      if (s.Effect === "Allow" && isPublicStatement(s)) {
        problems.push(`policy ${statementName(s, i)}: allows everyone ("*"); name the principals`);
      }
    });
  }
  if (is(type, T.publicAccessBlock)) {
    for (const flag of [
      "blockPublicAcls",
      "blockPublicPolicy",
      "ignorePublicAcls",
      "restrictPublicBuckets",
    ]) {
      if (props[flag] !== true) {
        problems.push(`${flag}: ${JSON.stringify(props[flag] ?? null)}; set it to true`);
      }
    }
  }
  return problems;
};

/** Rule "IMDSv2 required": launch templates and instances require session tokens. */
export const imdsV2Required: Check = ({ type, props }) => {
  if (!is(type, T.launchTemplate) && !is(type, T.instance)) return [];
  const options = (props.metadataOptions ?? {}) as Record<string, unknown>;
  if (options.httpEndpoint === "disabled" || options.httpTokens === "required") return [];
  return [
    `metadataOptions.httpTokens: ${JSON.stringify(options.httpTokens ?? null)} allows IMDSv1; set metadataOptions: { httpTokens: "required" }`,
  ];
};

/** Rule "encrypted volumes": every EBS volume declared, and encrypted. */
export const encryptedVolumes: Check = ({ type, props }) => {
  const problems: string[] = [];
  if (is(type, T.launchTemplate)) {
    const mappings = list(props.blockDeviceMappings as Array<{ ebs?: { encrypted?: unknown } }>);
    if (!mappings.some((m) => m.ebs)) {
      problems.push(
        'blockDeviceMappings: no EBS volume is declared, so the AMI\'s snapshot decides encryption; declare the root volume with ebs.encrypted: "true"',
      );
    }
    mappings.forEach((m, i) => {
      if (m.ebs && !isTrue(m.ebs.encrypted)) {
        problems.push(
          `blockDeviceMappings[${i}].ebs.encrypted: ${JSON.stringify(m.ebs.encrypted ?? null)}; set it to "true"`,
        );
      }
    });
  }
  if (is(type, T.instance)) {
    const root = props.rootBlockDevice as Record<string, unknown> | undefined;
    if (!root || !isTrue(root.encrypted)) {
      problems.push(
        `rootBlockDevice.encrypted: ${JSON.stringify(root?.encrypted ?? null)}; set rootBlockDevice: { encrypted: true }`,
      );
    }
    list(props.ebsBlockDevices as Array<Record<string, unknown>>).forEach((d, i) => {
      if (!isTrue(d.encrypted)) {
        problems.push(
          `ebsBlockDevices[${i}].encrypted: ${JSON.stringify(d.encrypted ?? null)}; set it to true`,
        );
      }
    });
  }
  if (is(type, T.volume) && !isTrue(props.encrypted)) {
    problems.push(`encrypted: ${JSON.stringify(props.encrypted ?? null)}; set it to true`);
  }
  return problems;
};

/** Rule "no SSH key": instances are reached by nobody; a key pair is a way in. */
export const noSshKey: Check = ({ type, props }) => {
  if (!is(type, T.launchTemplate) && !is(type, T.instance)) return [];
  return props.keyName
    ? [
        `keyName: ${JSON.stringify(props.keyName)} installs an SSH key; remove it (instances take no logins)`,
      ]
    : [];
};

/** The ingress rules a resource declares, as plain objects. */
function ingressRules({ type, props }: CheckedResource): Array<Record<string, unknown>> {
  if (is(type, T.securityGroup)) return list(props.ingress as Array<Record<string, unknown>>);
  if (is(type, T.securityGroupRule) && props.type === "ingress") return [props];
  if (is(type, T.ingressRule)) return [props];
  return [];
}

/** Rule "no inbound 0.0.0.0/0": no ingress from the whole internet, IPv4 or IPv6. */
export const noInboundFromAnywhere: Check = (resource) =>
  ingressRules(resource).flatMap((rule, i) => {
    const sources = [
      ...list(rule.cidrBlocks as string[]),
      ...list(rule.ipv6CidrBlocks as string[]),
      ...list(rule.cidrIpv4 as string),
      ...list(rule.cidrIpv6 as string),
    ].filter((c) => c === ANYWHERE_V4 || c === ANYWHERE_V6);
    return sources.map(
      (c) =>
        `ingress[${i}]: allows ${c} on ${rule.protocol ?? rule.ipProtocol ?? "?"} ${rule.fromPort ?? "?"}-${rule.toPort ?? "?"}; the job instances take no inbound traffic`,
    );
  });

/** Rule "no inbound ports": this project's security groups have no ingress at all. */
export const noInboundRules: Check = (resource) =>
  ingressRules(resource).length > 0
    ? [
        `ingress: ${ingressRules(resource).length} rule(s); job instances accept no inbound traffic (they pull work and push results), remove them`,
      ]
    : [];

/** Rule "no `*` actions": no Allow statement grants a wildcard action or uses NotAction. */
export const noWildcardActions: Check = ({ type, props }) => {
  const problems: string[] = [];
  const documents: Array<[string, unknown]> = [];
  if (is(type, T.iamPolicies) || is(type, T.bucketPolicy)) documents.push(["policy", props.policy]);
  if (is(type, T.role)) {
    list(props.inlinePolicies as Array<{ name?: string; policy?: unknown }>).forEach((p, i) =>
      documents.push([`inlinePolicies[${i}].policy`, p.policy]),
    );
  }
  for (const [where, policy] of documents) {
    statements(policy, where, problems).forEach((s, i) => {
      if (s.Effect !== "Allow") return;
      for (const action of list(s.Action)) {
        if (action.includes("*")) {
          problems.push(
            `${where} ${statementName(s, i)}: allows the wildcard action ${JSON.stringify(action)}; list the actions it needs`,
          );
        }
      }
      if (s.NotAction !== undefined) {
        problems.push(
          `${where} ${statementName(s, i)}: Allow with NotAction grants every other action; list the actions it needs`,
        );
      }
    });
  }
  return problems;
};

/** Rule "no broad managed policies": no AdministratorAccess, PowerUserAccess or *FullAccess. */
export const noBroadManagedPolicies: Check = ({ type, props }) => {
  const arns = is(type, T.attachments)
    ? list(props.policyArn as string)
    : is(type, T.role)
      ? list(props.managedPolicyArns as string[])
      : [];
  return arns
    .filter((arn) => BROAD_MANAGED_POLICY.test(arn))
    .map(
      (arn) =>
        `${is(type, T.role) ? "managedPolicyArns" : "policyArn"}: ${arn} is far broader than any role here needs; write a least-privilege policy in components/policies.ts (and give every CallbackFunction an explicit role)`,
    );
};

/** A resource policy of the pack, built from a check. */
function resourcePolicy(name: string, description: string, check: Check): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      for (const problem of check({ type: args.type, props: args.props })) {
        reportViolation(problem);
      }
    },
  };
}

/** The resource rules, in the order they are reported. */
export const RESOURCE_RULES: Array<{ name: string; description: string; check: Check }> = [
  {
    name: "s3-no-public-bucket",
    description:
      "S3 buckets are never public: no public ACL, grant or policy, and a full public access block.",
    check: noPublicBucket,
  },
  {
    name: "ec2-imdsv2-required",
    description: "Launch templates and instances require IMDSv2 (session tokens).",
    check: imdsV2Required,
  },
  {
    name: "ebs-encrypted-volumes",
    description: "Every EBS volume, root volumes included, is declared and encrypted.",
    check: encryptedVolumes,
  },
  {
    name: "ec2-no-ssh-key",
    description: "Launch templates and instances install no SSH key pair.",
    check: noSshKey,
  },
  {
    name: "ec2-no-inbound-from-anywhere",
    description: "No security group rule admits 0.0.0.0/0 or ::/0.",
    check: noInboundFromAnywhere,
  },
  {
    name: "ec2-no-inbound-rules",
    description: "The project's security groups have no inbound rules at all.",
    check: noInboundRules,
  },
  {
    name: "iam-no-wildcard-actions",
    description: "No IAM or bucket policy allows a `*` action or uses NotAction in an Allow.",
    check: noWildcardActions,
  },
  {
    name: "iam-no-broad-managed-policies",
    description:
      "No role gets AdministratorAccess, PowerUserAccess or a *FullAccess managed policy.",
    check: noBroadManagedPolicies,
  },
];

interface StackResource {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  propertyDependencies?: Record<string, Array<{ urn: string }>>;
}

/**
 * Stack rule: every bucket has a public access block, with all four flags set, that names it
 * (by property dependency, or by its id or name when dependencies are not known).
 */
export function bucketsWithoutPublicAccessBlock(resources: StackResource[]): string[] {
  const blocks = resources.filter((r) => r.type === T.publicAccessBlock);
  return resources
    .filter((r) => is(r.type, T.bucket))
    .filter((bucket) => {
      const names: unknown[] = [bucket.props.id, bucket.props.bucket].filter(
        (v) => typeof v === "string",
      );
      return !blocks.some(
        (block) =>
          (list(block.propertyDependencies?.bucket).some((d) => d.urn === bucket.urn) ||
            names.includes(block.props.bucket)) &&
          noPublicBucket({ type: block.type, props: block.props }).length === 0,
      );
    })
    .map(
      (bucket) =>
        `bucket ${bucket.name}: has no BucketPublicAccessBlock with all four flags true; add one (components/resultsBucket.ts does)`,
    );
}

/** The stack rules. */
export const STACK_POLICIES: StackValidationPolicy[] = [
  {
    name: "s3-buckets-block-public-access",
    description: "Every S3 bucket has a public access block with all four flags set.",
    enforcementLevel: "mandatory",
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
      for (const problem of bucketsWithoutPublicAccessBlock(
        args.resources as unknown as StackResource[],
      )) {
        reportViolation(problem);
      }
    },
  },
];

/** Every policy of the pack. */
export const POLICIES: Array<ResourceValidationPolicy | StackValidationPolicy> = [
  ...RESOURCE_RULES.map((r) => resourcePolicy(r.name, r.description, r.check)),
  ...STACK_POLICIES,
];
