/**
 * Models suggested in the picker: real checkpoints of every architecture family the engine
 * supports. Sizes are the approximate download sizes of their safetensors weights (the exact size
 * is read from the Hub and shown before a large download starts).
 */
import { msg } from '../l10n/runtime';

export interface SuggestedModel {
  id: string;
  /** Approximate bytes of the safetensors weights. */
  approxBytes: number;
  /** `model_type` the engine loads it as. */
  modelType: string;
  /** Needs a token and an accepted licence. */
  gated: boolean;
  /** English (marked for the catalogue); the picker shows t(description). */
  description: string;
}

const MB = 1e6;
const GB = 1e9;

export const SUGGESTED_MODELS: readonly SuggestedModel[] = [
  { id: 'google-bert/bert-base-uncased', approxBytes: 440 * MB, modelType: 'bert', gated: false, description: msg('BERT base, the classic encoder (12 layers × 12 heads)') },
  { id: 'distilbert/distilbert-base-uncased', approxBytes: 268 * MB, modelType: 'distilbert', gated: false, description: msg('DistilBERT, 6-layer distilled BERT') },
  { id: 'FacebookAI/roberta-base', approxBytes: 499 * MB, modelType: 'roberta', gated: false, description: msg('RoBERTa base, byte-level BPE encoder') },
  { id: 'answerdotai/ModernBERT-base', approxBytes: 599 * MB, modelType: 'modernbert', gated: false, description: msg('ModernBERT base: rotary, local/global attention') },
  { id: 'google-t5/t5-small', approxBytes: 242 * MB, modelType: 't5', gated: false, description: msg('T5 small encoder: relative position buckets') },
  { id: 'openai-community/gpt2', approxBytes: 548 * MB, modelType: 'gpt2', gated: false, description: msg('GPT-2 small, causal decoder') },
  { id: 'EleutherAI/pythia-160m', approxBytes: 325 * MB, modelType: 'gpt_neox', gated: false, description: msg('Pythia 160M (GPT-NeoX): partial rotary') },
  { id: 'HuggingFaceTB/SmolLM2-135M', approxBytes: 269 * MB, modelType: 'llama', gated: false, description: msg('SmolLM2 135M, small Llama-style decoder') },
  { id: 'Qwen/Qwen2.5-0.5B', approxBytes: 988 * MB, modelType: 'qwen2', gated: false, description: msg('Qwen2.5 0.5B: grouped-query attention') },
  { id: 'Qwen/Qwen3-0.6B', approxBytes: 1.5 * GB, modelType: 'qwen3', gated: false, description: msg('Qwen3 0.6B: q/k norms, grouped-query attention') },
  { id: 'meta-llama/Llama-3.2-1B', approxBytes: 2.47 * GB, modelType: 'llama', gated: true, description: msg('Llama 3.2 1B (gated: accept the licence first)') },
  { id: 'google/gemma-2-2b', approxBytes: 10.5 * GB, modelType: 'gemma2', gated: true, description: msg('Gemma 2 2B, float32 weights (gated)') },
  { id: 'microsoft/Phi-3-mini-4k-instruct', approxBytes: 7.64 * GB, modelType: 'phi3', gated: false, description: msg('Phi-3 mini 3.8B, fused projections') },
];

/** `440 MB`, `2.5 GB`: decimal units, as the Hub shows file sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1e3) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1e3;
  let unit = 0;
  while (value >= 1e3 && unit < units.length - 1) {
    value /= 1e3;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1).replace(/\.0$/, '') : value.toFixed(2).replace(/\.?0+$/, '')} ${units[unit]}`;
}
