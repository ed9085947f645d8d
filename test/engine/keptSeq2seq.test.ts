/**
 * Kept encoder-decoder analyses (issue 10): what they hold (each layer's q/k of the three blocks, the
 * stacks' additive terms once, chunk inputs, summaries; no n² per layer), summaries handed out stack
 * chunk by stack chunk with the views of computed layers served while the pass is held, cancellation,
 * and lengths bounded by the positions, not by analyze's n² budget. The views themselves are checked
 * against the references for every fixture, block and layer in kept.test.ts.
 */
import * as assert from 'assert';
import { EngineError } from '../../src/engine/errors';
import type { AttentionModel } from '../../src/engine/model';
import type { KeptAnalysis, LayerSummaries } from '../../src/engine/kept';
import { summaryBytes } from '../../src/engine/kept';
import { loadModel } from '../../src/models';
import { holdFirstGroup, isPending } from '../helpers/passHold';
import { ATTENTION_TOLERANCE, checkCase, FIXTURES_2_ROOT, maxAbsDiff, openFixture, type Fixture } from '../helpers/fixtures';

const longText = Array.from({ length: 18 }, (_, i) => `Sentence ${i} says the cat sat on mat ${i}.`).join(' ');
const longTarget = 'The cat sat on the mat, and then the dog sat on the rug beside it.';

/** The fixture's model for the tests of a describe block (loaded before them, released after). */
function fixtureModel(name: string, options: Parameters<typeof loadModel>[1] = {}): { fixture: Fixture; model: () => AttentionModel } {
  const fixture = openFixture(name, FIXTURES_2_ROOT);
  let model: AttentionModel | undefined;
  before(async () => {
    model = await loadModel(fixture.folder, options);
  });
  after(async () => {
    await model?.dispose();
    fixture.close();
  });
  return { fixture, model: () => model! };
}

/** Layer `layer` `[heads, q, k]` of a reference block. */
function referenceLayer(fixture: Fixture, key: string, layer: number): Float32Array {
  const ref = fixture.expected(key);
  const [, heads, q, k] = ref.shape;
  return ref.data.subarray(layer * heads * q * k, (layer + 1) * heads * q * k);
}

for (const name of ['bart', 't5']) {
  describe(`kept encoder-decoder analyses (${name})`, function () {
    this.timeout(120000);
    const { model } = fixtureModel(name);

    it("holds each layer's q/k, the stacks' terms once, chunk inputs and summaries: no n² per layer", async () => {
      const kept = await model().analyzeKept(longText, { target: longTarget });
      try {
        const n = kept.tokens.length;
        const t = kept.decoderTokens!.length;
        assert.ok(n > 250 && t > 10, `${n} + ${t} tokens`);
        const { numLayers, numHeads, headDim, hiddenSize } = model().summary;
        const dec = model().summary.decoder!;
        const qk = 4 * (numLayers * numHeads * headDim * 2 * n + dec.numLayers * dec.numHeads * dec.headDim * (3 * t + n));
        // Position inputs: T5's relative bias once per stack (the decoder's summed once with its causal
        // mask), the causal mask; BART's positions are in its embedding. The decoder reads the encoder output.
        const t5 = name === 't5';
        const positions = (t5 ? 4 * numHeads * n * n + 2 * 4 * dec.numHeads * t * t : 0) + 4 * t * t + 4 * n * hiddenSize;
        // One chunk per stack on these small models: its input is the embedding.
        const chunkInputs = 4 * (n + t) * hiddenSize;
        const summaries = kept.summaries.reduce((a, s) => a + summaryBytes(s), 0);
        assert.strictEqual(kept.bytesHeld, qk + positions + chunkInputs + summaries, 'q/k, position inputs and terms, chunk inputs, summaries');
        const attentions = 4 * (numLayers * numHeads * n * n + dec.numLayers * dec.numHeads * (t * t + t * n));
        if (!t5) assert.ok(kept.bytesHeld < attentions / 4, `${kept.bytesHeld} bytes held; the attentions would be ${attentions}`);
        // A view forms its probabilities and keeps nothing more.
        await kept.attention('cross', 1);
        await kept.headMean('encoder', 2);
        await kept.headVectors('cross', 1, 0);
        assert.strictEqual(kept.bytesHeld, qk + positions + chunkInputs + summaries, `${kept.bytesHeld} after views`);
        kept.dispose();
        assert.strictEqual(kept.bytesHeld, 0, 'nothing held once released');
        await assert.rejects(kept.attention('encoder', 0), (err: unknown) => err instanceof EngineError && err.code === 'not-loaded');
      } finally {
        kept.dispose();
      }
    });
  });
}

describe('encoder-decoders in one layer per stack chunk (as large models run)', function () {
  this.timeout(120000);
  for (const name of ['bart', 't5']) {
    it(`${name}: analyze and the kept analysis equal the reference in every block and layer; summaries come per chunk`, async () => {
      const fixture = openFixture(name, FIXTURES_2_ROOT);
      // A chunk that starts past layer 0 names its outputs after names its decoder layer gave its own values (it failed to load before).
      const model = await loadModel(fixture.folder, { stackLayersPerChunk: 1 });
      try {
        await checkCase(model, fixture, 0);
        const c = fixture.cases[0];
        const calls: string[][] = [];
        const kept = await model.analyzeKept(c.text, { target: c.decoder_text }, undefined, undefined, (s) => calls.push(s.map((x) => `${x.block}${x.layer}`)));
        assert.deepStrictEqual(calls, [['encoder0'], ['encoder1'], ['encoder2'], ['decoder0', 'cross0'], ['decoder1', 'cross1']]);
        for (const block of kept.blocks) {
          for (let l = 0; l < block.layers; l++) {
            const diff = maxAbsDiff(await kept.attention(block.kind, l), referenceLayer(fixture, `case0.${block.kind}_attentions`, l));
            assert.ok(diff <= ATTENTION_TOLERANCE, `${block.kind} layer ${l}: ${diff}`);
          }
        }
        const vectors = await kept.headVectors('cross', 1, 2);
        assert.deepStrictEqual([vectors.q.shape[0], vectors.k.shape[0]], [c.decoder_input_ids!.length, c.input_ids.length]);
        // Value norms and step by step as the model in one chunk per stack computes them (test/engine/valueNorms.test.ts checks those).
        const whole = await loadModel(fixture.folder);
        const reference = await whole.analyzeKept(c.text, { target: c.decoder_text });
        for (const block of kept.blocks) assert.deepStrictEqual(kept.valueNorms(block.kind), reference.valueNorms(block.kind), `${block.kind} value norms`);
        assert.deepStrictEqual(vectors, await reference.headVectors('cross', 1, 2), 'cross head vectors');
        reference.dispose();
        await whole.dispose();
        kept.dispose();
      } finally {
        await model.dispose();
        fixture.close();
      }
    });
  }
});

describe('kept encoder-decoder analyses: progress, views during the pass, cancellation, limits', function () {
  this.timeout(120000);
  const { fixture, model } = fixtureModel('t5');

  it('hands out summaries per stack chunk; an encoder layer is served while the decoder waits, a cross layer once it is computed', async () => {
    const c = fixture.cases[0];
    const calls: LayerSummaries[][] = [];
    let started: KeptAnalysis | undefined;
    const hold = holdFirstGroup();
    const pass = model().analyzeKept(c.text, { target: c.decoder_text }, undefined, undefined, (s) => calls.push(s), { onStart: (analysis) => (started = analysis), testHoldAfterGroup: hold.hook });
    let passDone = false;
    void pass.then(() => (passDone = true), () => undefined);
    await hold.reached;
    assert.ok(started, 'the analysis exists before its pass ends');
    assert.deepStrictEqual(calls.map((s) => s.map((x) => `${x.block}${x.layer}`)), [['encoder0', 'encoder1', 'encoder2']], 'the encoder chunk first');
    await started.whenComputed!('encoder', 2);
    const encoder = await started.attention('encoder', 2);
    assert.strictEqual(passDone, false, 'answered before the pass finished');
    assert.ok(maxAbsDiff(encoder, referenceLayer(fixture, 'case0.encoder_attentions', 2)) <= ATTENTION_TOLERANCE);
    await assert.rejects(started.attention('cross', 0), /Layer 1 of the cross attention has not been computed yet/);
    const waiting = started.whenComputed!('cross', 1);
    assert.ok(await isPending(waiting), 'the cross layer waits for the decoder');
    hold.release();
    await waiting;
    const kept = await pass;
    assert.strictEqual(kept, started, 'the analysis handed out at the start is the one kept');
    assert.deepStrictEqual(calls.map((s) => s.map((x) => `${x.block}${x.layer}`)), [['encoder0', 'encoder1', 'encoder2'], ['decoder0', 'cross0', 'decoder1', 'cross1']]);
    assert.ok(maxAbsDiff(await kept.attention('cross', 1), referenceLayer(fixture, 'case0.cross_attentions', 1)) <= ATTENTION_TOLERANCE);
    assert.deepStrictEqual(await kept.attention('encoder', 2), encoder, 'the same matrix after the pass as during it');
    kept.dispose();
  });

  it('released while its pass runs, it keeps nothing the pass computes after that', async () => {
    let started: KeptAnalysis | undefined;
    const hold = holdFirstGroup();
    const pass = model().analyzeKept(longText, { target: longTarget }, undefined, undefined, undefined, { onStart: (analysis) => (started = analysis), testHoldAfterGroup: hold.hook });
    await hold.reached;
    started!.dispose();
    hold.release();
    const kept = await pass;
    assert.strictEqual(kept.bytesHeld, 0);
    assert.strictEqual(kept.summaries.length, 0);
    await assert.rejects(kept.attention('cross', 0), /released/);
  });

  it('is cancelled between stack chunks; what waits for a later layer fails, saying why', async () => {
    const controller = new AbortController();
    let started: KeptAnalysis | undefined;
    let waiting: Promise<unknown> | undefined;
    const pass = model().analyzeKept(longText, { target: longTarget }, controller.signal, undefined, () => {
      waiting = started!.whenComputed!('decoder', 0).then(() => 'resolved', (err: Error) => err);
      controller.abort();
    }, { onStart: (analysis) => (started = analysis) });
    await assert.rejects(pass, (err: unknown) => err instanceof EngineError && err.code === 'cancelled');
    const outcome = await waiting;
    assert.ok(outcome instanceof EngineError && /stopped after 3 of 5 layers/.test(outcome.message), String(outcome));
  });

  it('BART is bounded by its position table (max_position_embeddings), the text and the decoder text each', async () => {
    const bart = openFixture('bart', FIXTURES_2_ROOT);
    const bartModel = await loadModel(bart.folder);
    try {
      const limit = 1024;
      await assert.rejects(bartModel.analyzeKept('word '.repeat(limit + 10), { target: 'a' }), (err: unknown) => err instanceof EngineError && err.code === 'too-long' && /handles at most 1024 tokens/.test(err.message));
      await assert.rejects(bartModel.analyzeKept('word', { target: 'word '.repeat(limit + 10) }), (err: unknown) => err instanceof EngineError && err.code === 'too-long' && /decoder handles at most 1024 tokens/.test(err.message));
      const cut = await bartModel.analyzeKept('word '.repeat(limit + 10), { target: 'a', truncateTo: limit });
      assert.strictEqual(cut.tokens.length, limit);
      assert.ok(cut.truncatedFrom! > limit);
      cut.dispose();
    } finally {
      await bartModel.dispose();
      bart.close();
    }
  });
});
