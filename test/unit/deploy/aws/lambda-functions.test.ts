/** deploy/aws/lambda-functions.ts and config `aws.lambda`: function names and memory per stage and fused run. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../../common/config';
import { lambdaFunctionName, lambdaMemoryMb } from '../../../../deploy/aws/lambda-functions';
import { lambdaFunctionSpecs } from '../../../../deploy/aws/lambda-package';

const lambdaOf = (lambda: object) => compileConfig({ aws: { lambda } }).aws.lambda;

describe('Lambda function names', () => {
  test('the default patterns: serflow-{model}-s{stage}, and s{first}-{last} for a fused run', () => {
    const l = lambdaOf({});
    assert.equal(lambdaFunctionName({ model: 'mnist-ee', stage: 2 }, l), 'serflow-mnist-ee-s2');
    assert.equal(lambdaFunctionName({ model: 'mnist-ee', stage: 1, lastStage: 4 }, l), 'serflow-mnist-ee-s1-4');
    assert.equal(
      lambdaFunctionName({ model: 'mnist-ee', stage: 3, lastStage: 3 }, l),
      'serflow-mnist-ee-s3',
      'a lastStage equal to stage is the one-stage function',
    );
  });

  test('a per-function name overrides the pattern', () => {
    const l = lambdaOf({ functionName: 'prod-{model}-{stage}', functions: { '2': { name: 'hand-made' } } });
    assert.equal(lambdaFunctionName({ model: 'm', stage: 2 }, l), 'hand-made');
    assert.equal(lambdaFunctionName({ model: 'm', stage: 3 }, l), 'prod-m-3');
  });

  test('a pattern that makes an invalid Lambda name: ConfigError naming the field and the fix', () => {
    assert.throws(() => lambdaFunctionName({ model: 'resnet.v2', stage: 1 }, lambdaOf({})), {
      name: 'ConfigError',
      message: /aws\.lambda\.functionName makes "serflow-resnet\.v2-s1".*aws\.lambda\.functions\["1"\]\.name/,
    });
  });
});

describe('Lambda function memory', () => {
  test('default, per-stage override, and a fused run takes its largest stage unless it has its own', () => {
    const l = lambdaOf({ memoryMb: 640, functions: { '2': { memoryMb: 1536 }, '3-4': { memoryMb: 2048 } } });
    assert.equal(lambdaMemoryMb({ model: 'm', stage: 1 }, l), 640);
    assert.equal(lambdaMemoryMb({ model: 'm', stage: 2 }, l), 1536);
    assert.equal(lambdaMemoryMb({ model: 'm', stage: 1, lastStage: 3 }, l), 1536);
    assert.equal(lambdaMemoryMb({ model: 'm', stage: 3, lastStage: 4 }, l), 2048);
  });
});

describe('config aws.lambda validation', () => {
  const rejects = (lambda: object, message: RegExp) =>
    assert.throws(() => compileConfig({ aws: { lambda } }), { name: 'ConfigError', message });

  test('a name pattern must contain its placeholders', () => {
    rejects({ functionName: 'serflow-{model}' }, /aws\.lambda\.functionName: must contain \{model\} and \{stage\}/);
    rejects({ fusedFunctionName: 'f-{model}-{first}' }, /aws\.lambda\.fusedFunctionName: must contain .*\{last\}/);
  });

  test('memory within Lambda’s 128..10240 MB', () => {
    rejects({ memoryMb: 64 }, /aws\.lambda\.memoryMb/);
    rejects({ functions: { '2': { memoryMb: 20_000 } } }, /aws\.lambda\.functions\.2\.memoryMb/);
  });

  test('function keys are a stage or a fused run; names are Lambda names; no unknown fields', () => {
    rejects({ functions: { two: {} } }, /aws\.lambda\.functions/);
    rejects({ functions: { '2': { name: 'has space' } } }, /aws\.lambda\.functions\.2\.name: a Lambda function name/);
    rejects({ memory: 512 }, /aws\.lambda/);
    rejects({ architecture: 'sparc' }, /aws\.lambda\.architecture/);
  });
});

describe('lambdaFunctionSpecs (functions.json)', () => {
  test('one function per stage, the whole-model run and configured fused runs, with their environment', () => {
    const config = compileConfig({ aws: { lambda: { functions: { '2-3': { memoryMb: 1024 } } } } });
    const specs = lambdaFunctionSpecs(config, 'm', 4);
    assert.deepEqual(
      specs.map((s) => [s.name, s.memoryMb]),
      [
        ['serflow-m-s1', 512],
        ['serflow-m-s2', 512],
        ['serflow-m-s3', 512],
        ['serflow-m-s4', 512],
        ['serflow-m-s1-4', 512],
        ['serflow-m-s2-3', 1024],
      ],
    );
    assert.deepEqual(specs[5]!.environment, { SERFLOW_MODEL: 'm', SERFLOW_STAGE: '2', SERFLOW_LAST_STAGE: '3' });
    assert.deepEqual(specs[0]!.environment, { SERFLOW_MODEL: 'm', SERFLOW_STAGE: '1' });
  });

  test('a configured fused run past the model’s stages is a ConfigError', () => {
    const config = compileConfig({ aws: { lambda: { functions: { '3-6': {} } } } });
    assert.throws(() => lambdaFunctionSpecs(config, 'm', 4), { name: 'ConfigError', message: /no fused run 3-6/ });
  });
});
