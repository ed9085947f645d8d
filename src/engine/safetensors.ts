/**
 * Reader for the safetensors format: an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the raw data. The file stays open and tensors are
 * read on demand, so embedding tables are never loaded whole (only the rows a text needs).
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from './errors';
import { decodeBFloat16Array, decodeHalfArray } from '../protocol/float16';
import { openRegularFile, quoted } from './files';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };
/** Every dtype the reference library knows, in bits per element (to check byte ranges of tensors we never read). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64,
};
/** The reference library's limit on the header. */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  file: SafetensorsFile;
}

/**
 * Finds a key that appears twice in one object of a JSON text (JSON.parse silently keeps the
 * last). The text is known to be valid JSON.
 */
export function duplicateJsonKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A safetensors file, checked as strictly as the reference library checks it: a header of at most
 * 100 MB that is UTF-8 JSON starting with '{', no duplicate keys, `__metadata__` mapping strings
 * to strings, known dtypes, and tensors whose byte ranges follow one another without holes or
 * overlaps and cover the data exactly (no trailing bytes). An off-by-one header length or a
 * damaged header is refused here rather than read as weights.
 */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorEntry>();
  private fd: number;
  private readonly label: string;

  /** `label` names the file in messages (defaults to its base name). */
  constructor(readonly filePath: string, label?: string) {
    this.label = label ?? path.basename(filePath);
    const bad = (why: string) =>
      new EngineError('bad-checkpoint', `${this.label} is not a valid safetensors file: ${why}. Download it again or re-save the checkpoint with save_pretrained().`);
    const opened = openRegularFile(filePath, this.label);
    this.fd = opened.fd;
    try {
      const fileSize = opened.size;
      if (fileSize < 8) throw bad('the file is shorter than its 8-byte header length (truncated download?)');
      const lenBuf = this.readBytes(0, 8);
      const headerLen64 = lenBuf.readBigUInt64LE(0);
      if (headerLen64 < 2n || headerLen64 > BigInt(MAX_HEADER_BYTES)) throw bad(`its header length (${headerLen64} bytes) is impossible`);
      const headerLen = Number(headerLen64);
      if (8 + headerLen > fileSize) throw bad(`the header (${headerLen} bytes) runs past the end of the file (${fileSize} bytes): the file is truncated`);
      const headerBuf = this.readBytes(8, headerLen);
      if (headerBuf[0] !== 0x7b) throw bad("its header does not start with '{' (a wrong header length?)");
      let text: string;
      try {
        text = utf8.decode(headerBuf);
      } catch {
        throw bad('its header is not UTF-8 text');
      }
      let header: unknown;
      try {
        header = JSON.parse(text);
      } catch {
        throw bad('its header is not valid JSON');
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('its header is not a JSON object');
      const duplicate = duplicateJsonKey(text);
      if (duplicate !== undefined) throw bad(`its header names ${quoted(duplicate)} twice`);
      const dataStart = 8 + headerLen;
      const dataLength = BigInt(fileSize - dataStart);
      const ranges: { name: string; begin: bigint; end: bigint }[] = [];
      for (const [name, rawEntry] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          const meta = rawEntry;
          if (meta !== null && (typeof meta !== 'object' || Array.isArray(meta) || Object.values(meta as object).some((v) => typeof v !== 'string'))) {
            throw bad('its __metadata__ is not a map of strings to strings');
          }
          continue;
        }
        const tensor = `tensor ${quoted(name)}`;
        const entry = rawEntry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`${tensor} has no description`);
        const dtype = entry.dtype;
        if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BITS, dtype)) throw bad(`${tensor} has ${typeof dtype === 'string' ? `the unknown dtype ${quoted(dtype)}` : 'no dtype'}`);
        const shape = entry.shape;
        if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`${tensor} has an invalid shape`);
        const offsets = entry.data_offsets;
        if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
          throw bad(`${tensor} has invalid data offsets`);
        }
        const [begin, end] = offsets as [number, number];
        if (BigInt(end) > dataLength) {
          throw bad(`${tensor} ends at byte ${dataStart + end}, past the end of the file (${fileSize} bytes): the file is truncated or its header is corrupt`);
        }
        const bits = (shape as number[]).reduce((a, d) => a * BigInt(d), BigInt(DTYPE_BITS[dtype]));
        if (bits % 8n !== 0n || bits / 8n !== BigInt(end - begin)) {
          throw bad(`${tensor} has ${end - begin} bytes of data but its shape [${shape.join(', ')}] and dtype ${dtype} need ${bits % 8n === 0n ? bits / 8n : `${bits} bits`}`);
        }
        ranges.push({ name, begin: BigInt(begin), end: BigInt(end) });
        // Dtypes other than F32/F16/BF16 are recorded and refused only if the model needs that
        // tensor (checkpoints may carry int buffers such as position_ids that we never read).
        this.tensors.set(name, { name, dtype: dtype as SafetensorsDType, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin, file: this });
      }
      ranges.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
      let covered = 0n;
      for (const r of ranges) {
        if (r.begin > covered) throw bad(`its data has a gap of ${r.begin - covered} bytes before tensor ${quoted(r.name)}`);
        if (r.begin < covered) throw bad(`tensor ${quoted(r.name)} overlaps the tensor before it`);
        covered = r.end;
      }
      if (covered !== dataLength) throw bad(`${dataLength - covered} bytes after the last tensor belong to no tensor (a wrong header length, or a damaged file)`);
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
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, done, byteLength - done, offset + done);
      } catch (err) {
        throw new EngineError('bad-checkpoint', `${this.label} could not be read (${(err as NodeJS.ErrnoException).code ?? 'I/O error'}).`);
      }
      if (n === 0) throw new EngineError('bad-checkpoint', `${this.label} ended early while reading (the file shrank, or a truncated download?)`);
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
  if (!Object.hasOwn(BYTES, entry.dtype)) {
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
