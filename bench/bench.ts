/**
 * `npm run bench`: load and analyze times, effective GFLOP/s and peak memory for seeded
 * random-weight checkpoints of real shapes, against the throughput of a plain onnxruntime MatMul
 * measured in the same run. Each model and length runs in its own child process, so each peak RSS
 * is that run's own. "first result" is load plus the first (cold) analysis; models larger than
 * their memory limit stream layer groups, so each of their analyses loads the streamed groups again.
 * With --peer, bert-base's cold first result is also measured against onnxruntime running a
 * `torch.onnx.export` graph of the same weights (bench/peer_bert.py; needs python3-torch).
 * Models over 2 GB of float32 layer weights keep them in the float32 weight cache (--weight-cache,
 * default <dir>/.weight-cache; none: convert at each load): a run that had to convert them first is
 * followed by one that maps them, and both are reported.
 * Options: --models builtin,bert-base,gpt2-small,qwen2.5-0.5b,llama-3.2-1b,llama-3.1-8b  --lengths 32,128,512  --runs 5  --dir <cache>  --weight-cache <dir>|none  --peer
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'util';
import type { AttentionModel } from '../src/engine/model';
import { loadModel } from '../src/models';
import { GraphBuilder } from '../src/engine/onnx/graph';
import { SafetensorsFile } from '../src/engine/safetensors';
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { benchText, bertBase, float32Bytes, gpt2Small, llama31_8b, llama32_1b, qwen25Half, writeCheckpoint, type BenchModel } from './checkpoints';

const MODELS: Record<string, () => BenchModel | 'builtin'> = { builtin: () => 'builtin', 'bert-base': bertBase, 'gpt2-small': gpt2Small, 'qwen2.5-0.5b': qwen25Half, 'llama-3.2-1b': llama32_1b, 'llama-3.1-8b': llama31_8b };
/** Run by default; the 8B shape writes 16 GB and takes minutes, so it runs only when named. */
const DEFAULT_MODELS = ['builtin', 'bert-base', 'gpt2-small', 'qwen2.5-0.5b', 'llama-3.2-1b'];

/** The shipped model, on real text (its own tokenizer), cut to the wanted length. */
const BUILTIN_FOLDER = path.resolve(__dirname, '..', 'media', 'builtin-model');
function builtinText(): string {
  return fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');
}

/** Float32 bytes of all tensors of a real checkpoint, from its safetensors header. */
function builtinFloat32Bytes(folder: string): number {
  const file = new SafetensorsFile(path.join(folder, 'model.safetensors'));
  try {
    return [...file.tensors.values()].reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  } finally {
    file.close();
  }
}

/** Parameters of layer 0's weight matrices in a real checkpoint. */
function builtinLayerParams(folder: string): number {
  const file = new SafetensorsFile(path.join(folder, 'model.safetensors'));
  try {
    return [...file.tensors.values()].filter((t) => /layers\.0\./.test(t.name) && t.shape.length === 2).reduce((sum, t) => sum + t.shape[0] * t.shape[1], 0);
  } finally {
    file.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Multiply-adds ×2 of one forward pass over n tokens, as the graph computes it. */
function flops(m: AttentionModel, layerParams: number, n: number): number {
  const { numLayers, numHeads, headDim } = m.summary;
  // Projections, q·kᵀ and probs·v, and the value norms through the per-head Gram matrix (d² per token).
  const perLayer = 2 * n * layerParams + 4 * numHeads * n * n * headDim + 2 * numHeads * n * headDim * headDim;
  return numLayers * perLayer;
}

async function matmulGflops(n: number, k: number, cols: number, runs: number): Promise<number> {
  const g = new GraphBuilder();
  const x = g.input('x', [n, k]);
  const w = new Float32Array(k * cols).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  g.output('y', g.op('MatMul', [x, g.weight('w', w, [k, cols])]), [n, cols]);
  const session = await ort.InferenceSession.create(g.toBytes('matmul'), { graphOptimizationLevel: 'all', intraOpNumThreads: os.availableParallelism(), interOpNumThreads: 1 });
  const feed = { x: new ort.Tensor('float32', new Float32Array(n * k).fill(0.5), [n, k]) };
  const times: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
    const t = performance.now();
    await session.run(feed);
    if (r >= 2) times.push(performance.now() - t);
  }
  await session.release();
  return (2 * n * k * cols) / (median(times) / 1000) / 1e9;
}

/** Entries in the weight cache folder (to tell a run that converted from one that mapped). */
const cacheEntries = (dir: string) => (dir && fs.existsSync(dir) ? fs.readdirSync(dir).length : 0);

async function child(id: string, dir: string, lengths: number[], runs: number, weightCacheDir: string): Promise<void> {
  const spec = MODELS[id]();
  const folder = spec === 'builtin' ? BUILTIN_FOLDER : writeCheckpoint(spec, dir);
  const entriesBefore = cacheEntries(weightCacheDir);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const model = await loadModel(folder, { memoryLimitGB: spec === 'builtin' ? undefined : spec.memoryLimitGB, weightCacheDir });
  const loadMs = performance.now() - t0;
  // CPU time of the load (all threads): on a shared machine the wall time above can be far longer.
  const loadCpu = process.cpuUsage(cpu0);
  const loadCpuS = (loadCpu.user + loadCpu.system) / 1e6;
  const streamed = model.memory.groups.length - model.memory.warm;
  const layerParams = spec === 'builtin' ? builtinLayerParams(folder) : Object.entries(spec.tensors)
    .filter(([name]) => /(layer|layers|h)\.0\./.test(name) && name.endsWith('weight') && spec.tensors[name].length === 2)
    .reduce((sum, [, shape]) => sum + shape[0] * shape[1], 0);
  const rows = [];
  let convertedGroups = 0;
  let convertMs = 0;
  for (const n of lengths) {
    const text = spec === 'builtin' ? builtinText() : benchText(n);
    const times: number[] = [];
    let tokens = 0;
    let firstMs = 0;
    // A streamed model loads most of its weights again on every analysis: one more run says what that costs.
    const warmRuns = streamed > 0 ? 1 : runs;
    let firstCpuS = 0;
    const analyzeCpuS: number[] = [];
    for (let r = 0; r < warmRuns + 1; r++) {
      const cpu = process.cpuUsage();
      const result = await model.analyze(text, { truncateTo: n });
      const used = process.cpuUsage(cpu);
      tokens = result.tokens.length;
      if (r === 0) {
        firstMs = result.timings.computeMs;
        firstCpuS = (used.user + used.system) / 1e6;
        // What the extension does once idle after a first result at stored precision: the warm runs below are float32.
        if (model.groupsAwaitingCache > 0) {
          const t = performance.now();
          convertedGroups += await model.convertWaitingGroups();
          convertMs += performance.now() - t;
        }
      } else {
        times.push(result.timings.computeMs); // the first run warms up
        analyzeCpuS.push((used.user + used.system) / 1e6);
      }
    }
    const ms = median(times);
    rows.push({ n: tokens, analyzeMs: ms, analyzeCpuS: median(analyzeCpuS), firstResultMs: loadMs + firstMs, firstResultCpuS: loadCpuS + firstCpuS, gflops: flops(model, layerParams, tokens) / (ms / 1000) / 1e9 });
  }
  await model.dispose();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  // The reference throughput, measured in this process right after the model's runs.
  const matmul = await matmulGflops(128, 768, 3072, 20);
  const description = spec === 'builtin' ? 'built-in model (4-layer Llama, 256 hidden, 8/4 heads), bf16 on disk' : spec.description;
  const weightsMb = spec === 'builtin' ? builtinFloat32Bytes(folder) / 1e6 : float32Bytes(spec) / 1e6;
  const converted = model.weightCache ? cacheEntries(weightCacheDir) - entriesBefore : 0;
  const cache = !model.weightCache ? '' : convertedGroups > 0 ? `, first result at stored precision, then ${convertedGroups} groups converted into the float32 cache in ${(convertMs / 1000).toFixed(0)} s` : ', mapped from the float32 cache';
  const plan = `${streamed > 0 ? `${streamed} of ${model.memory.groups.length} groups streamed` : 'held whole'}, limit ${(model.memory.limitBytes / 1e9).toFixed(0)} GB${cache}`;
  console.log(JSON.stringify({ id, description, loadMs, loadCpuS, weightsMb, peakRssMb, rows, matmul, plan, converted }));
}

const PEER_TOKENS = 30;
/** Token ids of benchText(n) under the benchmark's word-level tokenizer ("wK" is id K). */
const benchIds = (n: number) => benchText(n).split(' ').map((w) => BigInt(w.slice(1)));

/** The peer's run in a fresh process: load the exported graph with 2 threads, one run, all attentions. */
async function peerChild(onnxPath: string): Promise<void> {
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const ids = BigInt64Array.from(benchIds(PEER_TOKENS));
  const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [ids.length]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), [ids.length]) });
  const { user, system } = process.cpuUsage();
  console.log(`attentions [${out.attentions.dims.join(", ")}], process CPU ${((user + system) / 1e6).toFixed(1)} s`);
}

/** Wall time of a process from spawn to exit (the user's "cold first result") and the CPU seconds it reports using. */
function coldRun(args: string[]): { ms: number; cpuS: number } {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const cpu = /process CPU ([\d.]+) s/.exec(r.stdout);
  return { ms: performance.now() - t, cpuS: cpu ? Number(cpu[1]) : NaN };
}

/**
 * bert-base cold first result (process start → all attentions, 30 tokens) of our CLI against
 * onnxruntime-node running the torch.onnx.export graph of the same weights, alternating, median of 3;
 * and the largest difference between the two attentions, to show they compute the same thing.
 */
async function peerComparison(dir: string): Promise<void> {
  const folder = writeCheckpoint(bertBase(), dir);
  const onnxPath = path.join(dir, 'bert-base-peer.onnx');
  if (!fs.existsSync(onnxPath)) {
    const python = process.env.PYTHON ?? 'python3';
    const r = spawnSync(python, [path.resolve(__dirname, '..', 'bench', 'peer_bert.py'), folder, onnxPath], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`Peer not measured: ${python} bench/peer_bert.py failed (it needs torch; set PYTHON to an interpreter that has it): ${(r.stderr || String(r.error)).trim().split('\n').pop()}\n`);
      return;
    }
  }
  const cli = path.join(__dirname, 'cli.js');
  const ours: { ms: number; cpuS: number }[] = [], peer: { ms: number; cpuS: number }[] = [];
  for (let i = 0; i < 3; i++) {
    ours.push(coldRun([cli, '--model', folder, '--text', benchText(PEER_TOKENS), '--quiet']));
    peer.push(coldRun([__filename, '--peer-child', onnxPath]));
  }
  const model = await loadModel(folder);
  const result = await model.analyze(benchText(PEER_TOKENS));
  await model.dispose();
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 2 });
  const ids = BigInt64Array.from(benchIds(PEER_TOKENS));
  const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [ids.length]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), [ids.length]) });
  const a = new Float32Array(result.attentions.buffer), b = out.attentions.data as Float32Array;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  await session.release();
  const [o, p] = [median(ours.map((r) => r.ms)), median(peer.map((r) => r.ms))];
  const [oc, pc] = [median(ours.map((r) => r.cpuS)), median(peer.map((r) => r.cpuS))];
  console.log(
    `bert-base cold first result (process start → all attentions, ${PEER_TOKENS} tokens, median of 3): ours ${o.toFixed(0)} ms (process CPU ${oc.toFixed(1)} s), ` +
      `torch.onnx.export peer on onnxruntime-node (2 threads) ${p.toFixed(0)} ms (CPU ${pc.toFixed(1)} s), ratio ${(o / p).toFixed(2)} (CPU ${(oc / pc).toFixed(2)}); largest attention difference ${diff.toExponential(1)}\n`,
  );
}

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry(); // before this process's first session (README, Privacy)
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      'peer-child': { type: 'string' },
      models: { type: 'string', default: DEFAULT_MODELS.join(',') },
      peer: { type: 'boolean', default: false },
      lengths: { type: 'string', default: '32,128,512' },
      runs: { type: 'string', default: '5' },
      'weight-cache': { type: 'string' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'attention-inspector-bench') },
    },
  });
  const lengths = values.lengths!.split(',').map(Number);
  const runs = Math.max(5, Number(values.runs));
  const cacheOption = values['weight-cache'] ?? path.join(values.dir!, '.weight-cache');
  const weightCacheDir = cacheOption === 'none' ? '' : path.resolve(cacheOption);
  if (values.child) return child(values.child, values.dir!, lengths, runs, weightCacheDir);
  if (values['peer-child']) return peerChild(values['peer-child']);

  console.log(`Attention Inspector benchmark — ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} threads, onnxruntime-node ${ort.env.versions.node}`);
  console.log('Reference: a plain onnxruntime MatMul [128×768]·[768×3072], measured in each model\'s process after its runs.\n');
  if (values.peer) await peerComparison(values.dir!);
  console.log('| model | n | load (ms) | load CPU (s) | first result (ms) | first result CPU (s) | analyze (ms, median) | analyze CPU (s) | GFLOP/s | MatMul GFLOP/s | % of MatMul | peak RSS (MB) | RSS / f32 weights | weights held |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const id of values.models!.split(',')) {
    if (!(id in MODELS)) throw new Error(`unknown model ${id}; choose from ${Object.keys(MODELS).join(', ')}`);
    // One process per model and length, so each row's peak RSS is that length's own.
    for (const n of lengths) {
      const run = () => JSON.parse(execFileSync(process.execPath, [__filename, '--child', id, '--lengths', String(n), '--runs', String(runs), '--dir', values.dir!, '--weight-cache', cacheOption], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').pop()!);
      const first = run();
      // A run that converted into the weight cache is followed by one that maps from it.
      for (const r of first.converted > 0 ? [first, run()] : [first]) {
        for (const row of r.rows) {
          console.log(`| ${r.description} | ${row.n} | ${r.loadMs.toFixed(0)} | ${r.loadCpuS.toFixed(1)} | ${row.firstResultMs.toFixed(0)} | ${row.firstResultCpuS.toFixed(1)} | ${row.analyzeMs.toFixed(1)} | ${row.analyzeCpuS.toFixed(2)} | ${row.gflops.toFixed(1)} | ${r.matmul.toFixed(1)} | ${((100 * row.gflops) / r.matmul).toFixed(0)}% | ${r.peakRssMb.toFixed(0)} | ${(r.peakRssMb / r.weightsMb).toFixed(2)} | ${r.plan} |`);
        }
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
