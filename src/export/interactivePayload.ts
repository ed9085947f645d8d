/**
 * The data inside an exported interactive HTML page: the analysis (tokens, model, text) with its
 * matrices as base64, attention quantised to bound the file (float16, or 8 bits when float16 would
 * pass the size limit) and the head on screen kept exactly (float32). Environment-free: the host
 * writes it (./interactiveHtml.ts), the page reads it (webview/standalone.ts).
 */
import type { AttentionResult, TensorData } from '../protocol/types';
import { decodeHalfArray, encodeHalfArray } from '../protocol/float16';

export const PAYLOAD_FORMAT = 'attention-inspector-interactive/1';

/**
 * How attention probabilities are stored: IEEE half (relative error ≤ 2⁻¹¹ ≈ 0.05 %), or 8 bits
 * on a square-root scale (q = round(255·√p), p = (q/255)²: finer near 0 where most weights are;
 * absolute error ≤ √p/255).
 */
export type Quantisation = 'float16' | 'sqrt8';

export interface EncodedTensor {
  /** float32 as is; attention tensors as `quantisation` says. */
  encoding: 'float32' | Quantisation;
  shape: number[];
  base64: string;
}

export interface InteractivePayload {
  format: typeof PAYLOAD_FORMAT;
  /** The result with every TensorData replaced by `{ tensor: index into tensors }`; hidden states left out. */
  result: unknown;
  tensors: EncodedTensor[];
  /** The head shown when it was exported: exact float32 values of the first block's layer/head. */
  exact: { layer: number; head: number; base64: string } | null;
  quantisation: Quantisation;
  /** The panel's view state (webview/state.ts; sanitised by the page like any restored state). */
  state: unknown;
  pair?: { text: string };
  exportedAt: string;
}

/** Bytes ↔ base64, in both environments (no Buffer, no atob dependence on the caller). */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Node's Buffer where there is one (the host: fast), else the loop below (the page). */
const NodeBuffer = (globalThis as { Buffer?: { from(b: Uint8Array): { toString(enc: 'base64'): string } } }).Buffer;

export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString('base64');
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    chunk += ALPHABET[a >> 2] + ALPHABET[((a & 3) << 4) | (b >> 4)] + (i + 1 < bytes.length ? ALPHABET[((b & 15) << 2) | (c >> 6)] : '=') + (i + 2 < bytes.length ? ALPHABET[c & 63] : '=');
    if (chunk.length >= 65536) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

const LOOKUP = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  return t;
})();

export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const v = [0, 1, 2, 3].map((k) => (i + k < clean.length ? LOOKUP[clean.charCodeAt(i + k) & 127] : 0));
    if (v.some((x) => x < 0)) throw new Error('the page’s data is damaged (not base64)');
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function quantiseSqrt8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(255 * Math.sqrt(Math.min(1, Math.max(0, values[i]))));
  return out;
}

export function dequantiseSqrt8(q: Uint8Array): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i] / 255) ** 2;
  return out;
}

/** Float32 values of a tensor (float16 tensors decoded). */
export function tensorValues(t: TensorData): Float32Array {
  return t.dtype === 'float16' ? decodeHalfArray(new Uint16Array(t.buffer)) : new Float32Array(t.buffer);
}

export function encodeTensor(t: TensorData, encoding: EncodedTensor['encoding']): EncodedTensor {
  const values = tensorValues(t);
  const bytes =
    encoding === 'float32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
    : encoding === 'float16' ? new Uint8Array(encodeHalfArray(values).buffer)
    : quantiseSqrt8(values);
  return { encoding, shape: [...t.shape], base64: bytesToBase64(bytes) };
}

export function decodeTensor(e: EncodedTensor): TensorData {
  const bytes = base64ToBytes(e.base64);
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const values =
    e.encoding === 'float32' ? new Float32Array(aligned.buffer)
    : e.encoding === 'float16' ? decodeHalfArray(new Uint16Array(aligned.buffer))
    : dequantiseSqrt8(aligned);
  const count = e.shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`the page’s data is damaged (a tensor holds ${values.length} values, its shape needs ${count})`);
  return { dtype: 'float32', shape: [...e.shape], buffer: values.buffer as ArrayBuffer };
}

/** Bytes per attention value of each quantisation, in base64. */
export const BASE64_BYTES_PER_VALUE: Record<Quantisation, number> = { float16: 8 / 3, sqrt8: 4 / 3 };

function isTensor(value: unknown): value is TensorData {
  return typeof value === 'object' && value !== null && 'buffer' in value && 'shape' in value && 'dtype' in value;
}

/**
 * The result as payload JSON: each distinct tensor once (blocks share buffers with `attentions`),
 * attention tensors (rank 4) quantised, value norms exact; hidden states dropped (the page does not
 * show them and they would dominate the size).
 */
export function encodeResult(result: AttentionResult, quantisation: Quantisation): { result: unknown; tensors: EncodedTensor[] } {
  const tensors: EncodedTensor[] = [];
  const seen = new Map<ArrayBuffer, number>();
  const walk = (value: unknown): unknown => {
    if (isTensor(value)) {
      let index = seen.get(value.buffer);
      if (index === undefined) {
        index = tensors.length;
        tensors.push(encodeTensor(value, value.shape.length === 4 ? quantisation : 'float32'));
        seen.set(value.buffer, index);
      }
      return { tensor: index };
    }
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const { hiddenStates: _h, decoderHiddenStates: _d, ...kept } = result;
  return { result: walk(kept), tensors };
}

/** The inverse of encodeResult (every tensor float32) with the exact head written over its quantised copy. */
export function decodePayloadResult(payload: InteractivePayload): AttentionResult {
  if (payload.format !== PAYLOAD_FORMAT) throw new Error(`this page holds data of an unknown format (${String(payload.format)})`);
  const decoded = payload.tensors.map(decodeTensor);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { tensor?: unknown }).tensor === 'number') {
      const t = decoded[(value as { tensor: number }).tensor];
      if (!t) throw new Error('the page’s data is damaged (a missing tensor)');
      return t;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const result = walk(payload.result) as AttentionResult;
  if (payload.exact) {
    const { layer, head } = payload.exact;
    const [layers, heads, n, m] = result.attentions.shape;
    const exact = base64ToBytes(payload.exact.base64);
    if (layer < layers && head < heads && exact.length === n * m * 4) {
      new Uint8Array(result.attentions.buffer, ((layer * heads + head) * n * m) * 4, n * m * 4).set(exact);
    }
  }
  return result;
}
