/** Kept encoder-decoder analyses are bounded by what they keep (q/k per layer, the stacks' terms once) plus one step at a time, not by n² per layer. */
import * as assert from 'assert';
import { crossSite, positionInput, selfSite, type PositionInput } from '../../src/engine/architecture';
import { keptSeq2seqBytes, type Seq2seqShape } from '../../src/engine/keptSeq2seq';
import { THUMBNAIL_SIZE } from '../../src/engine/kept';

const GB = 1e9;
const none = () => new Float32Array();
const STACK = { numLayers: 12, numHeads: 12, headDim: 64, hiddenSize: 768 };

/** T5-base's shape: a `[heads, n, n]` relative bias per stack, the decoder's summed with its causal mask. */
function t5Base(): Seq2seqShape {
  const encoderBias = positionInput('position_bias', [12, 'n', 'n'], none);
  const decoderBias = positionInput('position_bias', [12, 'n', 'n'], none);
  const causal = positionInput('causal_mask', ['n', 'n'], none);
  const encoderOutput = positionInput('encoder_output', ['m', 768], none);
  return {
    encoder: STACK,
    decoder: STACK,
    encoderInputs: [encoderBias],
    decoderInputs: [decoderBias, causal, encoderOutput],
    encoderSites: [selfSite(1, [encoderBias])],
    decoderSites: [selfSite(1, [decoderBias, causal]), crossSite(1)],
    encoderChunks: 2,
    decoderChunks: 3,
    layersPerChunk: 6,
    headsPerChunk: 2,
  };
}

/** BART-base's shape: learned positions (in the embedding), the decoder's causal mask. */
function bartBase(): Seq2seqShape {
  const causal: PositionInput = positionInput('causal_mask', ['n', 'n'], none);
  const stack = { ...STACK, numLayers: 6 };
  return { ...t5Base(), encoder: stack, decoder: stack, encoderInputs: [], decoderInputs: [causal, positionInput('encoder_output', ['m', 768], none)], encoderSites: [selfSite(0.125)], decoderSites: [selfSite(0.125, [causal]), crossSite(0.125)], encoderChunks: 1, decoderChunks: 2, headsPerChunk: 12 };
}

/** `analyze`'s limit for the full tensors (EncoderDecoderRunner.limitsFor): the three blocks' n² within 2 GiB as float16. */
function fullTensorLimit(s: Seq2seqShape): number {
  const perSquare = s.encoder.numLayers * s.encoder.numHeads + 2 * s.decoder.numLayers * s.decoder.numHeads;
  return Math.floor(Math.sqrt((2 * 1024 ** 3) / 2 / perSquare));
}

describe('kept encoder-decoder memory', () => {
  it('T5-base: a 4,096-token text needs under 3 GB at its peak (0.8 GB of it the shared bias, 0.8 GB its copy split by head chunks in the running layer); the full tensors stop near 1,600 tokens', () => {
    const bytes = keptSeq2seqBytes(t5Base(), 4096, 128);
    assert.ok(bytes < 3 * GB, `${(bytes / GB).toFixed(2)} GB at 4,096 + 128 tokens`);
    assert.ok(fullTensorLimit(t5Base()) < 1600, `analyze's limit ${fullTensorLimit(t5Base())}`);
  });

  it("BART-base: its 1,024 positions on both sides fit in 1 GB (most of it one layer's attention in the graph, all heads at once)", () => {
    const bytes = keptSeq2seqBytes(bartBase(), 1024, 1024);
    assert.ok(bytes < 1 * GB, `${(bytes / GB).toFixed(2)} GB`);
  });

  it("grows with the layers by their q/k and summaries, not by n² each; T5's bias counts once per stack", () => {
    const [n, t] = [2048, 256];
    const shape = t5Base();
    const deeper = { ...shape, decoder: { ...shape.decoder, numLayers: 24 } };
    const { numHeads: H, headDim: d } = shape.decoder;
    const perLayer = 4 * H * d * (3 * t + n) + H * (4 * (t + n + 16) + 2 * THUMBNAIL_SIZE * THUMBNAIL_SIZE);
    assert.strictEqual(keptSeq2seqBytes(deeper, n, t) - keptSeq2seqBytes(shape, n, t), 12 * perLayer);
    // The encoder's bias `[12, n, n]`: doubling n adds 4× its bytes once, whatever the layer count.
    const deepEncoder = { ...shape, encoder: { ...shape.encoder, numLayers: 24 } };
    const growth = (s: Seq2seqShape) => keptSeq2seqBytes(s, 2 * n, t) - keptSeq2seqBytes(s, n, t);
    assert.ok(growth(deepEncoder) - growth(shape) < 4 * 12 * n * n, 'more layers add no n² of their own');
  });
});
