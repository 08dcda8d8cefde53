/**
 * The program's naming scheme and the names AWS accepts. Pure: the components name their children
 * with these functions, config validation computes from them the names a config would produce,
 * and the offline engine checks every declared name against {@link NAME_RULES}, so the three can
 * never disagree.
 */

import { IMAGE_BUILD_TYPE } from "./codeBuild";

/**
 * Pulumi auto-names a resource that has no explicit name as its logical name, "-" and 7 random
 * hex characters (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming). The
 * AWS provider passes that name to AWS unchanged, except where {@link NameRule.lowercase} says so.
 */
export const AUTONAME_RANDOM_HEX_LENGTH = 7;

/** Characters Pulumi adds to a logical name when it auto-names: "-" and the random hex. */
export const AUTONAME_SUFFIX_LENGTH = 1 + AUTONAME_RANDOM_HEX_LENGTH;

/** What AWS accepts as the physical name of one resource type. */
export interface NameRule {
  /** The input that holds the physical name, e.g. `name`, `bucket`, `dashboardName`. */
  field: string;
  /** What AWS calls the name, for messages, e.g. `IAM role name`. */
  what: string;
  minLength: number;
  maxLength: number;
  /** The characters and shape AWS accepts, beyond the length. */
  pattern: RegExp;
  /** {@link pattern} in words, for messages. */
  charset: string;
  /** `true` where the provider lowercases the auto-name (S3 buckets). */
  lowercase?: boolean;
  /** Where AWS documents the rule. */
  doc: string;
}

/** A resource type whose AWS resource has no name of ours (an id, a key or a sub-resource). */
export interface Unnamed {
  /** Why nothing needs checking. */
  unnamed: string;
}

const iamName = /^[\w+=,.@-]+$/;
const IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html";
const subResource = (of: string): Unnamed => ({
  unnamed: `configures ${of}; AWS identifies it by that resource, not by a name`,
});

/**
 * AWS's name rules for every resource type the programs declare (`index.ts` and `deploy/`). The
 * offline engine refuses a type that has no entry, so a new type cannot slip past the check.
 */
export const NAME_RULES: Readonly<Record<string, NameRule | Unnamed>> = {
  "aws:iam/role:Role": {
    field: "name",
    what: "IAM role name",
    minLength: 1,
    maxLength: 64,
    pattern: iamName,
    charset: "letters, digits and +=,.@_-",
    doc: IAM_QUOTAS,
  },
  // Inline policy names: any ASCII but \ / * ? and space, at most 128 characters.
  "aws:iam/rolePolicy:RolePolicy": {
    field: "name",
    what: "IAM inline policy name",
    minLength: 1,
    maxLength: 128,
    pattern: /^[\x21-\x7e]+$/,
    charset: "printable ASCII without \\ / * ? or space",
    doc: IAM_QUOTAS,
  },
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": subResource("a role"),
  "aws:iam/policy:Policy": {
    field: "name",
    what: "IAM policy name",
    minLength: 1,
    maxLength: 128,
    pattern: iamName,
    charset: "letters, digits and +=,.@_-",
    doc: IAM_QUOTAS,
  },
  "aws:iam/instanceProfile:InstanceProfile": {
    field: "name",
    what: "IAM instance profile name",
    minLength: 1,
    maxLength: 128,
    pattern: iamName,
    charset: "letters, digits and +=,.@_-",
    doc: IAM_QUOTAS,
  },
  "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
    unnamed: "identified by its issuer URL, which the program sets",
  },
  "aws:lambda/function:Function": {
    field: "name",
    what: "Lambda function name",
    minLength: 1,
    maxLength: 64,
    pattern: /^[A-Za-z0-9_-]+$/,
    charset: "letters, digits, - and _",
    doc: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#lambda-CreateFunction-request-FunctionName",
  },
  "aws:scheduler/schedule:Schedule": {
    field: "name",
    what: "EventBridge Scheduler schedule name",
    minLength: 1,
    maxLength: 64,
    pattern: /^[0-9A-Za-z_.-]+$/,
    charset: "letters, digits and -_.",
    doc: "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html#scheduler-CreateSchedule-request-Name",
  },
  "aws:scheduler/scheduleGroup:ScheduleGroup": {
    field: "name",
    what: "EventBridge Scheduler schedule group name",
    minLength: 1,
    maxLength: 64,
    pattern: /^[0-9A-Za-z_.-]+$/,
    charset: "letters, digits and -_.",
    doc: "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateScheduleGroup.html#scheduler-CreateScheduleGroup-request-Name",
  },
  "aws:sqs/queue:Queue": {
    field: "name",
    what: "SQS queue name",
    minLength: 1,
    maxLength: 80,
    pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/,
    charset: "letters, digits, - and _ (and .fifo at the end)",
    doc: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html#API_CreateQueue_RequestParameters",
  },
  "aws:sns/topic:Topic": {
    field: "name",
    what: "SNS topic name",
    minLength: 1,
    maxLength: 256,
    pattern: /^[A-Za-z0-9_-]+(\.fifo)?$/,
    charset: "letters, digits, - and _ (and .fifo at the end)",
    doc: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html#API_CreateTopic_RequestParameters",
  },
  "aws:sns/topicPolicy:TopicPolicy": subResource("a topic"),
  "aws:sns/topicSubscription:TopicSubscription": {
    unnamed: "identified by the ARN SNS assigns",
  },
  // The provider lowercases the auto-name of a bucket (pulumi/pulumi-aws provider/resources.go,
  // `AutoNameTransform("bucket", 63, strings.ToLower)`), because S3 refuses capitals.
  "aws:s3/bucket:Bucket": {
    field: "bucket",
    what: "S3 bucket name",
    minLength: 3,
    maxLength: 63,
    pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    charset: "lowercase letters, digits, . and -, starting and ending with a letter or digit",
    lowercase: true,
    doc: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  "aws:s3/bucketPolicy:BucketPolicy": subResource("a bucket"),
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": subResource("a bucket"),
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": subResource("a bucket"),
  "aws:s3/bucketVersioning:BucketVersioning": subResource("a bucket"),
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
    subResource("a bucket"),
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": subResource("a bucket"),
  "aws:ecr/repository:Repository": {
    field: "name",
    what: "ECR repository name",
    minLength: 2,
    maxLength: 256,
    pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
    charset: 'lowercase letters and digits, separated by single ".", "_", "-" or "/"',
    doc: "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html#ECR-CreateRepository-request-repositoryName",
  },
  "aws:ecr/lifecyclePolicy:LifecyclePolicy": subResource("a repository"),
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": subResource("a function"),
  // A remote component: awsx builds and pushes an image into the repository, creating nothing
  // that has a name of its own.
  "awsx:ecr:Image": { unnamed: "pushes an image (by digest) into a repository" },
  "aws:codebuild/project:Project": {
    field: "name",
    what: "CodeBuild project name",
    minLength: 2,
    maxLength: 255,
    pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$/,
    charset: "letters, digits, - and _, starting with a letter or digit",
    doc: "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html#CodeBuild-CreateProject-request-name",
  },
  "aws:s3/bucketObjectv2:BucketObjectv2": {
    unnamed: "an object of a bucket: its key is the content hash the program computes",
  },
  // A dynamic resource: it starts a build in a project and records the digest it pushed.
  [IMAGE_BUILD_TYPE]: {
    unnamed: "a build of a project, identified by the build id CodeBuild assigns",
  },
  "aws:cloudwatch/logGroup:LogGroup": {
    field: "name",
    what: "CloudWatch Logs log group name",
    minLength: 1,
    maxLength: 512,
    pattern: /^[.\-_/#A-Za-z0-9]+$/,
    charset: "letters, digits and ._-/#",
    doc: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html#CWL-CreateLogGroup-request-logGroupName",
  },
  "aws:cloudwatch/metricAlarm:MetricAlarm": {
    field: "name",
    what: "CloudWatch alarm name",
    minLength: 1,
    maxLength: 255,
    pattern: /^\P{Cc}+$/u,
    charset: "no control characters",
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html#API_PutMetricAlarm_RequestParameters",
  },
  "aws:cloudwatch/dashboard:Dashboard": {
    field: "dashboardName",
    what: "CloudWatch dashboard name",
    minLength: 1,
    maxLength: 255,
    pattern: /^[A-Za-z0-9_-]+$/,
    charset: "letters, digits, - and _",
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html#API_PutDashboard_RequestParameters",
  },
  "aws:ec2/launchTemplate:LaunchTemplate": {
    field: "name",
    what: "EC2 launch template name",
    minLength: 3,
    maxLength: 128,
    pattern: /^[A-Za-z0-9().\-/_]+$/,
    charset: "letters, digits and ().-/_",
    doc: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html#API_CreateLaunchTemplate_RequestParameters",
  },
  // Group names may not start with "sg-", the prefix of the ids EC2 assigns.
  "aws:ec2/securityGroup:SecurityGroup": {
    field: "name",
    what: "EC2 security group name",
    minLength: 1,
    maxLength: 255,
    pattern: /^(?!sg-)[\x20-\x7e]+$/,
    charset: 'printable ASCII, not starting with "sg-"',
    doc: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html#API_CreateSecurityGroup_RequestParameters",
  },
  "aws:cloudwatch/eventRule:EventRule": {
    field: "name",
    what: "EventBridge rule name",
    minLength: 1,
    maxLength: 64,
    pattern: /^[.\-_A-Za-z0-9]+$/,
    charset: "letters, digits and .-_",
    doc: "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html#eventbridge-PutRule-request-Name",
  },
  "aws:cloudwatch/eventTarget:EventTarget": {
    unnamed: "a target of a rule; the provider generates its target id",
  },
  "aws:lambda/permission:Permission": {
    unnamed: "a statement of a function's resource policy; the provider generates its statement id",
  },
  "aws:sqs/queuePolicy:QueuePolicy": subResource("a queue"),
  "aws:kms/key:Key": { unnamed: "identified by the key id KMS assigns; its alias is the name" },
  "aws:kms/alias:Alias": {
    field: "name",
    what: "KMS alias name",
    minLength: 7,
    maxLength: 256,
    pattern: /^alias\/(?!aws\/)[A-Za-z0-9/_-]+$/,
    charset: '"alias/" then letters, digits and /_- (not "alias/aws/")',
    doc: "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html#KMS-CreateAlias-request-AliasName",
  },
  "pulumiservice:index:DeploymentSettings": {
    unnamed: "settings of a Pulumi Cloud stack, identified by the stack",
  },
};

/** The name rule of `type`, or `undefined` if the type has no name (or no entry: see {@link NAME_RULES}). */
export function nameRuleOf(type: string): NameRule | undefined {
  const entry = NAME_RULES[type];
  return entry && "field" in entry ? entry : undefined;
}

/**
 * The physical name Pulumi gives a resource: the explicit name if the program sets one, else the
 * logical name, "-" and `randomHex` (lowercased where the provider lowercases it).
 */
export function physicalName(
  rule: NameRule,
  logicalName: string,
  explicitName: string | undefined,
  randomHex: string,
): string {
  if (explicitName !== undefined) return explicitName;
  const name = `${logicalName}-${randomHex}`;
  return rule.lowercase ? name.toLowerCase() : name;
}

/** Why AWS would refuse `name` under `rule`, or `undefined` if it fits. */
export function nameProblem(rule: NameRule, name: string): string | undefined {
  if (name.length > rule.maxLength || name.length < rule.minLength) {
    const bound =
      name.length > rule.maxLength ? `at most ${rule.maxLength}` : `at least ${rule.minLength}`;
    return `is ${name.length} characters; AWS allows ${bound} (${rule.what}, ${rule.doc})`;
  }
  if (!rule.pattern.test(name)) {
    return `is not a valid ${rule.what}: use ${rule.charset} (${rule.doc})`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The naming scheme. Child names are identity (renaming one replaces the resource), so every
// component takes its children's names from here.
// ---------------------------------------------------------------------------------------------

/** Name of one region's {@link RegionalJobStack}: IAM is global, so names carry the region. */
export function regionalStackName(environment: string, region: string): string {
  return `tj-${environment}-${region}`;
}

/** Name of the environment's global components (the dashboard). */
export function environmentComponentName(environment: string): string {
  return `tj-${environment}`;
}

/** The name of the environment's CloudWatch dashboard (set explicitly: it is global). */
export function dashboardName(environment: string): string {
  return `transient-jobs-${environment}`;
}

/** Name of the image a job builds, shared by jobs with the same context and architecture. */
export function imageKey(context: string, architecture: string): string {
  const slug = context
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .toLowerCase();
  return `${slug}-${architecture === "arm64" ? "arm64" : "amd64"}`;
}

/** Names of the children of a `JobsDashboard` called `name`. */
export function jobsDashboardNames(name: string) {
  return { dashboard: `${name}-dashboard` };
}

/** Names of the children of a `RegionalJobStack` called `name`. */
export function regionalJobStackNames(name: string) {
  return {
    securityGroup: `${name}-sg`,
    results: `${name}-results`,
    notifications: `${name}-notifications`,
    launcher: `${name}-launcher`,
    reaper: `${name}-reaper`,
    supervisor: `${name}-supervisor`,
    alarms: `${name}-alarms`,
    image: (imageKey: string) => `${name}-${imageKey}`,
    job: (job: string) => `${name}-${job}`,
  };
}

/** Names of the children of a `ResultsBucket` called `name`. */
export function resultsBucketNames(name: string) {
  return { bucket: name };
}

/** Names of the children of a `JobImage` called `name`. */
export function jobImageNames(name: string) {
  return { repository: `${name}-repo`, lifecycle: `${name}-lifecycle`, image: `${name}-image` };
}

/**
 * Names of the children of a `CodeBuildImage` called `name` (the name of its `JobImage`): short
 * suffixes, since the source bucket's name has 63 characters at most.
 */
export function codeBuildImageNames(name: string) {
  return {
    sources: `${name}-src`,
    source: `${name}-context`,
    logs: `${name}-build-logs`,
    // No longer than a job's `-instance-role`: a stack name config allows leaves room for both.
    role: `${name}-build`,
    policy: `${name}-build`,
    project: `${name}-build`,
    build: `${name}-image`,
  };
}

/** Names of the children of a `RunNotifications` called `name`. */
export function notificationsNames(name: string) {
  return {
    key: `${name}-key`,
    alias: `${name}-key`,
    aliasName: `alias/${name}`,
    topic: `${name}-topic`,
  };
}

/** Names of a Lambda function's children: its log group, role, role policy and the function. */
export function functionChildNames(name: string) {
  return {
    logs: `${name}-logs`,
    role: `${name}-role`,
    policy: `${name}-policy`,
    function: `${name}-fn`,
  };
}

/** Names of the children of a `Launcher` called `name`. */
export function launcherNames(name: string) {
  return {
    ...functionChildNames(name),
    failureQueue: `${name}-failed`,
    asyncInvokeConfig: `${name}-async`,
  };
}

/** Names of the children of a `Reaper` called `name`. */
export function reaperNames(name: string) {
  return {
    ...functionChildNames(name),
    invokeRole: `${name}-invoke`,
    invokePolicy: `${name}-invoke`,
    schedule: `${name}-schedule`,
  };
}

/** Names of the children of a `RunSupervisor` called `name`. */
export function runSupervisorNames(name: string) {
  return {
    ...functionChildNames(name),
    /** The group of the next attempts' one-time schedules. */
    scheduleGroup: `${name}-retries`,
    invokeRole: `${name}-invoke`,
    invokePolicy: `${name}-invoke`,
    /** Where EventBridge puts an event it could not deliver to the function. */
    deadLetterQueue: `${name}-dlq`,
    deadLetterPolicy: `${name}-dlq`,
    /** One rule, target and permission per supervised event (`SUPERVISOR_EVENT_PATTERNS`). */
    rule: (event: string) => `${name}-${event}`,
    target: (event: string) => `${name}-${event}`,
    permission: (event: string) => `${name}-${event}`,
  };
}

/** Names of the children of a `ScheduledJob` called `name`. */
export function scheduledJobNames(name: string) {
  return { logs: `${name}-logs`, instance: `${name}-instance`, template: name, schedule: name };
}

/** Names of the children of a `JobInstanceProfile` called `name`. */
export function jobInstanceProfileNames(name: string) {
  return {
    role: `${name}-role`,
    policy: `${name}-policy`,
    profile: `${name}-profile`,
    /** The job's own statements (`policies.statements`). */
    ownPolicy: `${name}-own-policy`,
    /** The attachment of the job's `index`th managed policy. */
    managed: (index: number) => `${name}-managed-${index}`,
  };
}

/** Names of the children of a `JobLaunchTemplate` called `name`. */
export function jobLaunchTemplateNames(name: string) {
  return { template: `${name}-template` };
}

/** Names of the children of a `JobSchedule` called `name`. */
export function jobScheduleNames(name: string) {
  return {
    deadLetterQueue: `${name}-dlq`,
    invokeRole: `${name}-invoke`,
    invokePolicy: `${name}-invoke`,
    schedule: `${name}-schedule`,
  };
}

/** The keys of the events the run supervisor's rules match (launcher/supervisor.ts). */
export const SUPERVISED_EVENT_KEYS = ["interruption", "terminated"] as const;

/** Keys of a region's alarms that do not belong to a job. */
export const REGION_ALARM_KEYS = {
  launcherErrors: "launcher-errors",
  launcherFailedEvents: "launcher-failed-events",
  overDeadline: "over-deadline",
};

/** Keys of a job's alarms in its region. */
export function jobAlarmKeys(job: string) {
  return {
    failed: `${job}-failed`,
    deadLetters: `${job}-dead-letters`,
    missedRun: `${job}-missed-run`,
    memory: `${job}-memory`,
    interruptions: `${job}-interruptions`,
  };
}

/** Name of the alarm `key` of a `RegionalAlarms` called `name`. */
export function alarmName(name: string, key: string): string {
  return `${name}-${key}`;
}

// ---------------------------------------------------------------------------------------------
// What a config produces
// ---------------------------------------------------------------------------------------------

/** One resource that carries a physical name: its type, logical name and explicit name if any. */
export interface NamedResource {
  type: string;
  logicalName: string;
  explicitName?: string;
}

const T = {
  role: "aws:iam/role:Role",
  policy: "aws:iam/rolePolicy:RolePolicy",
  profile: "aws:iam/instanceProfile:InstanceProfile",
  fn: "aws:lambda/function:Function",
  logs: "aws:cloudwatch/logGroup:LogGroup",
  schedule: "aws:scheduler/schedule:Schedule",
  queue: "aws:sqs/queue:Queue",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
} as const;

const functionNames = (names: ReturnType<typeof functionChildNames>): NamedResource[] => [
  { type: T.logs, logicalName: names.logs },
  { type: T.role, logicalName: names.role },
  { type: T.policy, logicalName: names.policy },
  { type: T.fn, logicalName: names.function },
];

/** The named resources of a region that do not depend on its jobs. */
export function regionSharedNames(environment: string, region: string): NamedResource[] {
  const stack = regionalStackName(environment, region);
  const children = regionalJobStackNames(stack);
  const notifications = notificationsNames(children.notifications);
  const reaper = reaperNames(children.reaper);
  const supervisor = runSupervisorNames(children.supervisor);
  const alarms = Object.values(REGION_ALARM_KEYS).map((key) => ({
    type: T.alarm,
    logicalName: alarmName(children.alarms, key),
  }));
  return [
    { type: "aws:ec2/securityGroup:SecurityGroup", logicalName: children.securityGroup },
    { type: "aws:s3/bucket:Bucket", logicalName: resultsBucketNames(children.results).bucket },
    {
      type: "aws:kms/alias:Alias",
      logicalName: notifications.alias,
      explicitName: notifications.aliasName,
    },
    { type: "aws:sns/topic:Topic", logicalName: notifications.topic },
    ...functionNames(launcherNames(children.launcher)),
    { type: T.queue, logicalName: launcherNames(children.launcher).failureQueue },
    ...functionNames(reaper),
    { type: T.role, logicalName: reaper.invokeRole },
    { type: T.policy, logicalName: reaper.invokePolicy },
    { type: T.schedule, logicalName: reaper.schedule },
    ...functionNames(supervisor),
    { type: "aws:scheduler/scheduleGroup:ScheduleGroup", logicalName: supervisor.scheduleGroup },
    { type: T.role, logicalName: supervisor.invokeRole },
    { type: T.policy, logicalName: supervisor.invokePolicy },
    { type: T.queue, logicalName: supervisor.deadLetterQueue },
    ...SUPERVISED_EVENT_KEYS.map((event) => ({
      type: "aws:cloudwatch/eventRule:EventRule",
      logicalName: supervisor.rule(event),
    })),
    ...alarms,
  ];
}

/** The named resources of one job in one region (alarms included). */
export function jobNames(environment: string, region: string, job: string): NamedResource[] {
  const children = regionalJobStackNames(regionalStackName(environment, region));
  const scheduled = scheduledJobNames(children.job(job));
  const identity = jobInstanceProfileNames(scheduled.instance);
  const schedule = jobScheduleNames(scheduled.schedule);
  return [
    { type: T.logs, logicalName: scheduled.logs },
    { type: T.role, logicalName: identity.role },
    { type: T.policy, logicalName: identity.policy },
    { type: T.profile, logicalName: identity.profile },
    {
      type: "aws:ec2/launchTemplate:LaunchTemplate",
      logicalName: jobLaunchTemplateNames(scheduled.template).template,
    },
    { type: T.queue, logicalName: schedule.deadLetterQueue },
    { type: T.role, logicalName: schedule.invokeRole },
    { type: T.policy, logicalName: schedule.invokePolicy },
    { type: T.schedule, logicalName: schedule.schedule },
    ...Object.values(jobAlarmKeys(job)).map((key) => ({
      type: T.alarm,
      logicalName: alarmName(children.alarms, key),
    })),
  ];
}

/**
 * The named resources of one image (build context and architecture) in one region: its
 * repository, and with the `codebuild` builder its source bucket, build role and project.
 */
export function imageNames(
  environment: string,
  region: string,
  imageKey: string,
  builder: "docker" | "codebuild" = "docker",
): NamedResource[] {
  const image = regionalJobStackNames(regionalStackName(environment, region)).image(imageKey);
  const repository = {
    type: "aws:ecr/repository:Repository",
    logicalName: jobImageNames(image).repository,
  };
  if (builder === "docker") return [repository];
  const build = codeBuildImageNames(image);
  return [
    repository,
    { type: "aws:s3/bucket:Bucket", logicalName: resultsBucketNames(build.sources).bucket },
    { type: T.logs, logicalName: build.logs },
    { type: T.role, logicalName: build.role },
    { type: T.policy, logicalName: build.policy },
    { type: "aws:codebuild/project:Project", logicalName: build.project },
  ];
}

/** The environment's global named resources. */
export function environmentNames(environment: string): NamedResource[] {
  return [
    {
      type: "aws:cloudwatch/dashboard:Dashboard",
      logicalName: jobsDashboardNames(environmentComponentName(environment)).dashboard,
      explicitName: dashboardName(environment),
    },
  ];
}

/** A name AWS would refuse: the resource, the name it would get, and why. */
export interface NameViolation {
  resource: NamedResource;
  rule: NameRule;
  /** The physical name, with a placeholder of the auto-name's length for the random part. */
  name: string;
  problem: string;
}

/**
 * The names among `resources` AWS would refuse. Auto-names are measured with a suffix of the
 * length Pulumi adds, so a name that passes here fits whatever the random characters turn out.
 */
export function nameViolations(resources: NamedResource[]): NameViolation[] {
  const violations: NameViolation[] = [];
  for (const resource of resources) {
    const rule = nameRuleOf(resource.type);
    if (!rule) continue;
    const name = physicalName(
      rule,
      resource.logicalName,
      resource.explicitName,
      "0".repeat(AUTONAME_RANDOM_HEX_LENGTH),
    );
    const problem = nameProblem(rule, name);
    if (problem) violations.push({ resource, rule, name, problem });
  }
  return violations;
}
