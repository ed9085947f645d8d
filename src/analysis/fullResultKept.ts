/**
 * A full `AttentionResult` (every block's `[layers, heads, queries, keys]` held) behind the
 * `KeptAnalysis` interface, so the worker serves views the same way whichever engine path made the
 * analysis: today's `AttentionModel.analyze`, or a result the panel received with its tensors.
 */
import type { KeptAnalysis } from '../protocol/kept';
import { attentionBlocks, type AttentionBlock, type AttentionBlockKind, type AttentionResult, type HeadVectors } from '../protocol/types';
import type { AnalysisInfo, BlockMeta } from '../protocol/views';
import { readTensorRange, tensorToFloat32 } from './tensor';

/** The result without its tensors: what the host and the panel keep of an analysis. */
export function analysisInfo(result: AttentionResult): AnalysisInfo {
  const { attentions: _a, valueNorms: _v, hiddenStates: _h, decoderHiddenStates: _d, blocks: _b, ...rest } = result;
  return { ...rest, blocks: attentionBlocks(result).map(blockMeta) };
}

export function blockMeta(block: AttentionBlock): BlockMeta {
  const { attentions, valueNorms: _v, ...rest } = block;
  return { ...rest, layers: attentions.shape[0], heads: attentions.shape[1] };
}

export class FullResultKept implements KeptAnalysis {
  readonly tokens;
  readonly blocks: BlockMeta[];
  readonly bytesHeld: number;
  private readonly full: AttentionBlock[];
  private readonly norms = new Map<AttentionBlockKind, Float32Array>();

  constructor(result: AttentionResult, private readonly vectors: (block: AttentionBlockKind, layer: number, head: number) => Promise<HeadVectors> = () => Promise.reject(new Error('This analysis carries no q, k and v.'))) {
    this.tokens = result.tokens;
    this.full = attentionBlocks(result);
    this.blocks = this.full.map(blockMeta);
    const buffers = new Set<ArrayBuffer>();
    for (const b of this.full) buffers.add(b.attentions.buffer).add(b.valueNorms.buffer);
    this.bytesHeld = [...buffers].reduce((sum, b) => sum + b.byteLength, 0);
  }

  private block(kind: AttentionBlockKind): AttentionBlock {
    const block = this.full.find((b) => b.kind === kind);
    if (!block) throw new Error(`This analysis has no ${kind} block.`);
    return block;
  }

  async attention(kind: AttentionBlockKind, layer: number, _signal?: AbortSignal, range?: { from: number; to: number }): Promise<Float32Array> {
    const a = this.block(kind).attentions;
    const [, heads, rows, cols] = a.shape;
    const { from, to } = range ?? { from: 0, to: heads };
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= heads && from < to)) throw new Error(`No heads ${from}–${to} in layer ${layer + 1}.`);
    const size = rows * cols;
    // A copy: callers may keep it after this analysis is released.
    return Float32Array.from(readTensorRange(a, (layer * heads + from) * size, (to - from) * size));
  }

  valueNorms(kind: AttentionBlockKind): Float32Array {
    let norms = this.norms.get(kind);
    if (!norms) {
      norms = tensorToFloat32(this.block(kind).valueNorms);
      this.norms.set(kind, norms);
    }
    return norms;
  }

  headVectors(kind: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors> {
    return this.vectors(kind, layer, head);
  }

  dispose(): void {
    this.full.length = 0;
    this.norms.clear();
  }
}
