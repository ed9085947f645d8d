/**
 * Data shapes shared by the extension host, the engine worker and the webview.
 * Everything here must be structured-clone friendly: plain objects, numbers, strings and
 * ArrayBuffers (matrices travel as transferable buffers, never as JSON arrays).
 */

/** One token of the analyzed text. */
export interface TokenInfo {
  /** Vocabulary id. */
  id: number;
  /** The token as the vocabulary spells it (`Ġthe`, `##ing`, `▁de`). */
  raw: string;
  /** Readable text (byte-level and SentencePiece markers turned back into the text they stand for). */
  display: string;
  /** Range in the analyzed text in UTF-16 code units (VS Code offsets); -1/-1 for special tokens. */
  start: number;
  end: number;
  /** True for tokens the tokenizer added ([CLS], <s>, ...): they cover no text. */
  special: boolean;
  /** Segment (token type) id for sentence pairs; 0 otherwise. */
  segment: number;
  /** True for tokens the model generated ("Continue and Show Attention"): they are not in the editor. */
  generated?: boolean;
}

/** What the panel needs to know about the model that produced a result. */
export interface ModelSummary {
  /** Name shown to the user (hub id, folder name or "built-in"). */
  name: string;
  /** Where it came from: a hub id with revision, or a folder path. */
  source: string;
  /** `model_type` from config.json. */
  modelType: string;
  numLayers: number;
  /** Query heads (with grouped-query attention there is one attention matrix per query head). */
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  hiddenSize: number;
  /** Longest input in tokens (special tokens included); null when the model has no limit. */
  maxTokens: number | null;
  /** Decoder-only models attend to the past only. */
  causal: boolean;
  /**
   * Encoder-decoders (T5, BART, Marian, mBART): the decoder stack's shape. The fields above describe
   * the encoder; a result then has three attention blocks and needs a decoder text (`target`).
   */
  decoder?: { numLayers: number; numHeads: number; headDim: number; maxTokens: number | null };
}

/** A resolved model source: a Hub repo at a commit, or a folder on disk. */
export type ModelOrigin = { kind: 'hub'; id: string; revision: string } | { kind: 'folder'; path: string };

/** Element type of a matrix buffer. float16 is used for large results to bound memory. */
export type MatrixDType = 'float32' | 'float16';

/** A dense row-major tensor carried as a transferable buffer. */
export interface TensorData {
  dtype: MatrixDType;
  shape: number[];
  buffer: ArrayBuffer;
}

/**
 * Which attention a block holds: a single-stack model's self-attention, or one of an
 * encoder-decoder's three (encoder self, decoder self, cross: decoder queries over encoder keys).
 */
export type AttentionBlockKind = 'self' | 'encoder' | 'decoder' | 'cross';

/** Where a block's query or key tokens come from: the analyzed text (in the document) or the decoder text. */
export type TokenSide = 'input' | 'target';

/** One named attention block `[layers, heads, queries, keys]`, with its own query and key tokens. */
export interface AttentionBlock {
  kind: AttentionBlockKind;
  /** Shown in the panel ("Encoder self-attention", "Cross-attention", ...). */
  label: string;
  querySide: TokenSide;
  keySide: TokenSide;
  queryTokens: TokenInfo[];
  keyTokens: TokenInfo[];
  /** Queries see only keys at or before their position. */
  causal: boolean;
  /** `[layers, heads, queries, keys]`; rows sum to 1. Rectangular for cross-attention. */
  attentions: TensorData;
  /** `[layers, heads, keys]` ‖f_h(x_j)‖ of the key tokens. */
  valueNorms: TensorData;
}

/** The full result of analyzing one text. */
export interface AttentionResult {
  model: ModelSummary;
  text: string;
  tokens: TokenInfo[];
  /**
   * Attention probabilities `[layers, heads, n, n]`: rows are queries and sum to 1. For an
   * encoder-decoder, the encoder's self-attention (the first block).
   */
  attentions: TensorData;
  /**
   * ‖f_h(x_j)‖ = ‖(x_j W_V^h + b_V^h) W_O^h‖ per layer, head and key token, `[layers, heads, n]`
   * (Kobayashi et al. 2020), for value-weighted attention α_ij·‖f_h(x_j)‖.
   */
  valueNorms: TensorData;
  /** `[layers + 1, n, hidden]` as transformers returns them; only when asked for. */
  hiddenStates?: TensorData;
  /**
   * Every attention block, first the one `attentions` holds. Absent (single-stack results from older
   * engines): read through `attentionBlocks`, which gives the one self-attention block.
   */
  blocks?: AttentionBlock[];
  /** Encoder-decoders: the decoder text and its tokens after the model's shift-right (start token first). */
  target?: string;
  decoderTokens?: TokenInfo[];
  /** Encoder-decoders: the decoder's hidden states `[decoder layers + 1, n_dec, hidden]`, when asked for. */
  decoderHiddenStates?: TensorData;
  /** Tokens of the whole text when it was cut to the first n (AnalyzeOptions.truncateTo). */
  truncatedFrom?: number;
  /** "Continue and Show Attention": what was generated; the generated tokens are marked in `tokens` (or `decoderTokens`). */
  generation?: GenerationInfo;
  /** Where the model came from, as resolved by the host (for "Copy as Python"). */
  origin?: ModelOrigin;
  /** Set when the tokens are the repeated-random-tokens probe rather than a text from an editor. */
  probe?: ProbeInfo;
  timings: { tokenizeMs: number; computeMs: number };
}

/**
 * The repeated-random-tokens probe: `prefix` special tokens, `length` distinct random ordinary tokens
 * (seeded), the same `length` tokens again, `suffix` special tokens.
 */
export interface ProbeInfo {
  length: number;
  seed: number;
  prefix: number;
  suffix: number;
  /** How many ordinary vocabulary ids the tokens were drawn from (added and special tokens excluded). */
  vocabularyDrawn: number;
}

/** q, k, v of one layer and head for the step-by-step view, each `[n, headDim]` float32. */
export interface HeadVectors {
  /** The block the vectors belong to ('self' or 'encoder' when absent). For cross, q is `[n_dec, d]` and k, v `[n_enc, d]`. */
  block?: AttentionBlockKind;
  layer: number;
  head: number;
  /** Scale applied to q·k before softmax (1/√d for most models, 1 for T5, query_pre_attn_scalar for Gemma 2). */
  scale: number;
  /** Tanh soft-capping of the logits before the mask (Gemma 2), or null. */
  softcap: number | null;
  q: TensorData;
  k: TensorData;
  v: TensorData;
  /**
   * Additive logit terms the model adds to q·k·scale before softmax, `[n, n]` float32: the causal /
   * sliding-window mask (-Infinity), T5's relative position bias, and terms the layer computes from
   * q and k (DeBERTa's c2p/p2c, BERT's relative_key_query), named in `biasTerms`. Null when there are none.
   */
  bias: TensorData | null;
  /** What `bias` sums, where it includes terms computed from q and k (e.g. `c2p`, `p2c`); absent otherwise. */
  biasTerms?: string[];
  /**
   * The model's own logits before softmax for this head, `[n, n]` float32 (scale, soft-cap and every
   * additive term applied), so step by step can show "model logit − q·k·scale". Absent from older engines.
   */
  logits?: TensorData;
}

export interface AnalyzeOptions {
  /** Second segment for sentence-pair models (BERT-style). */
  textPair?: string;
  /** Also return hidden states (tests, CLI). */
  hiddenStates?: boolean;
  /** Cut the input to this many tokens instead of refusing text that is too long. */
  truncateTo?: number;
  /** Encoder-decoders: the decoder text (a translation, a summary); its tokens are shifted right as the model does. */
  target?: string;
}

/** How a generated result came about. */
export interface GenerationInfo {
  /** Greedy (argmax) decoding with the model's own LM head. */
  method: 'greedy';
  /** The generated ids, in order (for an encoder-decoder, after the decoder start token). */
  newIds: number[];
  /** The generated text, decoded by the model's tokenizer. */
  text: string;
  /** How many were asked for. */
  requested: number;
  /** Why it ended: the requested count, the model's end-of-sequence token, or the model's longest sequence. */
  stoppedBy: 'count' | 'eos' | 'max-positions';
  /** Encoder-decoders: the decoder start token (`decoder_start_token_id`). */
  decoderStartId?: number;
  /** generation_config.json settings applied to the greedy choice (e.g. `no_repeat_ngram_size 3`). */
  settings: string[];
}

export interface GenerateOptions {
  /** How many tokens to generate at most (attentionInspector.generateTokens). */
  maxNewTokens: number;
  /** Stop after the model's end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /**
   * Apply what generation_config.json asks of greedy decoding, as transformers' generate() does
   * (forced BOS/EOS tokens, repetition penalty, n-gram blocking, banned and suppressed tokens,
   * minimum lengths; default true). The reference fixtures turn these and the EOS stop off.
   */
  processors?: boolean;
}

/** The attention blocks of a result: `blocks`, or the one self-attention block of a single-stack result. */
export function attentionBlocks(result: AttentionResult): AttentionBlock[] {
  if (result.blocks && result.blocks.length > 0) return result.blocks;
  return [{ kind: 'self', label: 'Self-attention', querySide: 'input', keySide: 'input', queryTokens: result.tokens, keyTokens: result.tokens, causal: result.model.causal, attentions: result.attentions, valueNorms: result.valueNorms }];
}

/** Every distinct buffer of a result, for a transfer list (blocks share buffers with `attentions`). */
export function resultBuffers(result: AttentionResult): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>([result.attentions.buffer, result.valueNorms.buffer]);
  if (result.hiddenStates) buffers.add(result.hiddenStates.buffer);
  if (result.decoderHiddenStates) buffers.add(result.decoderHiddenStates.buffer);
  for (const block of result.blocks ?? []) {
    buffers.add(block.attentions.buffer);
    buffers.add(block.valueNorms.buffer);
  }
  return [...buffers];
}

/** Error kinds the host turns into helpful notifications. */
export type EngineErrorCode =
  | 'unsupported-architecture'
  | 'pickle-only'
  | 'bad-checkpoint'
  | 'missing-file'
  | 'too-long'
  | 'memory-limit'
  | 'empty-text'
  | 'cancelled'
  | 'not-loaded'
  | 'internal'
  /** The engine process ended (a native library aborted on the model's files); the next request starts a fresh one. */
  | 'engine-crashed';

export interface EngineErrorInfo {
  code: EngineErrorCode;
  message: string;
  /** For 'too-long': the model's limit in tokens and the input's length; for 'memory-limit': the memory limit in GB that would do. */
  limit?: number;
  length?: number;
}
