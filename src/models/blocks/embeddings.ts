/** Embedding outputs computed in TypeScript from only the rows of the text's tokens. */
import type { ScopedTensors } from '../../engine/checkpoint';
import { layerNormRows } from '../../engine/onnx/layers';
import { readNumbers } from './weights';

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

/**
 * `[n, inDim]` rows through a torch Linear (`weight` `[out, in]`, read with `readNumbers`): the
 * projection from `embedding_size` to `hidden_size` that ALBERT (`embedding_hidden_mapping_in`) and
 * ELECTRA (`embeddings_project`) apply before the first layer, whose output is hidden_states[0].
 * Summed in double and rounded once.
 */
export function projectRows(x: Float32Array, inDim: number, weight: Float32Array, bias: Float32Array | undefined, outDim: number): Float32Array {
  const n = x.length / inDim;
  const out = new Float32Array(n * outDim);
  for (let r = 0; r < n; r++) {
    const row = x.subarray(r * inDim, (r + 1) * inDim);
    for (let o = 0; o < outDim; o++) {
      const wRow = weight.subarray(o * inDim, (o + 1) * inDim);
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inDim; i++) s += row[i] * wRow[i];
      out[r * outDim + o] = s;
    }
  }
  return out;
}

/**
 * RoBERTa-style position ids as transformers' `create_position_ids_from_input_ids` makes them:
 * non-padding tokens count up from padding_idx + 1, padding tokens sit at padding_idx.
 */
export function positionIdsSkippingPadding(ids: readonly number[], paddingIdx: number): number[] {
  let count = 0;
  return ids.map((id) => (id === paddingIdx ? paddingIdx : ++count + paddingIdx));
}

/** What BERT-style embeddings add up and where they go after the LayerNorm. */
export interface BertEmbeddingSpec {
  /** Width of the tables and of `embeddings.LayerNorm` (ALBERT's / ELECTRA's `embedding_size`). */
  width: number;
  eps: number;
  /** The text's position ids, or null where the model adds no absolute positions (DeBERTa-v3, relative_key_query). */
  positions: ((ids: readonly number[]) => number[]) | null;
  /** A Linear after the LayerNorm (`[out, width]` weight and its bias) to the model width. */
  project?: { name: string; out: number };
}

/**
 * hidden_states[0] of BERT-style encoders: LN(word + token type + position rows), then the optional
 * projection. Token types are added where the checkpoint has `embeddings.token_type_embeddings`.
 */
export function bertEmbeddings(tensors: ScopedTensors, spec: BertEmbeddingSpec): (ids: number[], typeIds: number[]) => Float32Array {
  const { width, eps, positions, project } = spec;
  const lnW = readNumbers(tensors, 'embeddings.LayerNorm.weight', [width]);
  const lnB = readNumbers(tensors, 'embeddings.LayerNorm.bias', [width]);
  const hasTypes = tensors.has('embeddings.token_type_embeddings.weight');
  const projection = project && { out: project.out, weight: readNumbers(tensors, `${project.name}.weight`, [project.out, width]), bias: readNumbers(tensors, `${project.name}.bias`, [project.out]) };
  return (ids, typeIds) => {
    const parts = [{ table: 'embeddings.word_embeddings.weight', rows: ids }];
    if (hasTypes) parts.push({ table: 'embeddings.token_type_embeddings.weight', rows: typeIds.map((x) => x ?? 0) });
    if (positions) parts.push({ table: 'embeddings.position_embeddings.weight', rows: positions(ids) });
    const normed = layerNormRows(sumOfRows(tensors, parts), width, lnW, lnB, eps);
    return projection ? projectRows(normed, width, projection.weight, projection.bias, projection.out) : normed;
  };
}
