/**
 * In-memory stand-ins of the services the run supervisor calls, behind aws-sdk-client-mock: an
 * S3 bucket that honours `If-None-Match: *` (412 when the key exists), a Scheduler that refuses a
 * second schedule of the same name (ConflictException), and an EC2 that describes a list of
 * instances by id or by tag filters.
 */
import {
  DescribeInstancesCommand,
  EC2Client,
  type DescribeInstancesCommandInput,
  type Instance,
} from "@aws-sdk/client-ec2";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateScheduleCommand,
  SchedulerClient,
  type CreateScheduleCommandInput,
} from "@aws-sdk/client-scheduler";
import {
  CloudWatchClient,
  PutMetricDataCommand,
  type MetricDatum,
} from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import type { RunRecord } from "../launcher/contract";

/**
 * An attempt record of run `pi-20261123T0300Z` as the init script writes it (the contract's
 * format), written by hand: a succeeded attempt 1 that ran 40 minutes; override any field.
 */
export function attemptRecordFixture(attempt: number, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: "pi-20261123T0300Z",
    job: "pi",
    environment: "dev",
    region: "eu-west-1",
    status: "succeeded",
    attempt,
    exitCode: 0,
    scheduledTime: "2026-11-23T03:00:00Z",
    startedAt: "2026-11-23T03:01:00Z",
    endedAt: "2026-11-23T03:41:00Z",
    ...fields,
  };
}

/** A service error as the SDK raises it. */
function serviceError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

export interface SupervisorFakes {
  clients: {
    ec2: EC2Client;
    s3: S3Client;
    scheduler: SchedulerClient;
    cloudwatch: CloudWatchClient;
    sns: SNSClient;
  };
  objects: Map<string, string>;
  instances: Instance[];
  schedules: CreateScheduleCommandInput[];
  /** Every metric put, in order. */
  metrics: () => MetricDatum[];
  /** Every notification published (subjects). */
  subjects: () => string[];
  reset(): void;
}

export function supervisorFakes(): SupervisorFakes {
  const clients = {
    ec2: new EC2Client({ region: "eu-west-1" }),
    s3: new S3Client({ region: "eu-west-1" }),
    scheduler: new SchedulerClient({ region: "eu-west-1" }),
    cloudwatch: new CloudWatchClient({ region: "eu-west-1" }),
    sns: new SNSClient({ region: "eu-west-1" }),
  };
  const ec2 = mockClient(clients.ec2);
  const s3 = mockClient(clients.s3);
  const scheduler = mockClient(clients.scheduler);
  const cloudwatch = mockClient(clients.cloudwatch);
  const sns = mockClient(clients.sns);
  const fakes: SupervisorFakes = {
    clients,
    objects: new Map(),
    instances: [],
    schedules: [],
    metrics: () =>
      cloudwatch
        .commandCalls(PutMetricDataCommand)
        .flatMap((c) => c.args[0].input.MetricData ?? []),
    subjects: () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input.Subject ?? ""),
    reset() {
      fakes.objects.clear();
      fakes.instances.splice(0);
      fakes.schedules.splice(0);
      for (const mock of [ec2, s3, scheduler, cloudwatch, sns]) mock.resetHistory();
    },
  };
  const key = (bucket?: string, k?: string) => `${bucket}/${k}`;
  s3.on(PutObjectCommand).callsFake(async (input) => {
    const at = key(input.Bucket, input.Key);
    if (input.IfNoneMatch === "*" && fakes.objects.has(at)) {
      throw serviceError(
        "PreconditionFailed",
        412,
        "At least one of the pre-conditions you specified did not hold",
      );
    }
    fakes.objects.set(at, String(input.Body));
    return {};
  });
  s3.on(GetObjectCommand).callsFake(async (input) => {
    const text = fakes.objects.get(key(input.Bucket, input.Key));
    if (text === undefined)
      throw serviceError("NoSuchKey", 404, "The specified key does not exist.");
    return { Body: { transformToString: async () => text } };
  });
  scheduler.on(CreateScheduleCommand).callsFake(async (input) => {
    if (fakes.schedules.some((s) => s.Name === input.Name && s.GroupName === input.GroupName)) {
      throw serviceError("ConflictException", 409, `Schedule ${input.Name} already exists.`);
    }
    fakes.schedules.push(input);
    return {
      ScheduleArn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/${input.GroupName}/${input.Name}`,
    };
  });
  ec2.on(DescribeInstancesCommand).callsFake(async (input: DescribeInstancesCommandInput) => {
    const matches = fakes.instances.filter((i) => {
      if (input.InstanceIds && !input.InstanceIds.includes(i.InstanceId ?? "")) return false;
      return (input.Filters ?? []).every((f) => {
        const tag = f.Name?.startsWith("tag:") ? f.Name.slice(4) : undefined;
        const value = i.Tags?.find((t) => t.Key === tag)?.Value;
        return value !== undefined && (f.Values ?? []).includes(value);
      });
    });
    if (input.InstanceIds && matches.length === 0) {
      throw serviceError("InvalidInstanceID.NotFound", 400, "The instance ID does not exist");
    }
    return { Reservations: matches.length > 0 ? [{ Instances: matches }] : [] };
  });
  cloudwatch.on(PutMetricDataCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: "m-1" });
  return fakes;
}
