/** q, k, v as `[heads, n, d]` from separate or fused projections (every layout the families use). */
import type { Nn } from '../../engine/onnx/layers';
import type { HeadsQkv } from './attention';

/** Splits `[n, Σ sizes]` along the last axis (fused `[q | k | v]`, `[gate | up]`). */
export function splitLast(nn: Nn, x: string, sizes: number[]): string[] {
  return nn.g.opN('Split', [x, nn.g.int64s(sizes)], sizes.length, { axis: -1 });
}

/** Flat `[n, heads·d]` q and `[n, kvHeads·d]` k, v → heads, keys and values repeated for grouped-query attention. */
export function toHeadsQkv(nn: Nn, flat: { q: string; k: string; v: string }, heads: number, kvHeads: number, headDim: number): HeadsQkv {
  const groups = heads / kvHeads;
  return {
    q: nn.toHeads(flat.q, heads, headDim),
    k: nn.repeatKv(nn.toHeads(flat.k, kvHeads, headDim), kvHeads, groups, headDim),
    v: nn.repeatKv(nn.toHeads(flat.v, kvHeads, headDim), kvHeads, groups, headDim),
  };
}

/** Fused `[q | k | v]` (GPT-2 `c_attn`, ModernBERT `Wqkv`, Phi-3 `qkv_proj`) → flat q, k, v. */
export function splitConcatenatedQkv(nn: Nn, qkv: string, qDim: number, kvDim: number): { q: string; k: string; v: string } {
  const [q, k, v] = splitLast(nn, qkv, [qDim, kvDim, kvDim]);
  return { q, k, v };
}

/**
 * Fused projection grouped per head, `[heads, 3, d]` along the output axis (GPT-NeoX, BLOOM,
 * Falcon-RW `query_key_value`): head 0's q, k, v, then head 1's... → `[heads, n, d]` each.
 */
export function splitPerHeadQkv(nn: Nn, qkv: string, heads: number, headDim: number): HeadsQkv {
  const grouped = nn.g.op('Reshape', [qkv, nn.g.int64s([-1, heads, 3 * headDim])]);
  const [q, k, v] = nn.g.opN('Split', [grouped, nn.g.int64s([headDim, headDim, headDim])], 3, { axis: -1 });
  const heads_ = (x: string) => nn.g.op('Transpose', [x], { perm: [1, 0, 2] });
  return { q: heads_(q), k: heads_(k), v: heads_(v) };
}

/**
 * Fused projection grouped per key/value head (Falcon's `new_decoder_architecture`
 * `query_key_value`): for each of `kvHeads` groups, `groups` query heads, then that group's key and
 * value, `[kvHeads, groups + 2, d]` along the output axis → `[heads, n, d]` each, keys and values
 * repeated for the group's query heads.
 */
export function splitGroupedQkv(nn: Nn, qkv: string, kvHeads: number, groups: number, headDim: number): HeadsQkv {
  const grouped = nn.g.op('Reshape', [qkv, nn.g.int64s([-1, kvHeads, groups + 2, headDim])]);
  const [q, k, v] = nn.g.opN('Split', [grouped, nn.g.int64s([groups, 1, 1])], 3, { axis: 2 });
  const heads_ = (x: string, count: number) => nn.g.op('Transpose', [nn.g.op('Reshape', [x, nn.g.int64s([-1, count, headDim])])], { perm: [1, 0, 2] });
  return { q: heads_(q, kvHeads * groups), k: nn.repeatKv(heads_(k, kvHeads), kvHeads, groups, headDim), v: nn.repeatKv(heads_(v, kvHeads), kvHeads, groups, headDim) };
}
