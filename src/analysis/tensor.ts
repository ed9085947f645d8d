/**
 * Decoding of the matrices carried in an AttentionResult, and lazy per-head access to the
 * `[layers, heads, n, n]` attention stack. Environment-free: used in the webview and on the host.
 */
import type { TensorData } from '../protocol/types';

/** A square row-major matrix (rows are queries, columns are keys). */
export interface Matrix {
  size: number;
  data: Float32Array;
}

// One binary16 codec for the engine, the host and the webview.
export { halfToFloat as float16BitsToNumber, decodeHalfArray as decodeFloat16 } from '../protocol/float16';
import { decodeHalfArray as decodeFloat16 } from '../protocol/float16';

/** ArrayBuffer check that also holds across realms (iframes, workers). */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  return value instanceof ArrayBuffer || Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

/**
 * The bytes of a buffer-like value as an ArrayBuffer of exactly that length: an ArrayBuffer as is, a
 * typed array or DataView copied out (a view may sit at an unaligned offset of a larger buffer).
 */
export function toArrayBuffer(value: unknown): ArrayBuffer | undefined {
  if (isArrayBuffer(value)) return value;
  if (ArrayBuffer.isView(value)) {
    const copy = new Uint8Array(value.byteLength);
    copy.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return copy.buffer;
  }
  return undefined;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function bytesPerElement(tensor: TensorData): number {
  return tensor.dtype === 'float16' ? 2 : 4;
}

/** Describes why a tensor cannot be read, or returns undefined when it is well-formed. */
export function tensorProblem(tensor: unknown, name: string, expectedRank: number): string | undefined {
  if (typeof tensor !== 'object' || tensor === null) return `${name} is missing`;
  const t = tensor as Partial<TensorData>;
  if (t.dtype !== 'float32' && t.dtype !== 'float16') return `${name} has unsupported dtype ${String(t.dtype)}`;
  if (!Array.isArray(t.shape) || t.shape.length !== expectedRank || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    return `${name} should have ${expectedRank} dimensions, got ${JSON.stringify(t.shape)}`;
  }
  if (!isArrayBuffer(t.buffer)) return `${name} carries no ArrayBuffer`;
  const expected = elementCount(t.shape) * bytesPerElement(t as TensorData);
  if (t.buffer.byteLength !== expected) {
    return `${name} holds ${t.buffer.byteLength} bytes, its shape ${JSON.stringify(t.shape)} needs ${expected}`;
  }
  return undefined;
}

/** Reads elements [start, start + count) of a tensor as float32 (a view when no decoding is needed). */
export function readTensorRange(tensor: TensorData, start: number, count: number): Float32Array {
  if (tensor.dtype === 'float32') return new Float32Array(tensor.buffer, start * 4, count);
  return decodeFloat16(new Uint16Array(tensor.buffer, start * 2, count));
}

/** The whole tensor as float32. */
export function tensorToFloat32(tensor: TensorData): Float32Array {
  return readTensorRange(tensor, 0, elementCount(tensor.shape));
}

/**
 * Per-head access to `[layers, heads, n, n]`. float32 heads are views into the buffer; float16 heads
 * are decoded on demand and a bounded number are cached, so a large float16 result is never
 * expanded to float32 as a whole.
 */
export class AttentionStack {
  readonly layers: number;
  readonly heads: number;
  readonly n: number;
  private readonly cache = new Map<number, Float32Array>();
  private readonly cacheLimit: number;

  constructor(private readonly tensor: TensorData, cacheBytes = 64 * 1024 * 1024) {
    const problem = tensorProblem(tensor, 'attentions', 4);
    if (problem) throw new Error(problem);
    const [layers, heads, n, n2] = tensor.shape;
    if (n !== n2) throw new Error(`attentions should be square per head, got ${n}×${n2}`);
    this.layers = layers;
    this.heads = heads;
    this.n = n;
    this.cacheLimit = Math.max(2, Math.floor(cacheBytes / Math.max(1, n * n * 4)));
  }

  /** Attention matrix of one head, row-major n×n. Do not modify the returned array. */
  head(layer: number, head: number): Float32Array {
    if (!(layer >= 0 && layer < this.layers && head >= 0 && head < this.heads)) {
      throw new RangeError(`no head L${layer} H${head} in a ${this.layers}×${this.heads} stack`);
    }
    const key = layer * this.heads + head;
    const size = this.n * this.n;
    if (this.tensor.dtype === 'float32') return new Float32Array(this.tensor.buffer, key * size * 4, size);
    const cached = this.cache.get(key);
    if (cached) {
      // Refresh recency: Map iteration order is insertion order.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const decoded = readTensorRange(this.tensor, key * size, size);
    this.cache.set(key, decoded);
    if (this.cache.size > this.cacheLimit) this.cache.delete(this.cache.keys().next().value as number);
    return decoded;
  }

  headMatrix(layer: number, head: number): Matrix {
    return { size: this.n, data: this.head(layer, head) };
  }
}

/** ‖f_h(x_j)‖ per layer, head and key, `[layers, heads, n]`. */
export class ValueNormStack {
  readonly layers: number;
  readonly heads: number;
  readonly n: number;
  private readonly data: Float32Array;

  constructor(tensor: TensorData) {
    const problem = tensorProblem(tensor, 'valueNorms', 3);
    if (problem) throw new Error(problem);
    [this.layers, this.heads, this.n] = tensor.shape;
    this.data = tensorToFloat32(tensor);
  }

  norms(layer: number, head: number): Float32Array {
    const start = (layer * this.heads + head) * this.n;
    return this.data.subarray(start, start + this.n);
  }
}
