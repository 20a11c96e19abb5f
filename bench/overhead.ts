/**
 * Orchestration-overhead benchmark: what running each stage as a Temporal activity costs, compared with
 * running the same ONNX stages directly in one process.
 *
 *   npm run build && npm run bench:overhead
 *   node lib/bench/overhead.js --samples 300 --concurrency 1,4,8,16 --duration 10 --out bench/results/overhead.json
 *
 * Steps (all on the real embedded stack: Temporal dev server, nats-server, worker processes):
 *   1. direct path: the test samples through createDirectPipeline (all stages in this process, the workflow's
 *      exit rule), sequentially;
 *   2. pipeline latency: the same samples via SerflowClient.infer, one at a time, after a warm-up; labels and
 *      exit stages must equal the direct path's;
 *   3. throughput: N closed-loop client loops for a fixed duration per concurrency level N, while the stage
 *      workers' event-loop delay records (NATS KV) are sampled;
 *   4. a per-query time breakdown from workflow histories (where the orchestration time goes);
 *   5. against the engine's floor (`--plans`): a no-op workflow running one no-op activity on its own task queue,
 *      and the pipeline under each plan (per-stage VM pools, one whole-model VM, all serverless), each with its
 *      Temporal actions per query (from histories), p50/p95/p99 at c=1, throughput and CPU per query per process
 *      at the highest concurrency, and the ratios to the floor; the CPU one action costs the Temporal server and
 *      the workflow worker goes to `orchestration.cpuMsPerAction` (self-hosted orchestration's price).
 * Writes JSON to --out and an SVG chart next to it; progress goes to stderr as `[bench] ...` lines.
 *
 * Experiment flags: `--dynamic-config KEY=VALUE` (repeatable) sets `temporal.devServerDynamicConfig` entries
 * (merged over the defaults; VALUE parsed as JSON when it parses, else a string), so the embedded stack starts its
 * dev server with them; `--stage-concurrency`, `--processes-per-stage` override the worker config.
 *
 * This file is the entry; the steps live in bench/overhead/ (args, direct, pipeline, event-loop, history, cpu, plans
 * with the floor's workflow and worker, run)
 * with the outputs (report: the JSON's shape, summary: the text on stdout, chart: the SVG).
 */
import { parseCli } from './overhead/args';
import { log, runOverheadBench } from './overhead/run';

if (require.main === module) {
  // the arguments are read inside the chain, so a bad flag ends like a failed run: logged, exit code 1
  (async () => runOverheadBench(parseCli()))().then(
    () => process.exit(0),
    (err: unknown) => {
      log(`failed: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
