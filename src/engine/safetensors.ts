/**
 * Reader for the safetensors format: an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the raw data. The file stays open and tensors are
 * read on demand, so embedding tables are never loaded whole (only the rows a text needs).
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from './errors';
import { decodeBFloat16Array, decodeHalfArray } from '../protocol/float16';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };
/** Headers are small JSON; anything near this is a corrupt length field. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  file: SafetensorsFile;
}

export class SafetensorsFile {
  readonly tensors = new Map<string, TensorEntry>();
  private fd: number;

  constructor(readonly filePath: string) {
    const bad = (why: string) =>
      new EngineError('bad-checkpoint', `${path.basename(filePath)} is not a valid safetensors file: ${why}. Download it again or re-save the checkpoint with save_pretrained().`);
    this.fd = fs.openSync(filePath, 'r');
    try {
      const fileSize = fs.fstatSync(this.fd).size;
      if (fileSize < 8) throw bad('the file is shorter than its 8-byte header length (truncated download?)');
      const lenBuf = Buffer.alloc(8);
      fs.readSync(this.fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) throw bad(`its header length (${headerLen} bytes) is impossible`);
      if (8 + headerLen > fileSize) throw bad(`the header (${headerLen} bytes) runs past the end of the file (${fileSize} bytes): the file is truncated`);
      const headerBuf = Buffer.alloc(headerLen);
      fs.readSync(this.fd, headerBuf, 0, headerLen, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch {
        throw bad('its header is not valid JSON');
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('its header is not a JSON object');
      const dataStart = 8 + headerLen;
      for (const [name, rawEntry] of Object.entries(header)) {
        if (name === '__metadata__') continue;
        const entry = rawEntry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof entry !== 'object' || entry === null) throw bad(`tensor "${name}" has no description`);
        const dtype = entry.dtype;
        if (typeof dtype !== 'string') throw bad(`tensor "${name}" has no dtype`);
        const shape = entry.shape;
        if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor "${name}" has an invalid shape`);
        const offsets = entry.data_offsets;
        if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
          throw bad(`tensor "${name}" has invalid data offsets`);
        }
        const [begin, end] = offsets as [number, number];
        if (dataStart + end > fileSize) {
          throw bad(`tensor "${name}" ends at byte ${dataStart + end}, past the end of the file (${fileSize} bytes): the file is truncated or its header is corrupt`);
        }
        const known = dtype in BYTES;
        const count = (shape as number[]).reduce((a, b) => a * b, 1);
        if (known && count * BYTES[dtype as SafetensorsDType] !== end - begin) {
          throw bad(`tensor "${name}" has ${end - begin} bytes of data but its shape [${shape.join(', ')}] and dtype ${dtype} need ${count * BYTES[dtype as SafetensorsDType]}`);
        }
        // Unknown dtypes are recorded and refused only if the model actually needs that tensor
        // (checkpoints may carry int buffers such as position_ids that we never read).
        this.tensors.set(name, { name, dtype: dtype as SafetensorsDType, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin, file: this });
      }
    } catch (err) {
      fs.closeSync(this.fd);
      throw err;
    }
  }

  /** Reads `byteLength` bytes at `offset` into a fresh buffer. */
  readBytes(offset: number, byteLength: number): Buffer {
    const buf = Buffer.allocUnsafe(byteLength);
    let done = 0;
    while (done < byteLength) {
      const n = fs.readSync(this.fd, buf, done, byteLength - done, offset + done);
      if (n === 0) throw new EngineError('bad-checkpoint', `${path.basename(this.filePath)} ended early while reading (truncated file?)`);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Refuses dtypes the engine cannot compute with (quantized or integer weights). */
export function checkDType(entry: TensorEntry): void {
  if (!(entry.dtype in BYTES)) {
    throw new EngineError('bad-checkpoint', `Tensor "${entry.name}" is stored as ${entry.dtype}; only F32, F16 and BF16 weights are supported (quantized checkpoints are not).`);
  }
}

/** Decodes raw little-endian bytes of the entry's dtype into float32. */
function decode(entry: TensorEntry, bytes: Buffer, out?: Float32Array): Float32Array {
  const count = bytes.byteLength / BYTES[entry.dtype];
  // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  switch (entry.dtype) {
    case 'F32': {
      const f = new Float32Array(aligned.buffer, 0, count);
      if (out) {
        out.set(f);
        return out;
      }
      return f;
    }
    case 'F16':
      return decodeHalfArray(new Uint16Array(aligned.buffer, 0, count), out);
    case 'BF16':
      return decodeBFloat16Array(new Uint16Array(aligned.buffer, 0, count), out);
  }
}

/** Reads a whole tensor as float32. */
export function readTensor(entry: TensorEntry): Float32Array {
  checkDType(entry);
  return decode(entry, entry.file.readBytes(entry.offset, entry.byteLength));
}

/** Reads selected rows of a 2-D (or higher, flattened after the first axis) tensor as float32 `[rows.length, rowSize]`. */
export function readRows(entry: TensorEntry, rows: readonly number[]): Float32Array {
  checkDType(entry);
  const rowSize = entry.shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = rowSize * BYTES[entry.dtype];
  const out = new Float32Array(rows.length * rowSize);
  rows.forEach((row, i) => {
    if (!Number.isInteger(row) || row < 0 || row >= entry.shape[0]) {
      throw new EngineError('bad-checkpoint', `Row ${row} is outside tensor "${entry.name}" of shape [${entry.shape.join(', ')}] (tokenizer and checkpoint do not match?)`);
    }
    decode(entry, entry.file.readBytes(entry.offset + row * rowBytes, rowBytes), out.subarray(i * rowSize, (i + 1) * rowSize));
  });
  return out;
}
