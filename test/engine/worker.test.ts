/** The engine in its worker thread: typed messages, transferred buffers, cancel, supersede, dispose. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WEIGHT_CACHE_ENV, WEIGHT_CACHE_MIN_BYTES_ENV } from '../../src/engine/budget';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { FIXTURES_2_ROOT, FIXTURES_ROOT, openFixture, maxAbsDiff } from '../helpers/fixtures';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof EngineRequestError && err.info.code === code);
}

type Vectors = Awaited<ReturnType<EngineClient['headVectors']>>;

/** Row i of a head's logits from its vectors: q·kᵀ·scale, soft-capped, plus the bias (as step by step computes them). */
function logitsRow(v: Vectors, i: number): number[] {
  const q = new Float32Array(v.q.buffer), k = new Float32Array(v.k.buffer);
  const [, d] = v.q.shape;
  const keys = v.k.shape[0];
  const bias = v.bias ? new Float32Array(v.bias.buffer) : undefined;
  return Array.from({ length: keys }, (_, j) => {
    let s = 0;
    for (let x = 0; x < d; x++) s += q[i * d + x] * k[j * d + x];
    s *= v.scale;
    if (v.softcap !== null) s = Math.tanh(s / v.softcap) * v.softcap;
    return s + (bias ? bias[i * keys + j] : 0);
  });
}

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe('engine worker', function () {
  this.timeout(60000);
  let client: EngineClient;
  beforeEach(() => {
    client = new EngineClient(WORKER);
  });
  afterEach(() => client.dispose());

  it('loads in the worker and returns the reference attentions as transferred buffers', async () => {
    const fixture = openFixture('gpt2');
    try {
      const { model } = await client.load(fixture.folder, { name: 'gpt2', source: fixture.folder });
      assert.strictEqual(model.modelType, 'gpt2');
      const result = await client.analyze(fixture.cases[0].text);
      assert.ok(result.attentions.buffer instanceof ArrayBuffer);
      const diff = maxAbsDiff(new Float32Array(result.attentions.buffer), fixture.expected('case0.attentions').data);
      assert.ok(diff <= 1e-4, `diff ${diff}`);
      assert.deepStrictEqual(result.valueNorms.shape, [model.numLayers, model.numHeads, result.tokens.length]);
      assert.ok(new Float32Array(result.valueNorms.buffer).every((v) => v > 0 && Number.isFinite(v)));
    } finally {
      fixture.close();
    }
  });

  it('an encoder-decoder result crosses the thread with its three blocks, and head vectors per block', async () => {
    const fixture = openFixture('bart', FIXTURES_2_ROOT);
    try {
      const { model } = await client.load(fixture.folder, { name: 'bart', source: fixture.folder });
      assert.deepStrictEqual(model.decoder, { numLayers: 2, numHeads: 4, headDim: 16, maxTokens: 1024 });
      const c = fixture.cases[0];
      const result = await client.analyze(c.text, { target: c.decoder_text });
      const blocks = result.blocks ?? [];
      assert.deepStrictEqual(blocks.map((b) => b.kind), ['encoder', 'decoder', 'cross']);
      for (const [block, key] of [[blocks[0], 'encoder'], [blocks[1], 'decoder'], [blocks[2], 'cross']] as const) {
        const diff = maxAbsDiff(new Float32Array(block.attentions.buffer), fixture.expected(`case0.${key}_attentions`).data);
        assert.ok(diff <= 1e-4, `${key}: diff ${diff}`);
      }
      // The first block is `attentions` itself: one buffer, transferred once.
      assert.strictEqual(result.attentions.buffer, blocks[0].attentions.buffer);
      assert.deepStrictEqual(blocks[2].valueNorms.shape, [2, 4, c.input_ids.length]);
      const cross = await client.headVectors(1, 2, 'cross');
      assert.strictEqual(cross.block, 'cross');
      assert.deepStrictEqual(cross.q.shape, [c.decoder_input_ids!.length, 16]);
      assert.deepStrictEqual(cross.k.shape, [c.input_ids.length, 16]);
      assert.deepStrictEqual(cross.logits?.shape, [c.decoder_input_ids!.length, c.input_ids.length]);
      const decoder = await client.headVectors(0, 0, 'decoder');
      assert.ok(decoder.bias, 'the decoder self-attention has its causal mask as a term');
    } finally {
      fixture.close();
    }
  });

  it('keeps the model warm: loading the same folder again is instant', async () => {
    const folder = path.join(FIXTURES_ROOT, 'bert');
    await client.load(folder, { name: 'bert', source: folder });
    const again = await client.load(folder, { name: 'bert', source: folder });
    assert.strictEqual(again.loadMs, 0);
  });

  it('cancels an analysis and stays usable', async () => {
    const folder = path.join(FIXTURES_ROOT, 'llama');
    await client.load(folder, { name: 'llama', source: folder });
    const controller = new AbortController();
    const running = client.analyze('The cat sat on the mat.', {}, { signal: controller.signal });
    controller.abort();
    await rejectsWith(running, 'cancelled');
    const result = await client.analyze('The cat sat on the mat.');
    assert.ok(result.tokens.length > 3);
  });

  it('a newer analysis supersedes an older one', async () => {
    const folder = path.join(FIXTURES_ROOT, 'llama');
    await client.load(folder, { name: 'llama', source: folder });
    const first = client.analyze('first text');
    const second = client.analyze('second, longer text to analyze');
    await rejectsWith(first, 'cancelled');
    const result = await second;
    assert.strictEqual(result.text, 'second, longer text to analyze');
  });

  it('q, k, v of a head reproduce its attention and the model logits row by row (step-by-step view)', async () => {
    // gpt2-scaled: layer 1's scale is 1/(√d·2), a per-layer site scale. deberta-v2 (c2p, p2c) and
    // bert-relative-key (q·D, k·D): terms computed from q and k come in the bias, named; mpnet: a shared relative bias.
    const graphTermModels: Record<string, string[]> = {
      'deberta-v2': ['c2p = q_i·Kr[δ(i,j)]·scale', 'p2c = k_j·Qr[δ(i,j)]·scale'],
      'bert-relative-key': ['q·D[i−j]·scale', 'k·D[i−j]·scale'],
    };
    const folders = [...['gemma2', 't5-encoder', 'qwen3'].map((n) => path.join(FIXTURES_ROOT, n)), ...['gpt2-scaled', 'deberta-v2', 'bert-relative-key', 'mpnet'].map((n) => path.join(FIXTURES_2_ROOT, n))];
    for (const folder of folders) {
      const name = path.basename(folder);
      await client.load(folder, { name, source: folder });
      const result = await client.analyze('The cat sat on the mat.');
      const n = result.tokens.length;
      const attn = new Float32Array(result.attentions.buffer);
      const { numHeads } = result.model;
      const layer = 1, head = numHeads - 1;
      const v = await client.headVectors(layer, head);
      const bias = v.bias ? new Float32Array(v.bias.buffer) : undefined;
      assert.deepStrictEqual(v.biasTerms, graphTermModels[name], `${name}: the bias names the terms computed from q and k`);
      if (graphTermModels[name]) assert.ok(bias && bias.some((x) => x !== 0), `${name}: the graph-computed terms are in the bias`);
      assert.ok(v.logits, 'the model logits come with the vectors');
      const modelLogits = new Float32Array(v.logits.buffer);
      for (let i = 0; i < n; i++) {
        const logits = logitsRow(v, i);
        logits.forEach((l, j) => {
          const m = modelLogits[i * n + j];
          assert.ok(l === m || Math.abs(l - m) < 1e-4 * Math.max(1, Math.abs(m)), `${name} logit ${i},${j}: ${l} vs model ${m}`);
        });
        const row = attn.subarray(((layer * numHeads + head) * n + i) * n, ((layer * numHeads + head) * n + i + 1) * n);
        const diff = maxAbsDiff(softmax(logits), row);
        assert.ok(diff < 1e-5, `${name} row ${i}: ${diff}`);
      }
    }
  });

  it('converts the warm groups into the weight cache once idle, between requests, and keeps the reference', async () => {
    const fixture = openFixture('llama3-rope-scaled-bf16');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-weight-cache-'));
    const saved = [process.env[WEIGHT_CACHE_ENV], process.env[WEIGHT_CACHE_MIN_BYTES_ENV]];
    const restore = () => {
      for (const [i, name] of [WEIGHT_CACHE_ENV, WEIGHT_CACHE_MIN_BYTES_ENV].entries()) {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      }
    };
    const logged: string[] = [];
    const cached = new EngineClient(WORKER, (line) => logged.push(line));
    const entries = () => fs.readdirSync(dir).filter((e) => !e.includes('partial'));
    try {
      // The engine process copies the environment when the first request starts it.
      process.env[WEIGHT_CACHE_ENV] = dir;
      process.env[WEIGHT_CACHE_MIN_BYTES_ENV] = '0';
      try {
        await cached.load(fixture.folder, { name: 'llama3', source: fixture.folder });
      } finally {
        restore();
      }
      const expected = fixture.expected('case0.attentions').data;
      const first = await cached.analyze(fixture.cases[0].text);
      assert.ok(maxAbsDiff(new Float32Array(first.attentions.buffer), expected) <= 1e-4);
      assert.deepStrictEqual(entries(), [], 'nothing converted before the first result');
      // Idle: the worker converts (after 2 s without a request), one group at a time.
      const deadline = Date.now() + 30000;
      while (entries().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(entries().length > 0, 'converted once idle');
      // The output channel hears of it (the swap happens in the worker's queue, right after).
      while (!logged.some((l) => /converted to float32 into the weight cache/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(logged.some((l) => /^llama3: layers 1–\d+ of \d+ converted to float32 into the weight cache in [\d.]+ s/.test(l)), logged.join('\n'));
      const again = await cached.analyze(fixture.cases[0].text);
      assert.ok(maxAbsDiff(new Float32Array(again.attentions.buffer), expected) <= 1e-4);
    } finally {
      await cached.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
      fixture.close();
    }
  });

  it('step by step of a generated result reads its own q, k, v, also after another analysis ran (causal and encoder-decoder)', async () => {
    for (const [folder, block] of [[path.join(FIXTURES_ROOT, 'gpt2'), 'self'], [path.join(FIXTURES_2_ROOT, 'marian'), 'cross']] as const) {
      const name = path.basename(folder);
      await client.load(folder, { name, source: folder });
      const generated = await client.generateKept('The cat sat on the mat.', { maxNewTokens: 4, stopAtEos: false, processors: false }, { withTensors: true });
      const result = generated.result!;
      const blockOf = result.blocks?.find((b) => b.kind === block);
      const attentions = blockOf ? blockOf.attentions : result.attentions;
      const [, heads, queries, keys] = attentions.shape;
      assert.ok(attentions.dtype === 'float32');
      // Another text runs in between: step by step must not read its state.
      await client.analyzeKept('A different, longer text that the model analyzes in between the two.');
      const layer = 1, head = heads - 1;
      const reply = await client.view(generated.analysisId, { kind: 'headVectors', block, layer, head });
      assert.ok(reply.kind === 'headVectors');
      const v = reply.vectors;
      assert.strictEqual(v.q.shape[0], queries, `${name}: q covers prompt + generated tokens`);
      assert.strictEqual(v.k.shape[0], keys);
      const attn = new Float32Array(attentions.buffer);
      for (let i = 0; i < queries; i++) {
        const row = attn.subarray(((layer * heads + head) * queries + i) * keys, ((layer * heads + head) * queries + i + 1) * keys);
        const diff = maxAbsDiff(softmax(logitsRow(v, i)), row);
        assert.ok(diff < 1e-5, `${name} row ${i}: ${diff}`);
      }
    }
  });

  it('reports an unsupported model as an error and stays usable', async () => {
    const folder = path.join(FIXTURES_ROOT, 'bert');
    await rejectsWith(client.load('/nonexistent/model', { name: 'x', source: 'x' }), 'missing-file');
    await client.load(folder, { name: 'bert', source: folder });
  });

  it('dispose stops the worker thread', async () => {
    const before = EngineClient.liveWorkerCount();
    await client.load(path.join(FIXTURES_ROOT, 'bert'), { name: 'bert', source: 'bert' });
    assert.strictEqual(EngineClient.liveWorkerCount(), before + 1);
    await client.dispose();
    assert.strictEqual(EngineClient.liveWorkerCount(), before);
  });
});
