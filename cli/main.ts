/** The `serflow` command line. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { positiveInt, positiveIntUpTo, positiveNumberUpTo, progressBar } from './options';
import {
  loadConfig,
  MAX_INFER_CONCURRENCY,
  MAX_INFER_RATE_QPS,
  MAX_INFER_SAMPLES,
  type SerflowConfig,
} from '../common/config';
import { SerflowClient } from '../client';
import { parseInputMix } from '../models/input-mix';
import { SEARCH_ATTRIBUTES } from '../common/naming';
import { startStack, stopStackOnSignal } from '../deploy/local/stack';
import { registerAwsCommands } from './aws-command';
import { registerBenchCommand } from './bench-command';
import { registerCostCommand } from './cost-command';
import { registerJudgeCommand } from './judge-command';
import { registerPackageCommand } from './package-command';
import { registerK8sCommand } from './k8s-command';
import { registerPlanCommand } from './plan-command';
import { registerProfileCommand } from './profile-command';
import { runAutoscaler } from '../autoscaler/service';
import { parsePolicy, POLICY_NAMES } from '../autoscaler/types';
import { stackNatsUrl } from './stack-connection';
import { registerPoolCommands } from './pool-commands';
import { registerRouteCommands } from './route-commands';
import { registerSimCommand } from './sim-command';
import { packageVersion } from './package-version';
import { registerServeCommand } from './serve-command';
import { registerTelemetryCommands } from './telemetry-commands';
import { startTracing } from '../infra/tracing';
import { startProcessTelemetry } from '../infra/telemetry';
import { collectStatus, describeStack, downCommand, formatStatus, upCommand } from './stack-commands';
import { DEFAULT_INFER_CONCURRENCY, formatSummary, runWorkload, type WorkloadSummary } from './workload';
import { EXIT_CODE, EXIT_CLASSES, errorJson, exitClassOf, exitClassOfFailures, exitCodesHelp } from './exit-codes';

/** A workload's exit code: 0 when every query succeeded, else the class its failures share (cli/exit-codes.ts). */
function workloadExitCode(summary: WorkloadSummary): number {
  const types = summary.errors.map((e) => e.type);
  return EXIT_CODE[exitClassOfFailures(summary.failed, types)];
}

function threshold(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got ${JSON.stringify(value)}`);
  return n;
}

async function infer(
  config: SerflowConfig,
  o: {
    model?: string;
    samples: number;
    threshold?: number;
    json?: boolean;
    concurrency: number;
    seed: number;
    mix?: string;
    rate?: number;
  },
) {
  // Each query's StartWorkflow span is the root of its trace, when `telemetry.traces` names an exporter.
  const tracing = startTracing(config, 'client');
  const client = await SerflowClient.connect({ config });
  try {
    const model = o.model ?? config.defaultModel;
    const bar = progressBar(`infer ${model}`, o.samples);
    const { summary } = await runWorkload(client, {
      model,
      samples: o.samples,
      threshold: o.threshold,
      concurrency: o.concurrency,
      seed: o.seed,
      mix: o.mix ? parseInputMix(o.mix) : undefined,
      rateQps: o.rate,
      onProgress: (d) => bar.update(d),
    });
    bar.stop();
    console.log(o.json ? JSON.stringify(summary) : formatSummary(summary));
    process.exitCode = workloadExitCode(summary);
  } finally {
    await client.close();
    await tracing.shutdown();
  }
}

async function demo(config: SerflowConfig, o: { samples: number; json?: boolean }) {
  const log = (l: string) => console.error(`[serflow] ${l}`);
  const stack = await startStack({ config, onProgress: log });
  // Ctrl-C or SIGTERM mid-demo: stop the stack (workers drain, servers stop) before exiting.
  const unhook = stopStackOnSignal(stack, log);
  try {
    if (!o.json) console.log(describeStack(stack.info));
    const client = await SerflowClient.connectToStack(stack.info, config);
    try {
      const bar = progressBar('demo workload', o.samples);
      const { summary } = await runWorkload(client, {
        model: config.defaultModel,
        samples: o.samples,
        concurrency: DEFAULT_INFER_CONCURRENCY,
        onProgress: (d) => bar.update(d),
      });
      bar.stop();
      process.exitCode = workloadExitCode(summary);
      if (o.json) {
        console.log(JSON.stringify({ stack: stack.info, summary }));
        return;
      }
      console.log(formatSummary(summary));
    } finally {
      await client.close();
    }
    console.log(
      `\nEvery query is a workflow: open ${stack.info.temporalUiUrl ?? 'the Temporal UI'} while a stack runs (\`serflow up\`), ` +
        `or list them: temporal workflow list --address ${stack.info.temporalAddress} --query '${SEARCH_ATTRIBUTES.exitStage.name} = 2'`,
    );
  } finally {
    log('stopping the stack');
    await stack.stop();
    unhook();
  }
}

export function buildProgram(): Command {
  const program = new Command('serflow')
    .description('Cost-optimal, SLO-aware serving of early-exit models on Temporal, NATS JetStream and ONNX Runtime')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addHelpText('after', `\n${exitCodesHelp()}`)
    .showHelpAfterError()
    // Usage errors (printed by commander) end with the usage exit code in the handler below, not commander's 1;
    // set before the commands are added, which inherit it.
    .exitOverride((err) => {
      reportedByCommander.add(err);
      throw err;
    });
  const config = () => loadConfig();

  program
    .command('up')
    .description('start the embedded stack (Temporal dev server, nats-server, workers); Ctrl-C stops it')
    .option('--detach', 'return once everything is ready; stop later with `serflow down`')
    .option('--model <name...>', 'models to start stage pools for (default: the default model)')
    .option(
      '--autoscaler <policy>',
      `autoscaler policy (${POLICY_NAMES.join(', ')}) or off (default: config, else serflow)`,
    )
    .option('--json', "once ready, print the stack's addresses and processes as one JSON object")
    .action(async (o: { detach?: boolean; model?: string[]; autoscaler?: string; json?: boolean }) =>
      upCommand(config(), {
        detach: o.detach,
        models: o.model,
        autoscaler: o.autoscaler === 'off' ? 'off' : parsePolicy(o.autoscaler),
        json: o.json,
      }),
    );

  program
    .command('down')
    .description('stop the stack started by `serflow up --detach`')
    .option('--json', 'one JSON object: whether a stack was stopped, and its processes')
    .action(async (o: { json?: boolean }) => downCommand(config(), o));

  program
    .command('status')
    .description(`what is running and where (exit code ${EXIT_CODE.noStack} when the stack is not running)`)
    .option('--json', 'one JSON object')
    .action(async (o: { json?: boolean }) => {
      const s = await collectStatus(config());
      console.log(o.json ? JSON.stringify(s) : formatStatus(s));
      if (!s.running) {
        if (o.json) console.error(`serflow: ${s.problem}`);
        process.exitCode = EXIT_CODE.noStack;
      }
    });

  program
    .command('infer')
    .description('send held-out samples through the running stack and report accuracy, exits and latency')
    .option('--model <name>', 'model (default: the configured default model)')
    .addOption(
      new Option('--samples <n>', 'number of held-out samples')
        .argParser(positiveIntUpTo(MAX_INFER_SAMPLES, 'MAX_INFER_SAMPLES'))
        .default(200),
    )
    .addOption(
      new Option('--threshold <t>', 'exit threshold on max softmax (default: the manifest default)').argParser(
        threshold,
      ),
    )
    .addOption(
      new Option('--concurrency <n>', 'queries in flight')
        .argParser(positiveIntUpTo(MAX_INFER_CONCURRENCY, 'MAX_INFER_CONCURRENCY'))
        .default(DEFAULT_INFER_CONCURRENCY),
    )
    .addOption(new Option('--seed <n>', 'seed of the sample choice').argParser(positiveInt).default(1))
    .option('--mix <spec>', 'shifted input mix: noise:S (Gaussian pixel noise), classes:a,b,..., or both joined by +')
    .addOption(
      new Option('--rate <qps>', 'open loop: start queries at this rate instead of --concurrency loops').argParser(
        positiveNumberUpTo(MAX_INFER_RATE_QPS, 'MAX_INFER_RATE_QPS'),
      ),
    )
    .option('--json', 'print one JSON object')
    .action(async (o: Parameters<typeof infer>[1]) => infer(config(), o));

  program
    .command('demo')
    .description('start the stack, run a short workload with progress, print the summary, stop')
    .addOption(
      new Option('--samples <n>', 'number of held-out samples')
        .argParser(positiveIntUpTo(MAX_INFER_SAMPLES, 'MAX_INFER_SAMPLES'))
        .default(200),
    )
    .option('--json', "print the stack's addresses and the workload summary as one JSON object")
    .action(async (o: { samples: number; json?: boolean }) => demo(config(), o));

  registerPoolCommands(program, config);
  registerRouteCommands(program, config);
  registerCostCommand(program, config);
  registerPlanCommand(program, config);
  registerProfileCommand(program, config);
  registerBenchCommand(program, config);
  registerSimCommand(program, config);
  registerJudgeCommand(program, config);
  registerServeCommand(program, config);
  registerPackageCommand(program, config);
  registerK8sCommand(program, config);
  registerAwsCommands(program, config);
  registerTelemetryCommands(program, config);
  program
    .command('autoscaler')
    .description('run the autoscaler for a model in the foreground against the running stack (Ctrl-C stops it)')
    .option('--policy <name>', `${POLICY_NAMES.join(' | ')} (default: config, else serflow)`)
    .option('--model <name>', 'model (default: the default model)')
    .action(async (o: { policy?: string; model?: string }) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      // A long-running process like the stack's own autoscaler: /metrics, JSON logs, traces.
      const telemetry = await startProcessTelemetry({ config: c, role: 'autoscaler', labels: { model } });
      try {
        await runAutoscaler({ config: c, natsUrl: stackNatsUrl(c), model, policy: parsePolicy(o.policy) });
      } finally {
        await telemetry.shutdown();
      }
    });
  return program;
}

/** Errors commander has already printed (usage errors): the handler only sets their exit code. */
const reportedByCommander = new WeakSet<CommanderError>();

/**
 * The one top-level error handler: the message on stderr (and, under `--json`, the error as one JSON object on
 * stdout), then the exit code of its failure class (cli/exit-codes.ts).
 */
function exitOnError(err: unknown): never {
  const cls = exitClassOf(err);
  if (cls === 'ok') process.exit(0); // --help, --version
  if (!(err instanceof CommanderError && reportedByCommander.has(err))) {
    console.error(`serflow: ${(err as Error)?.message ?? String(err)}`);
  }
  if (process.argv.includes('--json')) console.log(errorJson(err));
  process.exit(EXIT_CLASSES[cls].code);
}

buildProgram().parseAsync(process.argv).catch(exitOnError);
