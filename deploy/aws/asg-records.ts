/**
 * What the provider reads from the Auto Scaling and EC2 APIs, validated record by record: a group or instance whose
 * record is malformed (a field missing, a launch time that is no date) is skipped and named in `problems`, never
 * allowed to crash the provider or to bill from garbage. Only the fields the provider uses are checked.
 */
import { z } from 'zod';
import { formatZodIssues } from '../../common/zod-issues';

const asgInstanceSchema = z.object({
  InstanceId: z.string().regex(/^i-[0-9a-f]+$/, 'expected an EC2 instance id (i-...)'),
  /** Pending, Pending:Wait, InService, Terminating:Wait, Terminating:Proceed, Standby, ... */
  LifecycleState: z.string().min(1),
  InstanceType: z.string().min(1).optional(),
});

const groupSchema = z.object({
  AutoScalingGroupName: z.string().min(1),
  MinSize: z.number().int().nonnegative(),
  MaxSize: z.number().int().nonnegative(),
  DesiredCapacity: z.number().int().nonnegative(),
  Instances: z.array(z.unknown()).default([]),
});

const ec2InstanceSchema = z.object({
  InstanceId: z.string().regex(/^i-[0-9a-f]+$/, 'expected an EC2 instance id (i-...)'),
  InstanceType: z.string().min(1),
  /** A Date from the SDK (an invalid one is refused too). */
  LaunchTime: z.date(),
  /** pending, running, shutting-down, terminated, stopping, stopped */
  State: z.object({ Name: z.string().min(1) }),
  /** e.g. `User initiated (2026-12-02 03:51:18 GMT)`: when the instance was stopped or terminated. */
  StateTransitionReason: z.string().optional(),
});

export type AsgInstanceRecord = z.infer<typeof asgInstanceSchema>;
export interface AsgGroupRecord extends Omit<z.infer<typeof groupSchema>, 'Instances'> {
  Instances: AsgInstanceRecord[];
}
export type Ec2InstanceRecord = z.infer<typeof ec2InstanceSchema>;

export interface Parsed<T> {
  records: T[];
  /** One line per record skipped, naming where it was and what is wrong. */
  problems: string[];
}

function describeIssues(error: z.ZodError, raw: unknown, where: string): string {
  return `${where}: ${formatZodIssues(error.issues, raw).join('; ')}`;
}

/** Groups of a DescribeAutoScalingGroups page; a malformed instance is dropped from its group, not the group. */
export function parseGroups(raw: unknown): Parsed<AsgGroupRecord> {
  const out: Parsed<AsgGroupRecord> = { records: [], problems: [] };
  if (!Array.isArray(raw)) {
    out.problems.push(`DescribeAutoScalingGroups: AutoScalingGroups is not a list (${typeof raw})`);
    return out;
  }
  raw.forEach((item, i) => {
    const g = groupSchema.safeParse(item);
    if (!g.success) {
      out.problems.push(describeIssues(g.error, item, `AutoScalingGroups[${i}]`));
      return;
    }
    const instances: AsgInstanceRecord[] = [];
    g.data.Instances.forEach((inst, j) => {
      const r = asgInstanceSchema.safeParse(inst);
      if (r.success) instances.push(r.data);
      else out.problems.push(describeIssues(r.error, inst, `group ${g.data.AutoScalingGroupName} Instances[${j}]`));
    });
    out.records.push({ ...g.data, Instances: instances });
  });
  return out;
}

/** Instances of a DescribeInstances page (its reservations flattened). */
export function parseEc2Instances(reservations: unknown): Parsed<Ec2InstanceRecord> {
  const out: Parsed<Ec2InstanceRecord> = { records: [], problems: [] };
  if (!Array.isArray(reservations)) {
    out.problems.push(`DescribeInstances: Reservations is not a list (${typeof reservations})`);
    return out;
  }
  reservations.forEach((res, i) => {
    const instances = (res as { Instances?: unknown } | null)?.Instances;
    if (!Array.isArray(instances)) {
      out.problems.push(`Reservations[${i}]: Instances is not a list`);
      return;
    }
    instances.forEach((inst, j) => {
      const r = ec2InstanceSchema.safeParse(inst);
      if (r.success) out.records.push(r.data);
      else out.problems.push(describeIssues(r.error, inst, `Reservations[${i}].Instances[${j}]`));
    });
  });
  return out;
}

/** EC2 states in which an instance no longer runs (and no longer bills compute). */
export const ENDED_EC2_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);

/**
 * When an ended instance ended, from its StateTransitionReason (`User initiated (2026-12-02 03:51:18 GMT)`; moto
 * writes `UTC`), if that time lies within [notBefore, notAfter]; else undefined (the caller uses when it saw the end).
 * The reason's time has one-second resolution: the real end, where the provider's own observation lags by a poll.
 */
export function endTimeFromReason(reason: string | undefined, notBefore: number, notAfter: number): number | undefined {
  const m = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)/.exec(reason ?? '');
  if (!m) return undefined;
  const at = Date.parse(`${m[1]}T${m[2]}Z`);
  // A second of slack below: the launch time and the reason are both truncated to the second.
  return Number.isFinite(at) && at >= notBefore - 1_000 && at <= notAfter ? Math.max(at, notBefore) : undefined;
}
