/** Access to the reference fixtures in ../shared/fixtures/hf-tiny (computed by transformers). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { codePointToUtf16Map } from '../../src/engine/tokenizer';
import type { AttentionModel } from '../../src/engine/model';
import type { AttentionBlock, TensorData } from '../../src/protocol/types';

/** The fixtures' stated tolerances. */
export const ATTENTION_TOLERANCE = 1e-4;
export const HIDDEN_RELATIVE_TOLERANCE = 1e-3;

export const FIXTURES_ROOT = path.resolve(__dirname, '../../../../shared/fixtures/hf-tiny');
/** The second set (more families and options; same layout and tolerances). */
export const FIXTURES_2_ROOT = path.resolve(__dirname, '../../../../shared/fixtures/hf-tiny-2');

export interface FixtureCase {
  text: string;
  text_pair?: string;
  input_ids: number[];
  tokens: string[];
  offsets: [number, number][];
  special_tokens_mask: number[];
  token_type_ids?: number[];
  /** Encoder-decoders: the decoder text, its labels and the model's shifted decoder inputs. */
  decoder_text?: string;
  labels?: number[];
  decoder_input_ids?: number[];
  decoder_tokens?: string[];
  decoder_offsets?: [number, number][];
  decoder_special_tokens_mask?: number[];
}

export interface Fixture {
  name: string;
  folder: string;
  cases: FixtureCase[];
  /** The whole expected.json (cases plus notes such as the checkpoint's hash). */
  meta: Record<string, unknown>;
  expected: (key: string) => { data: Float32Array; shape: number[] };
  close(): void;
}

export function fixtureNames(root = FIXTURES_ROOT): string[] {
  if (!fs.existsSync(root)) throw new Error(`Reference fixtures not found at ${root}: the repository must sit beside ../shared`);
  return fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'expected.json'))).sort();
}

/**
 * Opens the expected values in `root/name`. The checkpoint is in the same folder for hf-tiny; the
 * built-in model keeps its reference beside the tests and passes `modelFolder`.
 */
export function openFixture(name: string, root = FIXTURES_ROOT, modelFolder?: string): Fixture {
  const folder = path.join(root, name);
  const json = JSON.parse(fs.readFileSync(path.join(folder, 'expected.json'), 'utf8'));
  const file = new SafetensorsFile(path.join(folder, 'expected.safetensors'));
  return {
    name,
    folder: modelFolder ?? folder,
    meta: json,
    cases: json.cases,
    expected(key) {
      const entry = file.tensors.get(key);
      if (!entry) throw new Error(`${name}: expected.safetensors has no ${key}`);
      return { data: readTensor(entry), shape: entry.shape };
    },
    close: () => file.close(),
  };
}

/** Converts the fixtures' code-point offsets to UTF-16 ranges (special tokens: -1/-1). */
export function expectedRanges(c: FixtureCase, segmentOf: (i: number) => number): [number, number][] {
  const maps = [codePointToUtf16Map(c.text), codePointToUtf16Map(c.text_pair ?? '')];
  return c.offsets.map(([s, e], i) => {
    if (c.special_tokens_mask[i] === 1) return [-1, -1];
    const map = maps[segmentOf(i)];
    return [map[s], map[e]];
  });
}

/** Largest |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/**
 * Analyzes case `i` and checks it against the reference: token ids, tokens, special tokens,
 * segments and UTF-16 ranges identical; attentions within 1e-4 absolute; hidden states within 1e-3
 * of the largest magnitude in each layer.
 */
export async function checkCase(model: AttentionModel, fixture: Fixture, i: number): Promise<void> {
  const c = fixture.cases[i];
  if (c.decoder_text !== undefined) return checkEncoderDecoderCase(model, fixture, i);
  const result = await model.analyze(c.text, { textPair: c.text_pair, hiddenStates: true });
  assert.deepStrictEqual(result.tokens.map((t) => t.id), c.input_ids, 'token ids');
  assert.deepStrictEqual(result.tokens.map((t) => t.raw), c.tokens, 'tokens');
  assert.deepStrictEqual(result.tokens.map((t) => t.special), c.special_tokens_mask.map((m) => m === 1), 'special tokens');
  if (c.token_type_ids) assert.deepStrictEqual(result.tokens.map((t) => t.segment), c.token_type_ids, 'segment ids');
  const segmentOf = (k: number) => (c.token_type_ids ? c.token_type_ids[k] : 0);
  assert.deepStrictEqual(result.tokens.map((t) => [t.start, t.end]), expectedRanges(c, segmentOf), 'UTF-16 ranges');

  const attn = fixture.expected(`case${i}.attentions`);
  assert.deepStrictEqual(result.attentions.shape, attn.shape, 'attention shape');
  assert.strictEqual(result.attentions.dtype, 'float32');
  const diff = maxAbsDiff(new Float32Array(result.attentions.buffer), attn.data);
  assert.ok(diff <= ATTENTION_TOLERANCE, `attentions differ by ${diff.toExponential(2)} (> ${ATTENTION_TOLERANCE})`);

  checkHiddenStates(result.hiddenStates, fixture.expected(`case${i}.hidden_states`), 'hidden state');
}

/** Each layer's hidden state within 1e-3 of the largest magnitude in that layer. */
function checkHiddenStates(ours: TensorData | undefined, hs: { data: Float32Array; shape: number[] }, what: string): void {
  assert.ok(ours, `${what}s returned`);
  assert.deepStrictEqual(ours.shape, hs.shape, `${what} shape`);
  checkHiddenRows(new Float32Array(ours.buffer), hs, what);
}

function checkHiddenRows(ours: Float32Array, hs: { data: Float32Array; shape: number[] }, what: string): void {
  const [layers, n, width] = hs.shape;
  for (let l = 0; l < layers; l++) {
    const a = ours.subarray(l * n * width, (l + 1) * n * width);
    const b = hs.data.subarray(l * n * width, (l + 1) * n * width);
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const rel = maxAbsDiff(a, b) / scale;
    assert.ok(rel <= HIDDEN_RELATIVE_TOLERANCE, `${what} ${l} differs by ${rel.toExponential(2)} relative (> ${HIDDEN_RELATIVE_TOLERANCE})`);
  }
}

/** One attention block against the reference: shape, float32, within 1e-4. */
function checkBlock(block: AttentionBlock | undefined, expected: { data: Float32Array; shape: number[] }, what: string): void {
  assert.ok(block, `${what} block returned`);
  assert.deepStrictEqual(block.attentions.shape, expected.shape, `${what} shape`);
  assert.strictEqual(block.attentions.dtype, 'float32');
  const diff = maxAbsDiff(new Float32Array(block.attentions.buffer), expected.data);
  assert.ok(diff <= ATTENTION_TOLERANCE, `${what} attentions differ by ${diff.toExponential(2)} (> ${ATTENTION_TOLERANCE})`);
}

/**
 * An encoder-decoder case: encoder tokens as for any model; decoder tokens, ids and ranges (into the
 * decoder text) identical to the reference's shifted decoder inputs; encoder, decoder and cross
 * attentions within 1e-4; both hidden-state stacks within 1e-3 relative.
 */
async function checkEncoderDecoderCase(model: AttentionModel, fixture: Fixture, i: number): Promise<void> {
  const c = fixture.cases[i];
  const target = c.decoder_text!;
  const result = await model.analyze(c.text, { textPair: c.text_pair, target, hiddenStates: true });
  assert.deepStrictEqual(result.tokens.map((t) => t.id), c.input_ids, 'token ids');
  assert.deepStrictEqual(result.tokens.map((t) => t.raw), c.tokens, 'tokens');
  assert.deepStrictEqual(result.tokens.map((t) => t.special), c.special_tokens_mask.map((m) => m === 1), 'special tokens');
  assert.deepStrictEqual(result.tokens.map((t) => [t.start, t.end]), expectedRanges(c, () => 0), 'UTF-16 ranges');
  assert.strictEqual(result.target, target);
  const dec = result.decoderTokens;
  assert.ok(dec, 'decoder tokens returned');
  assert.deepStrictEqual(dec.map((t) => t.id), c.decoder_input_ids, 'decoder input ids');
  assert.deepStrictEqual(dec.map((t) => t.raw), c.decoder_tokens, 'decoder tokens');
  assert.deepStrictEqual(dec.map((t) => t.special), c.decoder_special_tokens_mask!.map((m) => m === 1), 'decoder special tokens');
  const decoderCase = { ...c, text: target, text_pair: undefined, offsets: c.decoder_offsets!, special_tokens_mask: c.decoder_special_tokens_mask! };
  assert.deepStrictEqual(dec.map((t) => [t.start, t.end]), expectedRanges(decoderCase, () => 0), 'decoder UTF-16 ranges');

  const blocks = result.blocks ?? [];
  assert.deepStrictEqual(blocks.map((b) => b.kind), ['encoder', 'decoder', 'cross'], 'block kinds');
  assert.strictEqual(result.attentions, blocks[0].attentions, 'attentions is the encoder block');
  checkBlock(blocks[0], fixture.expected(`case${i}.encoder_attentions`), 'encoder');
  checkBlock(blocks[1], fixture.expected(`case${i}.decoder_attentions`), 'decoder');
  checkBlock(blocks[2], fixture.expected(`case${i}.cross_attentions`), 'cross');
  assert.deepStrictEqual(blocks[2].queryTokens, dec, 'cross queries are the decoder tokens');
  assert.deepStrictEqual(blocks[2].keyTokens, result.tokens, 'cross keys are the encoder tokens');
  checkHiddenStates(result.hiddenStates, fixture.expected(`case${i}.encoder_hidden_states`), 'encoder hidden state');
  checkHiddenStates(result.decoderHiddenStates, fixture.expected(`case${i}.decoder_hidden_states`), 'decoder hidden state');
}
