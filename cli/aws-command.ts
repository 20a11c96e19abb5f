/**
 * `serflow aws user-data`: the launch-template user-data of a VM pool on EC2 Auto Scaling (deploy/aws/user-data.ts),
 * printed for an operator (or infrastructure code) to put in the pool's launch template; with `--image-id`, the whole
 * CreateLaunchTemplate input. `--json` prints one object.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { SerflowConfig } from '../common/config';
import { WHOLE_MODEL_STAGE } from '../common/naming';
import { groupNameOf, launchTemplateNameOf } from '../deploy/aws/asg-names';
import { launchTemplateInput, renderStageWorkerUserData } from '../deploy/aws/user-data';

/** `--stage`: a stage number from 1, or `all` (the whole-model pool). */
function stageOption(value: string): number {
  if (value === 'all') return WHOLE_MODEL_STAGE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a stage from 1, or all, got ${JSON.stringify(value)}`);
  return n;
}

interface UserDataOptions {
  model?: string;
  stage: number;
  temporal?: string;
  nats?: string;
  npmPackage?: string;
  serflowDir?: string;
  node?: string;
  imageId?: string;
  json?: boolean;
}

export function registerAwsCommands(program: Command, config: () => SerflowConfig): void {
  const aws = program.command('aws').description('EC2 Auto Scaling VM pools (config cloud: aws)');
  aws
    .command('user-data')
    .description("the launch template user-data of a VM pool: installs and starts the pool's stage worker")
    .requiredOption('--stage <k>', 'stage of the pool, or all (the whole-model pool)', stageOption)
    .option('--model <name>', 'model (default: the default model)')
    .option('--temporal <host:port>', 'Temporal frontend the workers poll (default: temporal.address)')
    .option('--nats <url>', 'NATS server URL(s) (default: nats.url)')
    .option('--npm-package <spec>', 'install serflow from npm at boot (e.g. serflow@0.1.0); default: the image has it')
    .option('--serflow-dir <dir>', 'installed serflow package on the instance')
    .option('--node <path>', 'node binary on the instance')
    .option('--image-id <ami>', 'print the CreateLaunchTemplate input for this AMI instead of the script')
    .option('--json', 'one JSON object')
    .action((o: UserDataOptions) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      const temporalAddress = o.temporal ?? c.temporal.address;
      const natsUrl = o.nats ?? c.nats.url;
      if (!temporalAddress || !natsUrl) {
        throw new InvalidArgumentError('the workers need --temporal and --nats (or temporal.address and nats.url)');
      }
      const input = {
        config: c,
        model,
        stage: o.stage,
        temporalAddress,
        natsUrl,
        npmPackage: o.npmPackage,
        serflowDir: o.serflowDir,
        nodePath: o.node,
      };
      const names = {
        model,
        stage: o.stage,
        groupName: groupNameOf(c.aws.autoScaling, model, o.stage),
        launchTemplateName: launchTemplateNameOf(c.aws.autoScaling, model, o.stage),
      };
      if (o.imageId) {
        const template = launchTemplateInput({ ...input, imageId: o.imageId });
        console.log(JSON.stringify(o.json ? { ...names, launchTemplate: template } : template, null, o.json ? 0 : 2));
        return;
      }
      const userData = renderStageWorkerUserData(input);
      console.log(o.json ? JSON.stringify({ ...names, userData }) : userData);
    });
}
