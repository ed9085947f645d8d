/**
 * The engine's per-layer summaries (src/engine/kept.ts LayerSummaries, computed during the pass)
 * as the panel takes them: one BlockSummaries per block, layers not summarised yet left empty
 * (NaN scores, blank thumbnails) and counted by `layersDone`. A rectangular block's (cross-attention)
 * thumbnails are `rows × cols`.
 */
import type { LayerSummaries } from '../engine/kept';
import type { BlockMeta, BlockSummaries } from '../protocol/views';
import { isSquareBlock } from '../analysis/viewServer';

export function blockSummaries(layers: readonly LayerSummaries[], blocks: readonly BlockMeta[]): BlockSummaries[] {
  const out: BlockSummaries[] = [];
  for (const block of blocks) {
    const square = isSquareBlock(block);
    const own = layers.filter((s) => s.block === block.kind);
    const keys = block.keyTokens.length;
    const cells = own[0]?.thumbnail.size ?? 1;
    const rows = square ? cells : own[0]?.thumbnail.rows ?? 1;
    const cols = square ? cells : own[0]?.thumbnail.cols ?? 1;
    const count = block.layers * block.heads;
    const norms = new Float32Array(count * keys);
    const maxima = new Float32Array(count);
    const data = new Uint8Array(count * rows * cols);
    const scores: BlockSummaries['scores'] = [];
    for (let layer = 0; layer < block.layers; layer++) for (let head = 0; head < block.heads; head++) scores.push({ layer, head, previousToken: NaN, firstToken: NaN, self: NaN, entropy: NaN, entropyBits: NaN, induction: NaN, duplicateToken: NaN });
    for (const s of own) {
      const first = s.layer * block.heads;
      norms.set(s.valueNorms, first * keys);
      maxima.set(s.thumbnail.maxima, first);
      // Square blocks: rows = cols = size.
      data.set(s.thumbnail.data.subarray(0, s.heads * rows * cols), first * rows * cols);
      for (let h = 0; h < s.heads; h++) {
        const row = scores[first + h];
        // induction and duplicateToken: TransformerLens' scores, registered with the engine's head scorers (src/analysis/heads.ts).
        for (const key of ['previousToken', 'firstToken', 'self', 'entropy', 'entropyBits', 'induction', 'duplicateToken'] as const) {
          const values = s.scores[key];
          if (values) row[key] = values[h];
        }
      }
    }
    out.push({
      block: block.kind,
      layers: block.layers,
      heads: block.heads,
      layersDone: own.length,
      scores,
      valueNorms: { dtype: 'float32', shape: [block.layers, block.heads, keys], buffer: norms.buffer },
      thumbnails: { kind: 'thumbnails', cells, ...(square ? {} : { rows, cols }), count, maxima: maxima.buffer, data: data.buffer },
    });
  }
  return out;
}
