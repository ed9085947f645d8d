/**
 * `npm run bench`: load and analyze times, effective GFLOP/s and peak memory for seeded
 * random-weight checkpoints of real shapes, against the throughput of a plain onnxruntime MatMul
 * measured in the same run. Each model and length runs in its own child process, so each peak RSS
 * is that run's own.
 * Options: --models builtin,bert-base,gpt2-small,qwen2.5-0.5b  --lengths 32,128,512  --runs 5  --dir <cache>
 */
import { execFileSync } from 'child_process';
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
import { benchText, bertBase, float32Bytes, gpt2Small, qwen25Half, writeCheckpoint, type BenchModel } from './checkpoints';

const MODELS: Record<string, () => BenchModel | 'builtin'> = { builtin: () => 'builtin', 'bert-base': bertBase, 'gpt2-small': gpt2Small, 'qwen2.5-0.5b': qwen25Half };

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

async function child(id: string, dir: string, lengths: number[], runs: number): Promise<void> {
  const spec = MODELS[id]();
  const folder = spec === 'builtin' ? BUILTIN_FOLDER : writeCheckpoint(spec, dir);
  const t0 = performance.now();
  const model = await loadModel(folder);
  const loadMs = performance.now() - t0;
  const layerParams = spec === 'builtin' ? builtinLayerParams(folder) : Object.entries(spec.tensors)
    .filter(([name]) => /(layer|layers|h)\.0\./.test(name) && name.endsWith('weight') && spec.tensors[name].length === 2)
    .reduce((sum, [, shape]) => sum + shape[0] * shape[1], 0);
  const rows = [];
  for (const n of lengths) {
    const text = spec === 'builtin' ? builtinText() : benchText(n);
    const times: number[] = [];
    let tokens = 0;
    for (let r = 0; r < runs + 1; r++) {
      const result = await model.analyze(text, { truncateTo: n });
      tokens = result.tokens.length;
      if (r > 0) times.push(result.timings.computeMs); // the first run warms up
    }
    const ms = median(times);
    rows.push({ n: tokens, analyzeMs: ms, gflops: flops(model, layerParams, tokens) / (ms / 1000) / 1e9 });
  }
  await model.dispose();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  // The reference throughput, measured in this process right after the model's runs.
  const matmul = await matmulGflops(128, 768, 3072, 20);
  const description = spec === 'builtin' ? 'built-in model (4-layer Llama, 256 hidden, 8/4 heads), bf16 on disk' : spec.description;
  const weightsMb = spec === 'builtin' ? builtinFloat32Bytes(folder) / 1e6 : float32Bytes(spec) / 1e6;
  console.log(JSON.stringify({ id, description, loadMs, weightsMb, peakRssMb, rows, matmul }));
}

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry(); // before this process's first session (README, Privacy)
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      models: { type: 'string', default: Object.keys(MODELS).join(',') },
      lengths: { type: 'string', default: '32,128,512' },
      runs: { type: 'string', default: '5' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'attention-inspector-bench') },
    },
  });
  const lengths = values.lengths!.split(',').map(Number);
  const runs = Math.max(5, Number(values.runs));
  if (values.child) return child(values.child, values.dir!, lengths, runs);

  console.log(`Attention Inspector benchmark — ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} threads, onnxruntime-node ${ort.env.versions.node}`);
  console.log('Reference: a plain onnxruntime MatMul [128×768]·[768×3072], measured in each model\'s process after its runs.\n');
  console.log('| model | n | load (ms) | analyze (ms, median) | GFLOP/s | MatMul GFLOP/s | % of MatMul | peak RSS (MB) | RSS / f32 weights |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const id of values.models!.split(',')) {
    if (!(id in MODELS)) throw new Error(`unknown model ${id}; choose from ${Object.keys(MODELS).join(', ')}`);
    // One process per model and length, so each row's peak RSS is that length's own.
    for (const n of lengths) {
      const out = execFileSync(process.execPath, [__filename, '--child', id, '--lengths', String(n), '--runs', String(runs), '--dir', values.dir!], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const r = JSON.parse(out.trim().split('\n').pop()!);
      for (const row of r.rows) {
        console.log(`| ${r.description} | ${row.n} | ${r.loadMs.toFixed(0)} | ${row.analyzeMs.toFixed(1)} | ${row.gflops.toFixed(1)} | ${r.matmul.toFixed(1)} | ${((100 * row.gflops) / r.matmul).toFixed(0)}% | ${r.peakRssMb.toFixed(0)} | ${(r.peakRssMb / r.weightsMb).toFixed(2)} |`);
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
