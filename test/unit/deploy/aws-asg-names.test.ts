/**
 * The `aws.autoScaling` config section and the pool <-> group naming (deploy/aws/asg-names.ts), and the validation
 * of what the AWS APIs return (deploy/aws/asg-records.ts): malformed records are skipped and named, never thrown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import { groupNameOf, launchTemplateNameOf, poolOfGroup } from '../../../deploy/aws/asg-names';
import { endTimeFromReason, parseEc2Instances, parseGroups } from '../../../deploy/aws/asg-records';

const settings = (autoScaling: Record<string, unknown> = {}) => compileConfig({ aws: { autoScaling } }).aws.autoScaling;

describe('aws.autoScaling config', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a stage pattern without {stage}',
      { groupNamePattern: 'serflow-{model}' },
      /aws\.autoScaling\.groupNamePattern: must contain \{model\} and \{stage\}/,
    ],
    [
      'a whole-model pattern without {model}',
      { wholeModelGroupNamePattern: 'serflow-all' },
      /aws\.autoScaling\.wholeModelGroupNamePattern: must contain \{model\}/,
    ],
    [
      'a groups key that is no pool',
      { groups: { 'mnist-ee': 'g' } },
      /aws\.autoScaling\.groups.*expected a key <model>\/<stage> or <model>\/all/,
    ],
    ['stage 0 spelt as a number in groups', { groups: { 'mnist-ee/0': 'g' } }, /aws\.autoScaling\.groups/],
    ['a poll under a second', { pollIntervalMs: 500 }, /aws\.autoScaling\.pollIntervalMs/],
    ['a drain timeout under the hook minimum of 30 s', { drainTimeoutMs: 10_000 }, /aws\.autoScaling\.drainTimeoutMs/],
    ['an unknown key', { groupName: 'x' }, /aws\.autoScaling/],
  ];
  for (const [what, autoScaling, message] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => compileConfig({ aws: { autoScaling } }), { name: 'ConfigError', message });
    });
  }
});

describe('pool <-> group names', () => {
  test('stage pools and the whole-model pool follow their patterns, and read back', () => {
    const s = settings();
    assert.equal(groupNameOf(s, 'mnist-ee', 3), 'serflow-mnist-ee-s3');
    assert.equal(groupNameOf(s, 'mnist-ee', 0), 'serflow-mnist-ee-all');
    assert.equal(launchTemplateNameOf(s, 'mnist-ee', 0), 'serflow-mnist-ee-sall');
    assert.deepEqual(poolOfGroup(s, 'serflow-mnist-ee-s3'), { model: 'mnist-ee', stage: 3 });
    assert.deepEqual(poolOfGroup(s, 'serflow-mnist-ee-all'), { model: 'mnist-ee', stage: 0 });
    // a model whose name looks like a stage suffix still reads back whole
    assert.deepEqual(poolOfGroup(s, 'serflow-a-s1-s2'), { model: 'a-s1', stage: 2 });
    assert.equal(poolOfGroup(s, 'web-frontend'), undefined);
    assert.equal(poolOfGroup(s, 'serflow-mnist-ee-s0'), undefined);
  });

  test('an explicit group name wins, both ways, and its pattern name is then no pool', () => {
    const s = settings({ groups: { 'mnist-ee/1': 'prod-stage-one', 'mnist-ee/all': 'prod-whole' } });
    assert.equal(groupNameOf(s, 'mnist-ee', 1), 'prod-stage-one');
    assert.equal(groupNameOf(s, 'mnist-ee', 0), 'prod-whole');
    assert.deepEqual(poolOfGroup(s, 'prod-stage-one'), { model: 'mnist-ee', stage: 1 });
    assert.deepEqual(poolOfGroup(s, 'prod-whole'), { model: 'mnist-ee', stage: 0 });
    assert.equal(poolOfGroup(s, 'serflow-mnist-ee-s1'), undefined);
  });

  test('patterns with regular-expression characters match literally', () => {
    const s = settings({ groupNamePattern: 'sf.{model}+{stage}' });
    assert.deepEqual(poolOfGroup(s, 'sf.m+2'), { model: 'm', stage: 2 });
    assert.equal(poolOfGroup(s, 'sfXm+2'), undefined);
  });

  test('a pool that cannot be named is refused', () => {
    assert.throws(() => groupNameOf(settings(), '', 1), /model must be a non-empty name/);
    assert.throws(
      () => groupNameOf(settings(), 'm', -1),
      /stage must be 0 \(whole model\) or a positive integer, got -1/,
    );
  });
});

describe('AWS records', () => {
  test('a malformed group or instance is skipped and named; the rest are kept', () => {
    const parsed = parseGroups([
      {
        AutoScalingGroupName: 'g1',
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: 2,
        Instances: [
          { InstanceId: 'i-0abc', LifecycleState: 'InService', InstanceType: 't3.micro' },
          { InstanceId: 'not-an-id', LifecycleState: 'InService' },
          { InstanceId: 'i-0def' },
        ],
      },
      { AutoScalingGroupName: 'g2', MinSize: 0, MaxSize: 'many', DesiredCapacity: 0 },
      null,
    ]);
    assert.deepEqual(
      parsed.records.map((g) => [g.AutoScalingGroupName, g.Instances.map((i) => i.InstanceId)]),
      [['g1', ['i-0abc']]],
    );
    assert.equal(parsed.problems.length, 4);
    assert.match(parsed.problems[0]!, /group g1 Instances\[1\]: InstanceId: expected an EC2 instance id/);
    assert.match(parsed.problems[1]!, /group g1 Instances\[2\]: LifecycleState/);
    assert.match(parsed.problems[2]!, /AutoScalingGroups\[1\]: MaxSize/);
    assert.match(parsed.problems[3]!, /AutoScalingGroups\[2\]/);
    assert.deepEqual(parseGroups('nope').problems, [
      'DescribeAutoScalingGroups: AutoScalingGroups is not a list (string)',
    ]);
  });

  test('an EC2 instance without a valid launch time is skipped', () => {
    const ok = { InstanceId: 'i-01', InstanceType: 't3.micro', LaunchTime: new Date(1000), State: { Name: 'running' } };
    const parsed = parseEc2Instances([
      {
        Instances: [
          ok,
          { ...ok, InstanceId: 'i-02', LaunchTime: new Date(NaN) },
          { ...ok, InstanceId: 'i-03', LaunchTime: '2026' },
        ],
      },
      { Instances: 'x' },
    ]);
    assert.deepEqual(
      parsed.records.map((r) => r.InstanceId),
      ['i-01'],
    );
    assert.equal(parsed.problems.length, 3);
    assert.match(parsed.problems[0]!, /Reservations\[0\]\.Instances\[1\]: LaunchTime: expected date/);
    assert.match(parsed.problems[1]!, /Reservations\[0\]\.Instances\[2\]: LaunchTime/);
    assert.match(parsed.problems[2]!, /Reservations\[1\]: Instances is not a list/);
  });

  test('the end time comes from the state transition reason when it is plausible', () => {
    const launched = Date.parse('2026-12-02T03:00:00Z');
    const seen = Date.parse('2026-12-02T04:00:00Z');
    assert.equal(
      endTimeFromReason('User initiated (2026-12-02 03:51:18 GMT)', launched, seen),
      Date.parse('2026-12-02T03:51:18Z'),
    );
    assert.equal(
      endTimeFromReason('User initiated (2026-12-02 03:51:18 UTC)', launched, seen),
      Date.parse('2026-12-02T03:51:18Z'),
    );
    // before the launch (by more than the second of truncation), after the observation, or absent: unknown
    assert.equal(endTimeFromReason('User initiated (2026-12-02 02:00:00 GMT)', launched, seen), undefined);
    assert.equal(endTimeFromReason('User initiated (2026-12-02 05:00:00 GMT)', launched, seen), undefined);
    assert.equal(endTimeFromReason('', launched, seen), undefined);
    assert.equal(endTimeFromReason(undefined, launched, seen), undefined);
    // truncated to the second below a launch in the same second: the launch
    assert.equal(endTimeFromReason('User initiated (2026-12-02 03:00:00 GMT)', launched + 400, seen), launched + 400);
  });
});
