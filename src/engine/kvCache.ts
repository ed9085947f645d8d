/**
 * The key/value cache hook of a generation graph. A runner that builds a graph for incremental
 * decoding registers a hook on the graph's `Nn`; the shared attention block (src/models/blocks/
 * attention.ts) asks for it at every self-attention site and, where there is one, attends with the
 * past keys and values concatenated before the new ones. Families stay unaware of caching: their
 * keys and values `[heads, n, d]` (after rotary, repeated for grouped-query attention) are exactly
 * what is cached. Cross-attention sites read the encoder output and are not cached.
 */
import type { Nn } from './onnx/layers';

export interface KvCacheHook {
  /** The layer's keys and values over past + new tokens, from its new ones. */
  extend(k: string, v: string): { k: string; v: string };
}

const hooks = new WeakMap<Nn, KvCacheHook>();

export function setKvCacheHook(nn: Nn, hook: KvCacheHook): void {
  hooks.set(nn, hook);
}

export function kvCacheHook(nn: Nn): KvCacheHook | undefined {
  return hooks.get(nn);
}
