/** Embedding outputs computed in TypeScript from only the rows of the text's tokens. */
import type { ScopedTensors } from '../../engine/checkpoint';

/** Positions 0..n-1 plus `offset` (RoBERTa: padding_idx + 1, OPT: 2). */
export function positionIds(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + offset);
}

/** Σ of the named tables' rows (word + token type + position embeddings), summed in double and rounded once. */
export function sumOfRows(tensors: ScopedTensors, parts: readonly { table: string; rows: readonly number[] }[]): Float32Array {
  const read = parts.map((p) => tensors.rows(p.table, p.rows));
  const out = new Float32Array(read[0].length);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (const r of read) s += r[i];
    out[i] = s;
  }
  return out;
}
