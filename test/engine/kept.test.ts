/**
 * Kept analyses (issue 10) against the reference: every case of every fixture in
 * ../shared/fixtures/hf-tiny and hf-tiny-2. Each layer's matrix recomputed from the kept hidden
 * state must match transformers' attentions within the fixtures' tolerance (1e-4), with the
 * layers' attention chunked one head at a time (the path long texts take); the summaries handed
 * out during the pass must be those of the reference matrices. Also: what a kept analysis holds
 * grows with n·hidden·layers and not with n²·layers, cancellation, progressive summaries, and step
 * by step for an analysis that is no longer the last one.
 */
import * as assert from 'assert';
import * as path from 'path';
import { EngineError } from '../../src/engine/errors';
import type { AttentionModel } from '../../src/engine/model';
import type { KeptAnalysis, LayerSummaries } from '../../src/engine/kept';
import type { Architecture } from '../../src/engine/architecture';
import { HeadScorerRegistry, PATTERN_SCORERS } from '../../src/analysis/scorers';
import { headScores } from '../../src/analysis/patterns';
import { attentionBlocks } from '../../src/protocol/types';
import { FAMILIES, loadModel } from '../../src/models';
import { Checkpoint } from '../../src/engine/checkpoint';
import { buildAttentionOnly } from '../../src/engine/kept';
import { ATTENTION_TOLERANCE, fixtureNames, FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

/** Pattern scores are means of probabilities: the attention tolerance bounds them; entropy (normalised) gets 10× that. */
const SCORE_TOLERANCE = { previousToken: ATTENTION_TOLERANCE, firstToken: ATTENTION_TOLERANCE, self: ATTENTION_TOLERANCE, entropy: 10 * ATTENTION_TOLERANCE, entropyBits: 10 * ATTENTION_TOLERANCE } as const;

const BLOCK_KEYS = { encoder: 'encoder_attentions', decoder: 'decoder_attentions', cross: 'cross_attentions' } as const;

function softmaxRow(logits: Float32Array): Float64Array {
  const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Summaries of one layer against the reference matrices `[heads, q, k]`. */
function checkSummaries(s: LayerSummaries, expected: Float32Array, causal: boolean, what: string): void {
  const { heads, queries, keys } = s;
  for (let h = 0; h < heads; h++) {
    const head = expected.subarray(h * queries * keys, (h + 1) * queries * keys);
    if (queries === keys) {
      const ref = headScores(head, queries, causal);
      for (const key of Object.keys(SCORE_TOLERANCE) as (keyof typeof SCORE_TOLERANCE)[]) {
        const ours = s.scores[key][h];
        if (Number.isNaN(ref[key])) assert.ok(Number.isNaN(ours), `${what} head ${h} ${key}: ${ours}, reference NaN`);
        else assert.ok(Math.abs(ours - ref[key]) <= SCORE_TOLERANCE[key], `${what} head ${h} ${key}: ${ours} vs ${ref[key]}`);
      }
    }
    // Thumbnail: each cell the largest reference value of its block, 8-bit relative to the head's maximum.
    const { rows, cols, data, maxima } = s.thumbnail;
    const rs = Math.ceil(queries / rows);
    const cs = Math.ceil(keys / cols);
    const pooled = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        for (let i = r * rs; i < Math.min(queries, (r + 1) * rs); i++) for (let j = c * cs; j < Math.min(keys, (c + 1) * cs); j++) pooled[r * cols + c] = Math.max(pooled[r * cols + c], head[i * keys + j]);
      }
    }
    const max = pooled.reduce((m, v) => Math.max(m, v), 0);
    assert.ok(Math.abs(maxima[h] - max) <= ATTENTION_TOLERANCE, `${what} head ${h} maximum ${maxima[h]} vs ${max}`);
    pooled.forEach((v, x) => {
      const cell = data[h * rows * cols + x];
      // ±1 level: the reference's values are within the tolerance of ours, relative to a maximum that is too.
      assert.ok(Math.abs(cell - (v / max) * 255) <= 1 + (255 * 2 * ATTENTION_TOLERANCE) / max, `${what} head ${h} thumbnail cell ${x}: ${cell} vs ${(v / max) * 255}`);
    });
  }
}

describe('kept analyses match transformers on every reference fixture', function () {
  this.timeout(120000);
  for (const root of [FIXTURES_ROOT, FIXTURES_2_ROOT]) {
    for (const name of fixtureNames(root)) {
      describe(`${path.basename(root)}/${name}`, () => {
        const fixture = openFixture(name, root);
        let model: AttentionModel;
        before(async () => {
          // One head per attention chunk: the path a long text takes on a large model.
          model = await loadModel(fixture.folder, { attentionHeadsPerChunk: 1 });
        });
        after(async () => {
          await model?.dispose();
          fixture.close();
        });
        fixture.cases.forEach((c, i) => {
          for (const keepQueriesAndKeys of [true, false]) it(`case ${i}: layers ${keepQueriesAndKeys ? 'from kept q/k' : 'recomputed from hidden states'}, summaries, head vectors`, async () => {
            const seen: LayerSummaries[] = [];
            const kept = await model.analyzeKept(c.text, { textPair: c.text_pair, target: c.decoder_text }, undefined, undefined, (s) => seen.push(...s), { keepQueriesAndKeys });
            try {
              assert.deepStrictEqual(kept.tokens.map((t) => t.id), c.input_ids, 'token ids');
              assert.deepStrictEqual(seen, kept.summaries, 'every summary was handed out during the pass');
              // Value norms are analyze's (test/engine/valueNorms.test.ts checks those against a direct computation).
              const full = await model.analyze(c.text, { textPair: c.text_pair, target: c.decoder_text });
              for (const block of attentionBlocks(full)) assert.deepStrictEqual(kept.valueNorms(block.kind), new Float32Array(block.valueNorms.buffer), `${block.kind} value norms`);
              for (const block of kept.blocks) {
                const key = block.kind === 'self' ? 'attentions' : BLOCK_KEYS[block.kind];
                const expected = fixture.expected(`case${i}.${key}`);
                const [layers, heads, queries, keys] = expected.shape;
                assert.deepStrictEqual([block.layers, block.heads, block.queryTokens.length, block.keyTokens.length], [layers, heads, queries, keys], `${block.kind} shape`);
                const size = heads * queries * keys;
                for (let l = 0; l < layers; l++) {
                  const ref = expected.data.subarray(l * size, (l + 1) * size);
                  const ours = await kept.attention(block.kind, l);
                  const diff = maxAbsDiff(ours, ref);
                  assert.ok(diff <= ATTENTION_TOLERANCE, `${block.kind} layer ${l} differs by ${diff.toExponential(2)}`);
                  const last = await kept.attention(block.kind, l, undefined, { from: heads - 1, to: heads });
                  assert.ok(maxAbsDiff(last, ref.subarray((heads - 1) * queries * keys)) <= ATTENTION_TOLERANCE, `${block.kind} layer ${l}, last head alone`);
                  const mean = await kept.headMean(block.kind, l);
                  const refMean = new Float64Array(queries * keys);
                  for (let h = 0; h < heads; h++) for (let j = 0; j < queries * keys; j++) refMean[j] += ref[h * queries * keys + j] / heads;
                  assert.ok(maxAbsDiff(mean, refMean) <= ATTENTION_TOLERANCE, `${block.kind} layer ${l} head mean`);
                  const summary = kept.summaries.find((s) => s.block === block.kind && s.layer === l);
                  assert.ok(summary, `${block.kind} layer ${l} summarised`);
                  checkSummaries(summary, ref, block.causal, `${block.kind} layer ${l}`);
                }
                // Step by step: softmax of the model's logits for a head is the reference row.
                const head = heads - 1;
                const vectors = await kept.headVectors(block.kind, layers - 1, head);
                const logits = new Float32Array(vectors.logits!.buffer);
                const refHead = expected.data.subarray(((layers - 1) * heads + head) * queries * keys, ((layers - 1) * heads + head + 1) * queries * keys);
                for (const row of [0, queries - 1]) {
                  const p = softmaxRow(logits.subarray(row * keys, (row + 1) * keys));
                  assert.ok(maxAbsDiff(p, refHead.subarray(row * keys, (row + 1) * keys)) <= ATTENTION_TOLERANCE, `${block.kind} step by step row ${row}`);
                }
              }
            } finally {
              kept.dispose();
            }
          });
        });
      });
    }
  }
});

describe('kept encoder-decoder analyses: step by step after another text', function () {
  this.timeout(120000);
  it('t5: the cross head vectors are this analysis\'s', async () => {
    const fixture = openFixture('t5', FIXTURES_2_ROOT);
    const model = await loadModel(fixture.folder);
    try {
      const [a, b] = fixture.cases;
      const kept = await model.analyzeKept(a.text, { target: a.decoder_text });
      await model.analyzeKept(b.text, { target: b.decoder_text });
      const vectors = await kept.headVectors('cross', 0, 0);
      assert.deepStrictEqual([vectors.q.shape[0], vectors.k.shape[0]], [a.decoder_input_ids!.length, a.input_ids.length]);
      const expected = fixture.expected('case0.cross_attentions');
      const [, , queries, keys] = expected.shape;
      const logits = new Float32Array(vectors.logits!.buffer);
      assert.ok(maxAbsDiff(softmaxRow(logits.subarray(0, keys)), expected.data.subarray(0, keys)) <= ATTENTION_TOLERANCE);
      assert.strictEqual(logits.length, queries * keys);
      kept.dispose();
    } finally {
      await model.dispose();
      fixture.close();
    }
  });
});

describe('kept analyses: memory, progress, cancellation, scorers', function () {
  this.timeout(120000);
  const fixture = openFixture('llama');
  let model: AttentionModel;
  // About 300 tokens: n² per layer is far above n·hidden (hidden 64).
  const longText = Array.from({ length: 18 }, (_, i) => `Sentence ${i} says the cat sat on mat ${i}.`).join(' ');
  before(async () => {
    model = await loadModel(fixture.folder);
  });
  after(async () => {
    await model?.dispose();
    fixture.close();
  });

  it('holds O(n·hidden·layers) bytes, not O(n²·layers)', async () => {
    const kept = await model.analyzeKept(longText);
    try {
      const n = kept.tokens.length;
      const { numLayers, numHeads, hiddenSize } = model.summary;
      assert.ok(n > 250, `${n} tokens`);
      const hidden = numLayers * n * hiddenSize * 4;
      const summaries = kept.summaries.reduce((a, s) => a + s.valueNorms.byteLength + s.thumbnail.data.byteLength + s.thumbnail.maxima.byteLength + Object.values(s.scores).reduce((b, v) => b + v.byteLength, 0), 0);
      // Position inputs: the causal mask (one n², shared by every layer) and rotary tables.
      const positions = n * n * 4 + 2 * n * model.summary.headDim * 4;
      // Each layer's q and its distinct key heads (grouped-query: 2 key heads for 4 query heads).
      const qk = numLayers * n * model.summary.headDim * (numHeads + model.summary.numKeyValueHeads) * 4;
      assert.strictEqual(kept.bytesHeld, hidden + positions + summaries + qk, 'kept hidden states, q/k, position inputs and summaries only');
      const attentions = numLayers * numHeads * n * n * 4;
      assert.ok(kept.bytesHeld < attentions / 4, `${kept.bytesHeld} bytes held; the attentions would be ${attentions}`);
      // Recomputing a layer keeps only its q/k (n·heads·d), not its matrices.
      await kept.attention('self', 1);
      assert.strictEqual(kept.bytesHeld, hidden + positions + summaries + qk, `${kept.bytesHeld} after a recompute`);
      const recomputing = await model.analyzeKept(longText, {}, undefined, undefined, undefined, { keepQueriesAndKeys: false });
      await recomputing.attention('self', 1);
      assert.ok(recomputing.bytesHeld <= hidden + positions + summaries + 2 * n * numHeads * model.summary.headDim * 4, `${recomputing.bytesHeld} after a recompute from hidden states`);
      recomputing.dispose();
      kept.dispose();
      assert.strictEqual(kept.bytesHeld, 0, 'nothing held once released');
      await assert.rejects(kept.attention('self', 0), (err: unknown) => err instanceof EngineError && err.code === 'not-loaded');
    } finally {
      kept.dispose();
    }
  });

  it('hands out summaries group by group while the pass runs, and is cancelled between groups', async () => {
    // Room for one warm layer plus building one streamed layer: the rest stream one by one.
    const streamed = await loadModel(fixture.folder, { memoryLimitGB: (2.9 * model.memory.layerBytes) / 1e9 });
    try {
      assert.ok(streamed.memory.groups.length > 1, 'several layer groups');
      const calls: number[][] = [];
      const kept = await streamed.analyzeKept(longText, {}, undefined, undefined, (s) => calls.push(s.map((x) => x.layer)));
      assert.deepStrictEqual(calls, streamed.memory.groups, 'one call per layer group, in order');
      kept.dispose();
      const controller = new AbortController();
      await assert.rejects(
        streamed.analyzeKept(longText, {}, controller.signal, undefined, () => controller.abort()),
        (err: unknown) => err instanceof EngineError && err.code === 'cancelled',
      );
    } finally {
      await streamed.dispose();
    }
  });

  it('a recompute is cancelled by its signal', async () => {
    const kept = await model.analyzeKept(longText);
    try {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(kept.attention('self', 0, controller.signal), (err: unknown) => err instanceof EngineError && err.code === 'cancelled');
      await assert.rejects(kept.headMean('self', 0, controller.signal), (err: unknown) => err instanceof EngineError && err.code === 'cancelled');
    } finally {
      kept.dispose();
    }
  });

  it('step by step belongs to its analysis, not to the text analyzed last', async () => {
    const c = fixture.cases[0];
    const first = await model.analyzeKept(c.text);
    const second = await model.analyzeKept(longText);
    await model.analyze(fixture.cases[1].text);
    try {
      const vectors = await first.headVectors('self', 2, 1);
      assert.deepStrictEqual(vectors.q.shape, [c.input_ids.length, model.summary.headDim]);
      const expected = fixture.expected('case0.attentions');
      const n = c.input_ids.length;
      const logits = new Float32Array(vectors.logits!.buffer);
      const row = n - 1;
      const at = ((2 * model.summary.numHeads + 1) * n + row) * n;
      assert.ok(maxAbsDiff(softmaxRow(logits.subarray(row * n, (row + 1) * n)), expected.data.subarray(at, at + n)) <= ATTENTION_TOLERANCE);
      assert.strictEqual((await second.headVectors('self', 0, 0)).q.shape[0], second.tokens.length);
    } finally {
      first.dispose();
      second.dispose();
    }
  });

  it('runs every scorer of its registry', async () => {
    const scorers = new HeadScorerRegistry([...PATTERN_SCORERS, { key: 'lastRowMax', score: (h) => Math.max(...h.probs.subarray((h.queries - 1) * h.keys)) }]);
    assert.throws(() => scorers.register(PATTERN_SCORERS[0]), /registered twice/);
    const kept = await model.analyzeKept(fixture.cases[0].text, {}, undefined, undefined, undefined, { scorers });
    try {
      const n = kept.tokens.length;
      const layer0 = await kept.attention('self', 0);
      const s = kept.summaries[0];
      assert.deepStrictEqual(Object.keys(s.scores), ['previousToken', 'firstToken', 'self', 'entropy', 'entropyBits', 'lastRowMax']);
      for (let h = 0; h < s.heads; h++) {
        const row = layer0.subarray((h * n + n - 1) * n, (h + 1) * n * n);
        assert.strictEqual(s.scores.lastRowMax[h], Math.fround(Math.max(...row)));
      }
    } finally {
      kept.dispose();
    }
  });

  it('refuses a text longer than the model positions, not one whose attentions exceed the n² budget', async () => {
    const limit = model.summary.maxTokens!;
    await assert.rejects(model.analyzeKept('word '.repeat(limit + 10)), (err: unknown) => err instanceof EngineError && err.code === 'too-long' && /handles at most 512 tokens/.test(err.message));
    const kept: KeptAnalysis = await model.analyzeKept('word '.repeat(limit + 10), { truncateTo: limit });
    try {
      assert.strictEqual(kept.tokens.length, limit);
      assert.ok(kept.truncatedFrom! > limit);
    } finally {
      kept.dispose();
    }
  });
});

describe('attention-only graphs', () => {
  it("hold a layer's norm and q/k projections, not its MLP, v or output projection", () => {
    const fixture = openFixture('llama');
    const ckpt = Checkpoint.open(fixture.folder);
    try {
      const arch = FAMILIES.create(ckpt) as Architecture;
      const { hiddenSize, numHeads, numKeyValueHeads, headDim } = arch.summary;
      const qk = 4 * hiddenSize * (numHeads + numKeyValueHeads) * headDim;
      const small = 4 * (hiddenSize + headDim * headDim) + 4096; // input norm, rotate_half, constants
      const built = buildAttentionOnly(arch, 1, false);
      assert.ok(built.weightBytes >= qk && built.weightBytes <= qk + small, `${built.weightBytes} bytes of weights; q/k projections are ${qk}, the whole layer ${arch.layerBytes}`);
      const withValues = buildAttentionOnly(arch, 1, true);
      assert.ok(withValues.weightBytes - built.weightBytes >= 4 * hiddenSize * numKeyValueHeads * headDim && withValues.weightBytes < arch.layerBytes / 2);
    } finally {
      ckpt.close();
      fixture.close();
    }
  });
});
