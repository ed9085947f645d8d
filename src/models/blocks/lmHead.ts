/**
 * The language-model heads of the families, one builder with the options the transformers
 * modeling files apply to the logits (4.48): the output embedding tied to the input embedding or
 * its own (`lm_head`, GPT-NeoX's `embed_out`), a bias (GPT-J, Phi), BART's `final_logits_bias`, a
 * scale on the stack output (T5's d_model^-0.5 when tied), a scale on the logits (Cohere's
 * `logit_scale`, Granite's 1/`logits_scaling`) and tanh soft-capping (Gemma 2's
 * `final_logit_softcapping`).
 */
import { configInt, type LmHead } from '../../engine/architecture';
import type { ModelConfig, ScopedTensors } from '../../engine/checkpoint';

export interface LmHeadSpec {
  /** The input embedding table, the output embedding when tied. */
  embedding: string;
  /** transformers' default for `tie_word_embeddings` in this family's config class, used when config.json does not say. */
  tiedByDefault: boolean;
  /** The untied output embedding (default `lm_head.weight`). */
  untied?: string;
  /** Width of the stack output the head reads (default hidden_size). */
  width?: number;
  /** A bias on the head's projection (`lm_head.bias`), required where the family has one. */
  bias?: string;
  /** An additive `[1, vocab]` logit bias (BART's `final_logits_bias`), where the checkpoint has it. */
  logitBias?: string;
  /** Multiply the stack output by this before the projection (T5 with tied embeddings: d_model^-0.5). */
  inputScale?: (tied: boolean) => number;
  /** Multiply the logits by this (Cohere's logit_scale, Granite's 1/logits_scaling). */
  logitScale?: number;
  /** tanh soft-capping of the logits (Gemma 2's final_logit_softcapping). */
  softcap?: number | null;
}

/** Whether the output embedding is the input embedding: config.json's `tie_word_embeddings`, or the family's default. */
export function tiedEmbeddings(config: ModelConfig, tiedByDefault: boolean): boolean {
  const v = config.tie_word_embeddings;
  return typeof v === 'boolean' ? v : tiedByDefault;
}

export function lmHead(config: ModelConfig, tensors: ScopedTensors, spec: LmHeadSpec): LmHead | undefined {
  const vocab = configInt(config, 'vocab_size');
  const width = spec.width ?? configInt(config, 'hidden_size', 'n_embd', 'n_embed', 'd_model');
  const tied = tiedEmbeddings(config, spec.tiedByDefault);
  const weightName = tied ? spec.embedding : (spec.untied ?? 'lm_head.weight');
  // A stack saved without its head (a base model with untied embeddings) has nothing to generate with.
  if (!tensors.has(weightName)) return undefined;
  const inputScale = spec.inputScale?.(tied) ?? 1;
  return {
    vocabSize: vocab,
    bytes: 4 * vocab * width,
    build(nn, x) {
      const h = inputScale === 1 ? x : nn.mul(x, nn.g.scalar(inputScale));
      const bias = spec.bias ? tensors.tensor(spec.bias, [vocab]) : undefined;
      let logits = nn.linear(h, tensors.tensor(weightName, [vocab, width]), vocab, width, bias, 'lm_head').y;
      const logitBias = spec.logitBias && tensors.has(spec.logitBias) ? tensors.tensor(spec.logitBias, [1, vocab]) : undefined;
      if (logitBias) logits = nn.add(logits, nn.g.use(logitBias));
      if (spec.logitScale !== undefined && spec.logitScale !== 1) logits = nn.mul(logits, nn.g.scalar(spec.logitScale));
      if (spec.softcap != null) {
        logits = nn.mul(nn.g.op('Tanh', [nn.g.op('Div', [logits, nn.g.scalar(spec.softcap)])]), nn.g.scalar(spec.softcap));
      }
      return logits;
    },
  };
}

