/**
 * What generation_config.json asks of greedy decoding, as transformers' `generate()` (4.48) turns
 * it into logits processors for `do_sample=False, num_beams=1`: forced first and last tokens,
 * repetition penalty, n-gram blocking, banned and suppressed tokens, minimum lengths. Sampling and
 * beam settings (do_sample, temperature, top_k, top_p, num_beams, ...) do not apply: Continue and
 * Show Attention decodes greedily by design. A setting that changes greedy decoding and is not
 * implemented here is refused by name, like the model options the families refuse.
 */
import { EngineError } from './errors';
import { shownValue } from './files';

export interface GreedySettings {
  eos: Set<number>;
  /** The decoder's first token (encoder-decoders): decoder_start_token_id, else bos_token_id as transformers falls back. */
  decoderStart?: number;
  forcedBos?: number;
  forcedEos?: number;
  repetitionPenalty?: number;
  noRepeatNgramSize?: number;
  /** Token sequences never to complete (bad_words_ids). */
  badWords: number[][];
  suppress: number[];
  beginSuppress: number[];
  minLength?: number;
  minNewTokens?: number;
  /** What of the above generation_config.json set, for the result's description. */
  applied: string[];
}

/** Settings that change greedy decoding in transformers and are not implemented: refused when set to anything but their neutral value. */
const NOT_IMPLEMENTED: [key: string, neutral: (v: unknown) => boolean][] = [
  ['forced_decoder_ids', (v) => v == null || (Array.isArray(v) && v.length === 0)],
  ['sequence_bias', (v) => v == null],
  ['exponential_decay_length_penalty', (v) => v == null],
  ['encoder_repetition_penalty', (v) => v == null || v === 1],
  ['encoder_no_repeat_ngram_size', (v) => v == null || v === 0],
  ['guidance_scale', (v) => v == null || v === 1],
  ['watermarking_config', (v) => v == null],
  ['token_healing', (v) => v == null || v === false],
  ['dola_layers', (v) => v == null],
  ['penalty_alpha', (v) => v == null],
  ['prompt_lookup_num_tokens', (v) => v == null],
];

function tokenId(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function idList(v: unknown, key: string): number[] {
  if (v == null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => tokenId(x) !== undefined)) throw new EngineError('bad-checkpoint', `generation_config.json's ${key} must be a token id or a list of token ids.`);
  return list as number[];
}

/**
 * Reads the settings from generation_config.json (`generation`), then config.json, as transformers
 * does when it builds a model's generation config.
 */
export function greedySettings(config: Record<string, unknown>, generation: Record<string, unknown>): GreedySettings {
  const get = (key: string): unknown => (Object.hasOwn(generation, key) ? generation[key] : config[key]);
  for (const [key, neutral] of NOT_IMPLEMENTED) {
    const v = get(key);
    if (!neutral(v)) {
      throw new EngineError('unsupported-architecture', `generation_config.json sets ${key} = ${shownValue(v)}, which changes greedy decoding and Attention Inspector does not implement; the continuation would not be the model's, so nothing is generated.`);
    }
  }
  const applied: string[] = [];
  const positive = (key: string, isInt: boolean): number | undefined => {
    const v = get(key);
    if (v == null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (isInt && !Number.isInteger(v))) throw new EngineError('bad-checkpoint', `generation_config.json's ${key} is ${shownValue(v)}: it must be a ${isInt ? 'whole ' : ''}number ≥ 0.`);
    return v;
  };
  const penalty = positive('repetition_penalty', false);
  if (penalty === 0) throw new EngineError('bad-checkpoint', "generation_config.json's repetition_penalty must be greater than 0.");
  const ngram = positive('no_repeat_ngram_size', true);
  const minLength = positive('min_length', true);
  const minNew = positive('min_new_tokens', true);
  const badValue = get('bad_words_ids');
  if (badValue != null && !(Array.isArray(badValue) && badValue.every((w) => Array.isArray(w) && w.length > 0 && w.every((x) => tokenId(x) !== undefined)))) {
    throw new EngineError('bad-checkpoint', "generation_config.json's bad_words_ids must be a list of non-empty lists of token ids.");
  }
  const badWords = (badValue ?? []) as number[][];
  const suppress = idList(get('suppress_tokens'), 'suppress_tokens');
  const beginSuppress = idList(get('begin_suppress_tokens'), 'begin_suppress_tokens');
  const settings: GreedySettings = {
    eos: new Set(idList(get('eos_token_id'), 'eos_token_id')),
    decoderStart: tokenId(get('decoder_start_token_id')) ?? tokenId(get('bos_token_id')),
    forcedBos: tokenId(get('forced_bos_token_id')),
    forcedEos: tokenId(get('forced_eos_token_id')),
    repetitionPenalty: penalty !== undefined && penalty !== 1 ? penalty : undefined,
    noRepeatNgramSize: ngram ? ngram : undefined,
    badWords,
    suppress,
    beginSuppress,
    minLength: minLength ? minLength : undefined,
    minNewTokens: minNew ? minNew : undefined,
    applied,
  };
  if (settings.forcedBos !== undefined) applied.push(`forced_bos_token_id ${settings.forcedBos}`);
  if (settings.forcedEos !== undefined) applied.push(`forced_eos_token_id ${settings.forcedEos}`);
  if (settings.repetitionPenalty !== undefined) applied.push(`repetition_penalty ${settings.repetitionPenalty}`);
  if (settings.noRepeatNgramSize !== undefined) applied.push(`no_repeat_ngram_size ${settings.noRepeatNgramSize}`);
  if (badWords.length > 0) applied.push('bad_words_ids');
  if (suppress.length > 0) applied.push('suppress_tokens');
  if (beginSuppress.length > 0) applied.push('begin_suppress_tokens');
  if (settings.minLength !== undefined) applied.push(`min_length ${settings.minLength}`);
  if (settings.minNewTokens !== undefined) applied.push(`min_new_tokens ${settings.minNewTokens}`);
  return settings;
}

export interface StepContext {
  /** The sequence so far: prompt + generated (decoder-only), or the decoder's ids (encoder-decoders). */
  ids: readonly number[];
  /** Length of that sequence before generation began (the prompt; 1 for a decoder start token). */
  inputLength: number;
  /** How many new tokens were asked for (max_new_tokens). */
  requested: number;
}

/**
 * Applies the settings to the next token's logits, in place, as transformers' processors do;
 * then the argmax is the greedy choice.
 */
export function processLogits(logits: Float32Array, s: GreedySettings, step: StepContext): void {
  const { ids } = step;
  const curLen = ids.length;
  const ban = (id: number) => {
    if (id < logits.length) logits[id] = -Infinity;
  };
  // RepetitionPenaltyLogitsProcessor: every id already in the sequence, once.
  if (s.repetitionPenalty !== undefined) {
    const p = s.repetitionPenalty;
    for (const id of new Set(ids)) if (id < logits.length) logits[id] = logits[id] < 0 ? logits[id] * p : logits[id] / p;
  }
  // NoRepeatNGramLogitsProcessor: no n-gram of the sequence twice.
  const n = s.noRepeatNgramSize;
  if (n !== undefined && curLen + 1 >= n) {
    const prefix = ids.slice(curLen - n + 1).join(',');
    for (let i = 0; i + n <= curLen; i++) if (ids.slice(i, i + n - 1).join(',') === prefix) ban(ids[i + n - 1]);
  }
  // NoBadWordsLogitsProcessor: the last token of a banned sequence whose start the sequence ends with.
  for (const word of s.badWords) {
    const head = word.slice(0, -1);
    if (head.length <= curLen && head.every((id, k) => ids[curLen - head.length + k] === id)) ban(word[word.length - 1]);
  }
  // MinLengthLogitsProcessor / MinNewTokensLengthLogitsProcessor: no end of sequence before the minimum.
  if ((s.minLength !== undefined && curLen < s.minLength) || (s.minNewTokens !== undefined && curLen - step.inputLength < s.minNewTokens)) s.eos.forEach(ban);
  s.suppress.forEach(ban);
  // SuppressTokensAtBeginLogitsProcessor: at the first generated position (after a forced BOS, the next).
  const beginIndex = step.inputLength + (step.inputLength === 1 && s.forcedBos !== undefined ? 1 : 0);
  if (curLen === beginIndex) s.beginSuppress.forEach(ban);
  // ForcedBOSTokenLogitsProcessor / ForcedEOSTokenLogitsProcessor: only that token.
  const forced = curLen === 1 && s.forcedBos !== undefined ? s.forcedBos : curLen === step.inputLength + step.requested - 1 && s.forcedEos !== undefined ? s.forcedEos : undefined;
  if (forced !== undefined && forced < logits.length) {
    logits.fill(-Infinity);
    logits[forced] = 0;
  }
}
