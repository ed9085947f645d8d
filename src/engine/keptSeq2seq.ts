/**
 * Encoder-decoders behind the kept-analysis interface, for now with their full tensors: the
 * encoder-decoder runner returns every block's `[layers, heads, queries, keys]` and this wraps
 * them (summaries of all three blocks, cross-attention included, computed here at once; matrices
 * sliced on request). The tensors stay in the engine: the panel gets summaries and asks for views.
 * Their length stays bounded by the n² budget of `analyze` until their runner keeps hidden states too.
 */
import type { AttentionBlockKind, AttentionResult, HeadVectors } from '../protocol/types';
import { attentionBlocks } from '../protocol/types';
import { readTensorRange } from '../analysis/tensor';
import type { HeadScorerRegistry } from '../analysis/scorers';
import { EngineError } from './errors';
import { blockValueNorms, emptySummaries, rowEntropies, summarizeHeads, summaryBytes, type BlockMeta, type KeptAnalysis, type LayerSummaries } from './kept';

export function keptFromResult(
  result: AttentionResult,
  scorers: HeadScorerRegistry,
  onSummaries: ((summaries: LayerSummaries[]) => void) | undefined,
  headVectors: (layer: number, head: number, block: AttentionBlockKind) => Promise<HeadVectors>,
): KeptAnalysis {
  const blocks = attentionBlocks(result);
  const summaries: LayerSummaries[] = [];
  for (const block of blocks) {
    const [layers, heads, queries, keys] = block.attentions.shape;
    const done: LayerSummaries[] = [];
    for (let layer = 0; layer < layers; layer++) {
      const probs = readTensorRange(block.attentions, layer * heads * queries * keys, heads * queries * keys);
      const entropy = new Float32Array(heads * queries);
      for (let h = 0; h < heads; h++) entropy.set(rowEntropies(probs.subarray(h * queries * keys, (h + 1) * queries * keys), queries, keys), h * queries);
      const summary = emptySummaries(block.kind, layer, heads, queries, keys, readTensorRange(block.valueNorms, layer * heads * keys, heads * keys), scorers);
      summarizeHeads(summary, scorers, 0, heads, probs, entropy, block.causal, block.queryTokens.map((t) => t.id), block.keyTokens.map((t) => t.id));
      done.push(summary);
    }
    summaries.push(...done);
    onSummaries?.(done);
  }
  const metas: BlockMeta[] = blocks.map(({ attentions, valueNorms: _norms, ...meta }) => ({ ...meta, layers: attentions.shape[0], heads: attentions.shape[1] }));
  let released = false;
  const find = (kind: AttentionBlockKind, layer: number) => {
    if (released) throw new EngineError('not-loaded', 'This analysis was released; analyze the text again.');
    const block = blocks.find((b) => b.kind === kind || (kind === 'self' && b.kind === 'encoder'));
    if (!block) throw new EngineError('internal', `This analysis has no ${kind} attention.`);
    const [layers, heads, queries, keys] = block.attentions.shape;
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new EngineError('internal', `No layer ${layer} in the ${kind} attention.`);
    return { block, heads, size: queries * keys };
  };
  const bytes = blocks.reduce((a, b) => a + b.attentions.buffer.byteLength, 0) + summaries.reduce((a, s) => a + summaryBytes(s), 0);
  return {
    model: result.model,
    text: result.text,
    tokens: result.tokens,
    blocks: metas,
    summaries,
    ...(result.truncatedFrom !== undefined ? { truncatedFrom: result.truncatedFrom } : {}),
    ...(result.target !== undefined ? { target: result.target } : {}),
    ...(result.decoderTokens ? { decoderTokens: result.decoderTokens } : {}),
    timings: result.timings,
    async attention(kind, layer, _signal, range) {
      const { block, heads, size } = find(kind, layer);
      const { from, to } = range ?? { from: 0, to: heads };
      if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= heads && from < to)) throw new EngineError('internal', `No heads ${from}–${to} in layer ${layer + 1}.`);
      return readTensorRange(block.attentions, (layer * heads + from) * size, (to - from) * size).slice();
    },
    async headMean(kind, layer) {
      const { block, heads, size } = find(kind, layer);
      const probs = readTensorRange(block.attentions, layer * heads * size, heads * size);
      const mean = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        let s = 0;
        for (let h = 0; h < heads; h++) s += probs[h * size + i];
        mean[i] = s / heads;
      }
      return mean;
    },
    valueNorms: (kind) => {
      const { block } = find(kind, 0);
      return blockValueNorms(summaries, block.kind, block.attentions.shape[0]);
    },
    headVectors: (kind, layer, head) => {
      find(kind, layer);
      return headVectors(layer, head, kind);
    },
    get bytesHeld() {
      return released ? 0 : bytes;
    },
    dispose() {
      released = true;
    },
  };
}
