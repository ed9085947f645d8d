/**
 * Reads the golden fixtures in ../shared/fixtures/hf-tiny (never copied into the repo) and turns a
 * case into the AttentionResult shape the panel receives.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionResult, TensorData, TokenInfo } from '../../../src/protocol/types';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export function fixtureDir(name: string): string {
  const dir = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'hf-tiny', name);
  if (!fs.existsSync(dir)) throw new Error(`fixture ${name} not found at ${dir}: the tests need /work/shared (../shared from the repo root)`);
  return dir;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data: Buffer;
}

/** safetensors: 8-byte little-endian header length, JSON header, then the raw data. */
export function readSafetensors(file: string): Map<string, SafetensorsEntry> {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out = new Map<string, SafetensorsEntry>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: entry.dtype, shape: entry.shape, data: bytes.subarray(base + entry.data_offsets[0], base + entry.data_offsets[1]) });
  }
  return out;
}

export function float32Tensor(entry: SafetensorsEntry): TensorData {
  if (entry.dtype !== 'F32') throw new Error(`expected F32, got ${entry.dtype}`);
  const copy = new Uint8Array(entry.data.byteLength);
  copy.set(entry.data);
  return { dtype: 'float32', shape: [...entry.shape], buffer: copy.buffer };
}

interface ExpectedCase {
  text: string;
  text_pair?: string;
  input_ids: number[];
  tokens: string[];
  offsets: [number, number][];
  special_tokens_mask: number[];
  token_type_ids?: number[];
}

/** Python counts code points; VS Code (and TokenInfo) count UTF-16 units. */
function codePointToUtf16(text: string, cp: number): number {
  return [...text].slice(0, cp).join('').length;
}

function displayOf(raw: string): string {
  if (raw.startsWith('##')) return raw.slice(2);
  return raw.replace(/^[Ġ▁]/u, ' ');
}

/**
 * An AttentionResult built from a fixture case. Value norms are synthetic (deterministic, varied):
 * the fixtures do not carry them, and the panel only needs their shape and values to scale by.
 */
export function fixtureResult(name: string, caseIndex: number): AttentionResult {
  const dir = fixtureDir(name);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { cases: ExpectedCase[] };
  const c = expected.cases[caseIndex];
  const tensors = readSafetensors(path.join(dir, 'expected.safetensors'));
  const attentions = float32Tensor(tensors.get(`case${caseIndex}.attentions`)!);
  const [layers, heads, n] = attentions.shape;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const tokens: TokenInfo[] = c.tokens.map((raw, i) => {
    const special = c.special_tokens_mask[i] === 1;
    const [s, e] = c.offsets[i];
    return {
      id: c.input_ids[i],
      raw,
      display: special ? raw : displayOf(raw),
      start: special ? -1 : codePointToUtf16(c.text, s),
      end: special ? -1 : codePointToUtf16(c.text, e),
      special,
      segment: c.token_type_ids?.[i] ?? 0,
    };
  });
  const norms = new Float32Array(layers * heads * n);
  for (let i = 0; i < norms.length; i++) norms[i] = 0.5 + ((i * 7919) % 13) / 4;
  return {
    model: {
      name: `hf-tiny/${name}`,
      source: dir,
      modelType: String(config.model_type ?? name),
      numLayers: layers,
      numHeads: heads,
      numKeyValueHeads: heads,
      headDim: (config.hidden_size ?? 64) / heads,
      hiddenSize: config.hidden_size ?? 64,
      maxTokens: config.max_position_embeddings ?? null,
      causal: !['bert', 'roberta', 'distilbert', 'modernbert', 't5'].includes(String(config.model_type)),
    },
    text: c.text,
    tokens,
    attentions,
    valueNorms: { dtype: 'float32', shape: [layers, heads, n], buffer: norms.buffer },
    timings: { tokenizeMs: 0, computeMs: 0 },
  };
}
