/** `serflow k8s manifests`: the Kubernetes objects of a model's deployment, as YAML files or on stdout. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { SerflowConfig } from '../common/config';
import { manifestHeader, renderModelManifestFiles } from '../deploy/kubernetes/manifests';

interface ManifestsFlags {
  model?: string;
  namespace?: string;
  image?: string;
  temporal?: string;
  nats?: string;
  out?: string;
  json?: boolean;
}

/**
 * Write `files` into `dir`, and remove the files an earlier render wrote there that this one does not (a model
 * with fewer stages); a file that does not start with the generator's header is never touched.
 */
export function writeManifestFiles(dir: string, model: string, files: { file: string; text: string }[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const keep = new Set(files.map((f) => f.file));
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    if (!keep.has(name) && name.endsWith('.yaml') && fs.readFileSync(full, 'utf8').startsWith(manifestHeader(model))) {
      fs.rmSync(full);
    }
  }
  return files.map(({ file, text }) => {
    const full = path.join(dir, file);
    fs.writeFileSync(full, text);
    return full;
  });
}

export function registerK8sCommand(program: Command, config: () => SerflowConfig): void {
  const k8s = program.command('k8s').description('deploy to Kubernetes');
  k8s
    .command('manifests')
    .description(
      "render a model's Kubernetes objects: config, workflow worker, one Deployment per stage pool, cloud agent " +
        'with its RBAC, autoscaler (NATS: its official Helm chart with deploy/kubernetes/nats-values.yaml)',
    )
    .option('--model <name>', 'model (default: the default model)')
    .option('--namespace <ns>', 'namespace (default: config kubernetes.namespace)')
    .option('--image <ref>', 'the SERFLOW image (default: serflow:local)')
    .option(
      '--temporal <host:port>',
      'frontend of the existing Temporal (default: config temporal.address, else temporal-frontend.temporal.svc.cluster.local:7233)',
    )
    .option('--nats <url>', 'NATS URL (default: config nats.url, else nats://nats:4222)')
    .option('--out <dir>', 'write one file per concern into DIR (default: all of them on stdout)')
    .option('--json', 'one JSON object: the files written, or the rendered files with their text')
    .action((o: ManifestsFlags) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      const files = renderModelManifestFiles({
        config: c,
        model,
        namespace: o.namespace,
        image: o.image,
        temporalAddress: o.temporal,
        natsUrl: o.nats,
      });
      if (o.out) {
        const written = writeManifestFiles(o.out, model, files);
        console.log(o.json ? JSON.stringify({ model, written }) : written.join('\n'));
      } else {
        console.log(o.json ? JSON.stringify({ model, files }) : files.map((f) => f.text).join('---\n'));
      }
    });
}
