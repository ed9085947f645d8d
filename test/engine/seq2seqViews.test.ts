/**
 * Encoder-decoders on the view protocol, through the engine worker: the analysis stays in the
 * engine, the answer is its summaries for all three blocks (encoder self, decoder self, cross), and
 * every view of a block (a cross head, a layer mean, thumbnails, q/k/v) is a request with the block,
 * checked against the transformers reference in hf-tiny-2.
 */
import * as assert from 'assert';
import * as path from 'path';
import { EngineClient } from '../../src/worker/engineClient';
import { resultBuffers } from '../../src/protocol/types';
import { summaryBuffers, type AnalysisInfo, type BlockSummaries, type MatrixReply } from '../../src/protocol/views';
import { ATTENTION_TOLERANCE, FIXTURES_2_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const BLOCK_KEYS = { encoder: 'encoder_attentions', decoder: 'decoder_attentions', cross: 'cross_attentions' } as const;

/** One head `[rows, cols]` of a reference `[layers, heads, rows, cols]` tensor. */
function referenceHead(ref: { data: Float32Array; shape: number[] }, layer: number, head: number): Float32Array {
  const [, heads, rows, cols] = ref.shape;
  return ref.data.subarray((layer * heads + head) * rows * cols, (layer * heads + head + 1) * rows * cols);
}

describe('encoder-decoders on the view protocol (engine worker)', function () {
  this.timeout(120000);
  let client: EngineClient;
  beforeEach(() => {
    client = new EngineClient(WORKER);
  });
  afterEach(() => client.dispose());

  for (const name of ['bart', 't5', 'marian', 'mbart']) {
    it(`${name}: kept in the engine, summaries of the three blocks, each block's head views equal to the reference`, async () => {
      const fixture = openFixture(name, FIXTURES_2_ROOT);
      try {
        await client.load(fixture.folder, { name, source: fixture.folder });
        const c = fixture.cases[0];
        const progress: { info: AnalysisInfo; summaries: BlockSummaries[] }[] = [];
        const kept = await client.analyzeKept(c.text, { target: c.decoder_text }, { onSummaries: (_id, info, summaries) => progress.push({ info, summaries }) });
        assert.strictEqual(kept.result, undefined, 'no tensors come with the analysis');
        // Progressive: the encoder's summaries first (the model view fills in), then the decoder's and cross's.
        assert.deepStrictEqual(progress.map((p) => p.summaries.map((b) => `${b.block}:${b.layersDone}/${b.layers}`)), [
          ['encoder:3/3', 'decoder:0/2', 'cross:0/2'],
          ['encoder:3/3', 'decoder:2/2', 'cross:2/2'],
        ], 'one summaries message per stack chunk');
        assert.deepStrictEqual(progress[0].info.decoderTokens?.map((t) => t.id), c.decoder_input_ids, 'the early info names the decoder tokens');
        assert.deepStrictEqual(progress[1].summaries[2].scores, kept.summaries[2].scores, 'the last message has the final summaries');
        const nEnc = c.input_ids.length;
        const nDec = c.decoder_input_ids!.length;
        assert.deepStrictEqual(kept.info.blocks.map((b) => [b.kind, b.queryTokens.length, b.keyTokens.length]), [['encoder', nEnc, nEnc], ['decoder', nDec, nDec], ['cross', nDec, nEnc]]);
        assert.strictEqual(kept.info.target, c.decoder_text);
        assert.deepStrictEqual(kept.info.decoderTokens?.map((t) => t.id), c.decoder_input_ids);
        assert.deepStrictEqual(kept.summaries.map((s) => s.block), ['encoder', 'decoder', 'cross']);
        // The summaries are small: value norms, 8-bit thumbnails, scores.
        const summaryBytes = summaryBuffers(kept.summaries).reduce((a, b) => a + b.byteLength, 0);
        const tensorBytes = kept.info.blocks.reduce((a, b) => a + 4 * b.layers * b.heads * b.queryTokens.length * b.keyTokens.length, 0);
        assert.ok(summaryBytes < tensorBytes, `summaries ${summaryBytes} B, tensors ${tensorBytes} B`);
        const cross = kept.summaries[2];
        assert.deepStrictEqual([cross.thumbnails.rows, cross.thumbnails.cols], [nDec, nEnc], 'short texts: one thumbnail cell per token');
        assert.strictEqual(cross.scores.length, cross.layers * cross.heads);
        assert.ok(cross.scores.every((s) => Number.isFinite(s.entropyBits) && s.entropyBits >= 0));
        for (const kind of ['encoder', 'decoder', 'cross'] as const) {
          const ref = fixture.expected(`case0.${BLOCK_KEYS[kind]}`);
          const [layers, heads] = ref.shape;
          const block = kept.info.blocks.find((b) => b.kind === kind)!;
          assert.deepStrictEqual([block.layers, block.heads], [layers, heads]);
          // Every layer (a different head in each, and the last head of the last).
          for (const [layer, head] of [...Array.from({ length: layers }, (_, l) => [l, l % heads]), [layers - 1, heads - 1]]) {
            const reply = (await client.view(kept.analysisId, { kind: 'matrix', block: kind, mode: 'head', layer, head, special: 'show', mergeWords: false })) as MatrixReply;
            assert.strictEqual(reply.kind, 'matrix');
            const rows = block.queryTokens.length;
            assert.strictEqual(reply.rowCount, rows);
            assert.strictEqual(reply.size, block.keyTokens.length);
            if (kind === 'cross') assert.deepStrictEqual(reply.rowItems?.map((it) => it.tokens[0]), Array.from({ length: nDec }, (_, i) => i));
            const diff = maxAbsDiff(new Float32Array(reply.data), referenceHead(ref, layer, head));
            assert.ok(diff <= ATTENTION_TOLERANCE, `${kind} L${layer} H${head}: diff ${diff}`);
          }
        }
        // The cross layer mean is the mean of the reference heads.
        const ref = fixture.expected(`case0.${BLOCK_KEYS.cross}`);
        const [, heads] = ref.shape;
        const mean = new Float32Array(nDec * nEnc);
        for (let h = 0; h < heads; h++) referenceHead(ref, 1, h).forEach((v, i) => (mean[i] += v / heads));
        const layerMean = (await client.view(kept.analysisId, { kind: 'matrix', block: 'cross', mode: 'layerMean', layer: 1, head: 0, special: 'show', mergeWords: false })) as MatrixReply;
        assert.ok(maxAbsDiff(new Float32Array(layerMean.data), mean) <= ATTENTION_TOLERANCE);
        // Rollout is not defined for a rectangular block, and says so.
        await assert.rejects(client.view(kept.analysisId, { kind: 'matrix', block: 'cross', mode: 'rollout', layer: 1, head: 0, special: 'show', mergeWords: false }), /Rollout is not defined for the cross block/);
        // Step by step of a cross head: decoder queries, encoder keys, this analysis's logits.
        const vectors = await client.view(kept.analysisId, { kind: 'headVectors', block: 'cross', layer: 1, head: 1 });
        assert.strictEqual(vectors.kind, 'headVectors');
        if (vectors.kind === 'headVectors') {
          assert.deepStrictEqual([vectors.vectors.q.shape[0], vectors.vectors.k.shape[0], vectors.vectors.v.shape[0]], [nDec, nEnc, nEnc]);
          assert.deepStrictEqual(vectors.vectors.logits?.shape, [nDec, nEnc]);
        }
        // The NumPy export's tensor of each block, asked of the engine: every layer and head of it.
        for (const kind of ['encoder', 'decoder', 'cross'] as const) {
          const tensor = await client.view(kept.analysisId, { kind: 'tensor', block: kind });
          assert.ok(tensor.kind === 'tensor');
          const expected = fixture.expected(`case0.${BLOCK_KEYS[kind]}`);
          assert.deepStrictEqual(tensor.tensor.shape, expected.shape, `${kind} tensor shape`);
          const diff = maxAbsDiff(new Float32Array(tensor.tensor.buffer), expected.data);
          assert.ok(diff <= ATTENTION_TOLERANCE, `${kind} tensor: diff ${diff}`);
        }
      } finally {
        fixture.close();
      }
    });
  }

  it('bart: the cross thumbnails are rectangular and the value-weighted cross head renormalises rows', async () => {
    const fixture = openFixture('bart', FIXTURES_2_ROOT);
    try {
      await client.load(fixture.folder, { name: 'bart', source: fixture.folder });
      const c = fixture.cases[0];
      const kept = await client.analyzeKept(c.text, { target: c.decoder_text });
      const nEnc = c.input_ids.length;
      const nDec = c.decoder_input_ids!.length;
      const thumbs = await client.view(kept.analysisId, { kind: 'thumbnails', block: 'cross', flavour: 'head', special: 'show', mergeWords: false, cells: 4 });
      assert.ok(thumbs.kind === 'thumbnails');
      if (thumbs.kind === 'thumbnails') {
        assert.deepStrictEqual([thumbs.rows, thumbs.cols, thumbs.count], [Math.ceil(nDec / Math.ceil(nDec / 4)), Math.ceil(nEnc / Math.ceil(nEnc / 4)), 8]);
        assert.strictEqual(thumbs.data.byteLength, 8 * thumbs.rows! * thumbs.cols!);
      }
      const weighted = (await client.view(kept.analysisId, { kind: 'matrix', block: 'cross', mode: 'valueWeighted', layer: 0, head: 2, special: 'show', mergeWords: false })) as MatrixReply;
      const data = new Float32Array(weighted.data);
      for (let i = 0; i < nDec; i++) {
        const sum = data.subarray(i * nEnc, (i + 1) * nEnc).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
      }
      // Hiding special tokens and merging words are self-attention options: refused by name for cross.
      await assert.rejects(client.view(kept.analysisId, { kind: 'matrix', block: 'cross', mode: 'head', layer: 0, head: 0, special: 'hide', mergeWords: false }), /special: 'show', mergeWords: false/);
      await assert.rejects(client.view(kept.analysisId, { kind: 'rows', block: 'cross', flavour: 'head', special: 'show', mergeWords: false, token: 0 }), /not square/);
    } finally {
      fixture.close();
    }
  });

  it('with the tensors asked for (the host test API), the result is built from the kept analysis and equals the reference', async () => {
    const fixture = openFixture('bart', FIXTURES_2_ROOT);
    try {
      await client.load(fixture.folder, { name: 'bart', source: fixture.folder });
      const c = fixture.cases[0];
      const kept = await client.analyzeKept(c.text, { target: c.decoder_text }, { withTensors: true });
      const blocks = kept.result?.blocks ?? [];
      assert.deepStrictEqual(blocks.map((b) => b.kind), ['encoder', 'decoder', 'cross']);
      for (const block of blocks) {
        const diff = maxAbsDiff(new Float32Array(block.attentions.buffer), fixture.expected(`case0.${BLOCK_KEYS[block.kind as keyof typeof BLOCK_KEYS]}`).data);
        assert.ok(diff <= ATTENTION_TOLERANCE, `${block.kind}: diff ${diff}`);
      }
      assert.ok(resultBuffers(kept.result!).length >= 3);
      assert.strictEqual(kept.result!.target, c.decoder_text);
    } finally {
      fixture.close();
    }
  });
});
