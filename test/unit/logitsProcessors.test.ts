/** Greedy decoding settings from generation_config.json, as transformers' logits processors apply them (generation/logits_process.py, 4.48). */
import * as assert from 'assert';
import { EngineError } from '../../src/engine/errors';
import { argmax, subBlock } from '../../src/engine/generate';
import { greedySettings, processLogits } from '../../src/engine/logitsProcessors';
import { describeGeneration } from '../../src/analysis/describe';

const logits = (values: number[]) => Float32Array.from(values);

describe('greedy decoding settings', () => {
  it('reads generation_config.json before config.json; the decoder start falls back to bos_token_id (mBART)', () => {
    const s = greedySettings({ eos_token_id: 2, bos_token_id: 0, decoder_start_token_id: 5 }, { eos_token_id: [2, 7], decoder_start_token_id: null });
    assert.deepStrictEqual([...s.eos], [2, 7]);
    assert.strictEqual(greedySettings({ bos_token_id: 0 }, {}).decoderStart, 0);
    assert.strictEqual(greedySettings({ bos_token_id: 0, decoder_start_token_id: 2 }, {}).decoderStart, 2);
    assert.deepStrictEqual(s.applied, []);
  });

  it('refuses, by name, settings that change greedy decoding and are not implemented', () => {
    assert.throws(() => greedySettings({}, { forced_decoder_ids: [[1, 50259]] }), (e: unknown) => e instanceof EngineError && /forced_decoder_ids = /.test(e.message) && /does not implement/.test(e.message));
    assert.throws(() => greedySettings({}, { encoder_repetition_penalty: 1.2 }), /encoder_repetition_penalty/);
    assert.throws(() => greedySettings({}, { sequence_bias: { '[1]': -1 } }), /sequence_bias/);
    // Neutral values are fine.
    assert.doesNotThrow(() => greedySettings({}, { encoder_repetition_penalty: 1, forced_decoder_ids: null, guidance_scale: 1 }));
  });

  it('refuses malformed values', () => {
    assert.throws(() => greedySettings({}, { repetition_penalty: 0 }), /repetition_penalty/);
    assert.throws(() => greedySettings({}, { no_repeat_ngram_size: 2.5 }), /no_repeat_ngram_size/);
    assert.throws(() => greedySettings({}, { bad_words_ids: [3] }), /bad_words_ids/);
  });

  it('repetition penalty divides positive and multiplies negative logits of ids already in the sequence', () => {
    const s = greedySettings({}, { repetition_penalty: 2 });
    const l = logits([4, -4, 3, 1]);
    processLogits(l, s, { ids: [0, 1, 1], inputLength: 3, requested: 4 });
    assert.deepStrictEqual([...l], [2, -8, 3, 1]);
    assert.deepStrictEqual(s.applied, ['repetition_penalty 2']);
  });

  it('no_repeat_ngram_size bans the token that would repeat an n-gram', () => {
    const s = greedySettings({}, { no_repeat_ngram_size: 2 });
    const l = logits([0, 0, 0, 9]);
    processLogits(l, s, { ids: [1, 3, 2, 1], inputLength: 2, requested: 4 });
    assert.strictEqual(l[3], -Infinity); // (1, 3) already occurred
    assert.strictEqual(argmax(l), 0);
  });

  it('bad_words_ids, suppress_tokens, begin_suppress_tokens and the minimum lengths ban tokens where transformers does', () => {
    const s = greedySettings({ eos_token_id: 0 }, { bad_words_ids: [[4], [1, 2]], suppress_tokens: [5], begin_suppress_tokens: [3], min_new_tokens: 2 });
    const l = logits([9, 8, 7, 6, 5, 4]);
    processLogits(l, s, { ids: [1], inputLength: 1, requested: 4 });
    assert.deepStrictEqual([...l].map((x) => x === -Infinity), [true, false, true, true, true, true]);
    const later = logits([9, 8, 7, 6, 5, 4]);
    processLogits(later, s, { ids: [1, 1, 1], inputLength: 1, requested: 4 });
    assert.deepStrictEqual([...later].map((x) => x === -Infinity), [false, false, true, false, true, true]);
  });

  it('forces the BOS token first and the EOS token last', () => {
    const s = greedySettings({}, { forced_bos_token_id: 3, forced_eos_token_id: 2 });
    const first = logits([9, 1, 1, 1]);
    processLogits(first, s, { ids: [0], inputLength: 1, requested: 3 });
    assert.strictEqual(argmax(first), 3);
    const last = logits([9, 1, 1, 1]);
    processLogits(last, s, { ids: [0, 3, 1], inputLength: 1, requested: 3 });
    assert.strictEqual(argmax(last), 2);
    const middle = logits([9, 1, 1, 1]);
    processLogits(middle, s, { ids: [0, 3], inputLength: 1, requested: 3 });
    assert.strictEqual(argmax(middle), 0);
  });
});

describe('generation helpers', () => {
  it('argmax takes the lowest index on an exact tie, as torch does', () => {
    assert.strictEqual(argmax(logits([1, 5, 5, 2])), 1);
    assert.strictEqual(argmax(logits([-Infinity, -1])), 1);
  });

  it('subBlock reads the box of a row-major tensor', () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    assert.deepStrictEqual([...subBlock(data, [2, 3, 4], [[0, 2], [2, 1], [1, 3]])], [9, 10, 11, 21, 22, 23]);
    assert.deepStrictEqual([...subBlock(data, [2, 3, 4], [[1, 1], [0, 2], [0, 2]])], [12, 13, 16, 17]);
    assert.strictEqual(subBlock(data, [2, 3, 4], [[0, 2], [0, 0], [0, 4]]).length, 0);
  });

  it("the badge names the generated tokens and why generation stopped", () => {
    assert.strictEqual(describeGeneration({}), '');
    const base = { method: 'greedy' as const, text: 'x', requested: 16, settings: [] };
    assert.strictEqual(describeGeneration({ generation: { ...base, newIds: [1, 2], stoppedBy: 'eos' } }), ' · 2 generated tokens (greedy, stopped at the end-of-sequence token), in italics and link colour');
    assert.strictEqual(describeGeneration({ generation: { ...base, newIds: [1], stoppedBy: 'count' } }), ' · 1 generated token (greedy), in italics and link colour');
  });
});
