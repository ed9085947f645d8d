/**
 * A kept analysis with its tensors again: the engine keeps it and serves views; a few host features
 * (Interactive HTML export, Compare With…) need the whole result, asked of the engine block by block.
 */
import type { AttentionBlockKind, AttentionResult, TensorData } from '../protocol/types';
import type { AnalysisInfo, BlockSummaries } from '../protocol/views';

export async function fullResultOf(
  info: AnalysisInfo,
  summaries: readonly BlockSummaries[] | undefined,
  tensor: (block: AttentionBlockKind) => Promise<TensorData>,
): Promise<AttentionResult> {
  const blocks = await Promise.all(
    info.blocks.map(async ({ layers: _l, heads: _h, ...meta }) => {
      const norms = summaries?.find((s) => s.block === meta.kind)?.valueNorms;
      if (!norms) throw new Error(`The ${meta.label.toLowerCase()} has no summaries yet.`);
      return { ...meta, attentions: await tensor(meta.kind), valueNorms: norms };
    }),
  );
  const { blocks: _b, ...rest } = info;
  return { ...rest, attentions: blocks[0].attentions, valueNorms: blocks[0].valueNorms, blocks };
}
