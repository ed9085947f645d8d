/**
 * The repeated-random-tokens probe (Olsson et al. 2022, "In-context learning and induction heads";
 * the standard induction-head test in TransformerLens tutorials): `length` distinct tokens drawn
 * from the vocabulary with a seeded generator, written twice, inside the special tokens the
 * tokenizer adds to any text. Only a head that looks at "what followed this token last time" can
 * attend in a pattern on tokens that mean nothing, so induction heads stand out.
 */
import type { ProbeInfo } from '../protocol/types';
import { EngineError } from './errors';

/** Longest random half the probe accepts (the sequence is about twice that). */
export const MAX_PROBE_LENGTH = 2048;

/** mulberry32: a small, well-mixed 32-bit generator; the same seed gives the same sequence everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct values of `pool`, in random order (a partial Fisher–Yates shuffle of a copy). */
export function drawDistinct(pool: readonly number[], count: number, random: () => number): number[] {
  const a = [...pool];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, count);
}

/** The probe's ids: prefix + r + r + suffix, with `r` drawn from `pool` (the ordinary vocabulary ids). */
export function repeatedRandomTokens(
  pool: readonly number[],
  frame: { prefix: number[]; suffix: number[] },
  length: number,
  seed: number,
  maxTokens: number,
): { ids: number[]; info: ProbeInfo } {
  if (!Number.isInteger(length) || length < 2 || length > MAX_PROBE_LENGTH) {
    throw new EngineError('internal', `The probe's length must be a whole number from 2 to ${MAX_PROBE_LENGTH} (got ${length}).`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new EngineError('internal', `The probe's seed must be a whole number from 0 to 4294967295 (got ${seed}).`);
  if (pool.length < length) throw new EngineError('internal', `This vocabulary has only ${pool.length} ordinary tokens; the probe needs ${length} distinct ones.`);
  const total = frame.prefix.length + 2 * length + frame.suffix.length;
  if (total > maxTokens) {
    const fits = Math.floor((maxTokens - frame.prefix.length - frame.suffix.length) / 2);
    throw new EngineError('too-long', `The probe would be ${total} tokens; this model takes at most ${maxTokens}. Use a length of at most ${fits}.`, { limit: Math.max(0, fits), length: total });
  }
  const half = drawDistinct(pool, length, seededRandom(seed));
  return {
    ids: [...frame.prefix, ...half, ...half, ...frame.suffix],
    info: { length, seed, prefix: frame.prefix.length, suffix: frame.suffix.length, vocabularyDrawn: pool.length },
  };
}
