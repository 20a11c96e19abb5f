/**
 * common/config.ts: defaults, field-named validation errors, and the layering
 * defaults → config file (or SERFLOW_CONFIG_JSON) → environment → overrides.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  compileConfig,
  initialVmsPerStage,
  DEFAULT_DEV_SERVER_DYNAMIC_CONFIG,
  loadConfig,
} from '../../../common/config';
import { ConfigError } from '../../../common/errors';
import { DEFAULT_HOME_DIR, MODELS_DIR } from '../../../common/paths';

/** Assert that `fn` throws a ConfigError whose message contains every one of `parts`. */
function assertConfigError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    for (const part of parts)
      assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} lacks ${part}`);
    return true;
  });
}

describe('compileConfig', () => {
  // Every value written out by hand from where it is documented (not the module's DEFAULT_* constants, which
  // would compare the module with itself): README.md "Configuration" and "How it runs", method.md "Cost model".
  test('an empty configuration gets every default', () => {
    const c = compileConfig({});
    assert.deepEqual(c, {
      homeDir: DEFAULT_HOME_DIR,
      modelsDir: MODELS_DIR,
      defaultModel: 'mnist-ee',
      temporal: {
        namespace: 'default',
        port: 0,
        uiPort: 0,
        // bench/results/overhead.json's devServerDynamicConfig: the dev server's transfer poll limit raised; and
        // the drain settings of workers/drain-slots.ts: a 10 s long poll, and polls cancelled on worker shutdown
        devServerDynamicConfig: {
          'history.transferProcessorMaxPollRPS': 10_000,
          'matching.longPollExpirationInterval': '10s',
          'frontend.enableCancelWorkerPollsOnShutdown': true,
        },
      },
      nats: { port: 0 },
      timeScale: 1,
      // README: boot 100 s of cloud time; c6i.large
      vm: { instanceType: 'c6i.large', bootDelayMs: 100_000 },
      vmLiveness: { intervalMs: 60_000, staleMs: 180_000 },
      faas: {
        memoryMb: 512,
        stageMemoryMb: {},
        coldStartExtraMs: 1_000,
        keepAliveMs: 600_000,
        accountConcurrency: 8,
      },
      // method.md: c6i.large 0.085 $/h billed per second with a 60 s minimum; Lambda x86 1.66667e-5 $/GB-s,
      // 2e-7 $/request, duration rounded up to 1 ms
      prices: {
        vmPerHourUsd: { 'c6i.large': 0.085 },
        vmMinBilledSeconds: 60,
        faasPerGbSecondUsd: 1.66667e-5,
        faasPerRequestUsd: 2e-7,
        faasBillingGranularityMs: 1,
      },
      // Temporal Cloud's list price, 25 $ per million actions; c6i.large has 2 vCPUs
      orchestration: {
        pricing: 'temporal-cloud',
        usdPerMillionActions: 25,
        instanceType: 'c6i.large',
        vcpus: 2,
      },
      routing: {},
      autoscaler: {},
      // README "Configuration": inline activations up to 16 KiB; stages 10 s, 10 attempts, queue 60 s
      activations: { inlineMaxBytes: 16 * 1024, ttlMs: 3_600_000 },
      events: { maxAgeMs: 24 * 3600 * 1000 },
      workers: { stageConcurrency: 4, inferenceThreads: 1, intraOpThreads: 1, heartbeatMs: 2_000 },
      stages: { timeoutMs: 10_000, maxAttempts: 10, heartbeatTimeoutMs: 2_000, queueTimeoutMs: 60_000 },
      queries: { deadlineMs: 600_000 },
      // Written out by hand (not the module's constants), so a changed default shows here.
      retention: {
        stageEventsMaxBytes: 512 * 2 ** 20,
        controlMaxAgeMs: 24 * 3600 * 1000,
        controlMaxBytes: 64 * 2 ** 20,
        billingMaxAgeMs: 90 * 24 * 3600 * 1000,
        billingMaxBytes: 2 ** 30,
        kvBucketMaxBytes: 16 * 2 ** 20,
        activationsMaxBytes: 2 ** 30,
      },
      logs: { maxBytes: 10 * 2 ** 20, filesKept: 3 },
      pools: { maxVmsPerPool: 64, replyMaxBytes: 512 * 1024 },
      serve: { host: '127.0.0.1', port: 8080, maxBodyBytes: 4 * 2 ** 20, maxInFlight: 128 },
      cloud: 'local',
      aws: {
        region: 'us-east-1',
        lambda: {
          functionName: 'serflow-{model}-s{stage}',
          fusedFunctionName: 'serflow-{model}-s{first}-{last}',
          memoryMb: 512,
          functions: {},
          architecture: 'x86_64',
          invokeTimeoutMs: 60_000,
        },
        autoScaling: {
          groupNamePattern: 'serflow-{model}-s{stage}',
          wholeModelGroupNamePattern: 'serflow-{model}-all',
          groups: {},
          launchTemplateNamePattern: 'serflow-{model}-s{stage}',
          lifecycleHookName: 'serflow-drain',
          pollIntervalMs: 15_000,
          drainTimeoutMs: 120_000,
          launchWaitMs: 30_000,
        },
      },
      kubernetes: {
        namespace: 'serflow',
        deploymentName: 'serflow-{model}-stage-{stage}',
        serviceAccountDir: '/var/run/secrets/kubernetes.io/serviceaccount',
        pollIntervalMs: 2_000,
        requestTimeoutMs: 10_000,
        launchWaitMs: 10_000,
        functions: 'aws-lambda',
      },
      telemetry: {
        metrics: { enabled: true, host: '127.0.0.1', port: 0 },
        traces: { file: false },
        logs: { format: 'json', level: 'info' },
      },
    });
  });

  test('dev-server dynamic config from the user is merged over the defaults', () => {
    const c = compileConfig({ temporal: { devServerDynamicConfig: { 'limit.maxIDLength': 500 } } });
    assert.deepEqual(c.temporal.devServerDynamicConfig, {
      ...DEFAULT_DEV_SERVER_DYNAMIC_CONFIG,
      'limit.maxIDLength': 500,
    });
    const overridden = compileConfig({
      temporal: { devServerDynamicConfig: { 'history.transferProcessorMaxPollRPS': 20 } },
    });
    assert.equal(overridden.temporal.devServerDynamicConfig['history.transferProcessorMaxPollRPS'], 20);
  });

  test('stage pools start with 1 VM without an autoscaler and none with one, unless configured', () => {
    assert.equal(initialVmsPerStage(compileConfig({}), false), 1);
    assert.equal(initialVmsPerStage(compileConfig({}), true), 0);
    assert.equal(initialVmsPerStage(compileConfig({ vm: { initialPerStage: 3 } }), true), 3);
  });

  test('a VM liveness staleness not above its interval is refused by name', () => {
    assert.throws(
      () => compileConfig({ vmLiveness: { intervalMs: 60_000, staleMs: 60_000 } }),
      /vmLiveness\.staleMs: must be above vmLiveness\.intervalMs/,
    );
    assert.equal(compileConfig({ vmLiveness: { intervalMs: 1_000 } }).vmLiveness.staleMs, 180_000);
  });

  test('undefined and null are treated as an empty configuration', () => {
    assert.deepEqual(compileConfig(undefined), compileConfig({}));
    assert.deepEqual(compileConfig(null), compileConfig({}));
  });

  test('a partial section keeps the defaults of its other fields', () => {
    const c = compileConfig({ workers: { stageConcurrency: 8 }, temporal: { address: 'temporal:7233' } });
    assert.equal(c.workers.stageConcurrency, 8);
    assert.equal(c.workers.inferenceThreads, 1);
    assert.equal(c.temporal.address, 'temporal:7233');
    assert.equal(c.temporal.namespace, 'default');
    assert.equal(c.activations.inlineMaxBytes, 16 * 1024);
  });

  const invalid: Array<{ what: string; raw: unknown; field: string }> = [
    { what: 'a zero stage concurrency', raw: { workers: { stageConcurrency: 0 } }, field: 'workers.stageConcurrency' },
    {
      what: 'a fractional thread count',
      raw: { workers: { inferenceThreads: 1.5 } },
      field: 'workers.inferenceThreads',
    },
    { what: 'a port above 65535', raw: { temporal: { port: 70000 } }, field: 'temporal.port' },
    { what: 'a negative UI port', raw: { temporal: { uiPort: -1 } }, field: 'temporal.uiPort' },
    {
      what: 'a negative inline limit',
      raw: { activations: { inlineMaxBytes: -1 } },
      field: 'activations.inlineMaxBytes',
    },
    { what: 'a string where a number goes', raw: { workers: { heartbeatMs: '2s' } }, field: 'workers.heartbeatMs' },
    { what: 'a number where a string goes', raw: { temporal: { namespace: 42 } }, field: 'temporal.namespace' },
    { what: 'an empty default model', raw: { defaultModel: '' }, field: 'defaultModel' },
    { what: 'a section that is not an object', raw: { nats: 'nats://x' }, field: 'nats' },
    { what: 'a configuration that is an array', raw: [1], field: '(root)' },
  ];
  for (const { what, raw, field } of invalid) {
    test(`${what} is a ConfigError naming ${field}`, () => {
      assertConfigError(() => compileConfig(raw), 'invalid config', `${field}: `);
    });
  }

  test('every bad field is named, not only the first', () => {
    assertConfigError(
      () => compileConfig({ workers: { stageConcurrency: 0 }, temporal: { port: 70000 } }),
      'workers.stageConcurrency',
      'temporal.port',
    );
  });

  test('the source given to compileConfig is named in the error', () => {
    assertConfigError(
      () => compileConfig({ stages: { maxAttempts: 0 } }, 'my source'),
      'invalid my source',
      'stages.maxAttempts',
    );
  });
});

describe('loadConfig', () => {
  const originalCwd = process.cwd();
  let dir = '';

  // loadConfig reads ./serflow.config.json when present: run in an empty directory so the result does not
  // depend on where the tests are started.
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-config-'));
    process.chdir(dir);
  });
  after(() => {
    process.chdir(originalCwd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Write `content` to a file in the temp dir and return its absolute path. */
  function writeFile(name: string, content: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  test('with no file, environment or overrides it equals the defaults', () => {
    // JSON round trip: unset environment layers leave keys present with the value undefined.
    const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    assert.deepEqual(plain(loadConfig({}, {})), plain(compileConfig({})));
  });

  test('environment variables set the Temporal address and namespace, the NATS URL and the home dir', () => {
    const c = loadConfig(
      {},
      {
        TEMPORAL_ADDRESS: 'temporal:7233',
        TEMPORAL_NAMESPACE: 'serving',
        NATS_URL: 'nats://nats:4222',
        SERFLOW_HOME: '/srv/sf',
      },
    );
    assert.equal(c.temporal.address, 'temporal:7233');
    assert.equal(c.temporal.namespace, 'serving');
    assert.equal(c.nats.url, 'nats://nats:4222');
    assert.equal(c.homeDir, '/srv/sf');
  });

  test('empty environment variables count as unset', () => {
    const c = loadConfig({}, { TEMPORAL_ADDRESS: '', NATS_URL: '', TEMPORAL_NAMESPACE: '' });
    assert.equal(c.temporal.address, undefined);
    assert.equal(c.nats.url, undefined);
    assert.equal(c.temporal.namespace, 'default');
  });

  test('SERFLOW_CONFIG_JSON is read as the config file', () => {
    const c = loadConfig(
      {},
      { SERFLOW_CONFIG_JSON: JSON.stringify({ workers: { stageConcurrency: 7 }, nats: { url: 'nats://json:4222' } }) },
    );
    assert.equal(c.workers.stageConcurrency, 7);
    assert.equal(c.nats.url, 'nats://json:4222');
    assert.equal(c.workers.inferenceThreads, 1);
  });

  test('invalid JSON in SERFLOW_CONFIG_JSON is a ConfigError naming SERFLOW_CONFIG_JSON', () => {
    assertConfigError(
      () => loadConfig({}, { SERFLOW_CONFIG_JSON: '{ workers: ' }),
      'SERFLOW_CONFIG_JSON',
      'not valid JSON',
    );
  });

  test('the file named by SERFLOW_CONFIG is read', () => {
    const file = writeFile('named.json', JSON.stringify({ activations: { inlineMaxBytes: 1024 } }));
    const c = loadConfig({}, { SERFLOW_CONFIG: file });
    assert.equal(c.activations.inlineMaxBytes, 1024);
  });

  test('a relative SERFLOW_CONFIG is resolved against the working directory', () => {
    writeFile('relative.json', JSON.stringify({ stages: { maxAttempts: 3 } }));
    assert.equal(loadConfig({}, { SERFLOW_CONFIG: 'relative.json' }).stages.maxAttempts, 3);
  });

  test('SERFLOW_CONFIG naming a missing file is a ConfigError naming the file', () => {
    const missing = path.join(dir, 'missing.json');
    assertConfigError(() => loadConfig({}, { SERFLOW_CONFIG: missing }), 'SERFLOW_CONFIG', missing, 'does not exist');
  });

  test('invalid JSON in the config file is a ConfigError naming the file', () => {
    const file = writeFile('broken.json', '{"workers": ');
    assertConfigError(() => loadConfig({}, { SERFLOW_CONFIG: file }), `config file ${file}`, 'not valid JSON');
  });

  test('a bad value in the config file is a ConfigError naming the file and the field', () => {
    const file = writeFile('bad-value.json', JSON.stringify({ workers: { stageConcurrency: 0 } }));
    assertConfigError(() => loadConfig({}, { SERFLOW_CONFIG: file }), file, 'workers.stageConcurrency');
  });

  test('./serflow.config.json is read when SERFLOW_CONFIG is unset', () => {
    const file = writeFile('serflow.config.json', JSON.stringify({ workers: { heartbeatMs: 500 } }));
    try {
      assert.equal(loadConfig({}, {}).workers.heartbeatMs, 500);
    } finally {
      fs.rmSync(file);
    }
  });

  test('the environment beats the config file, field by field', () => {
    const file = writeFile(
      'layered.json',
      JSON.stringify({
        temporal: { address: 'from-file:7233', namespace: 'file-ns' },
        nats: { url: 'nats://file:4222' },
      }),
    );
    const c = loadConfig({}, { SERFLOW_CONFIG: file, TEMPORAL_ADDRESS: 'from-env:7233' });
    assert.equal(c.temporal.address, 'from-env:7233');
    assert.equal(c.temporal.namespace, 'file-ns');
    assert.equal(c.nats.url, 'nats://file:4222');
  });

  test('SERFLOW_CONFIG_JSON is used instead of the SERFLOW_CONFIG file when both are set', () => {
    const file = writeFile('ignored.json', JSON.stringify({ workers: { stageConcurrency: 2 } }));
    const c = loadConfig(
      {},
      { SERFLOW_CONFIG: file, SERFLOW_CONFIG_JSON: JSON.stringify({ workers: { stageConcurrency: 5 } }) },
    );
    assert.equal(c.workers.stageConcurrency, 5);
  });

  test('overrides beat the environment and the config file', () => {
    const c = loadConfig(
      { temporal: { address: 'from-flag:7233' }, nats: { url: 'nats://flag:4222' }, workers: { stageConcurrency: 9 } },
      {
        TEMPORAL_ADDRESS: 'from-env:7233',
        NATS_URL: 'nats://env:4222',
        SERFLOW_CONFIG_JSON: JSON.stringify({ workers: { stageConcurrency: 3, inferenceThreads: 2 } }),
      },
    );
    assert.equal(c.temporal.address, 'from-flag:7233');
    assert.equal(c.nats.url, 'nats://flag:4222');
    assert.equal(c.workers.stageConcurrency, 9);
    assert.equal(c.workers.inferenceThreads, 2, 'fields the override does not set keep the file value');
  });

  test('an override left undefined does not erase the environment value', () => {
    const c = loadConfig({ temporal: { address: undefined } }, { TEMPORAL_ADDRESS: 'from-env:7233' });
    assert.equal(c.temporal.address, 'from-env:7233');
  });

  test('a bad override is a ConfigError naming the field', () => {
    assertConfigError(() => loadConfig({ temporal: { port: 70000 } }, {}), 'temporal.port');
  });

  test('a bad value from SERFLOW_CONFIG_JSON is attributed to SERFLOW_CONFIG_JSON', () => {
    const json = JSON.stringify({ workers: { stageConcurrency: 0 } });
    assertConfigError(
      () => loadConfig({}, { SERFLOW_CONFIG_JSON: json }),
      'SERFLOW_CONFIG_JSON',
      'workers.stageConcurrency',
    );
    const file = writeFile('not-read.json', '{}');
    assert.throws(
      () => loadConfig({}, { SERFLOW_CONFIG: file, SERFLOW_CONFIG_JSON: json }),
      (err: unknown) =>
        err instanceof ConfigError && err.message.includes('SERFLOW_CONFIG_JSON') && !err.message.includes(file),
    );
  });

  const notObjects = ['[]', '[{"workers": {"stageConcurrency": 0}}]', '42', '"text"'];
  for (const json of notObjects) {
    test(`a configuration whose JSON is not an object (${json}) is a ConfigError`, () => {
      assertConfigError(() => loadConfig({}, { SERFLOW_CONFIG_JSON: json }), 'SERFLOW_CONFIG_JSON');
    });
  }
});
