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

/** The full result of analyzing one text. */
export interface AttentionResult {
  model: ModelSummary;
  text: string;
  tokens: TokenInfo[];
  /** Attention probabilities `[layers, heads, n, n]`: rows are queries and sum to 1. */
  attentions: TensorData;
  /**
   * ‖f_h(x_j)‖ = ‖(x_j W_V^h + b_V^h) W_O^h‖ per layer, head and key token, `[layers, heads, n]`
   * (Kobayashi et al. 2020), for value-weighted attention α_ij·‖f_h(x_j)‖.
   */
  valueNorms: TensorData;
  /** `[layers + 1, n, hidden]` as transformers returns them; only when asked for. */
  hiddenStates?: TensorData;
  /** Tokens of the whole text when it was cut to the first n (AnalyzeOptions.truncateTo). */
  truncatedFrom?: number;
  /** Where the model came from, as resolved by the host (for "Copy as Python"). */
  origin?: ModelOrigin;
  timings: { tokenizeMs: number; computeMs: number };
}

/** q, k, v of one layer and head for the step-by-step view, each `[n, headDim]` float32. */
export interface HeadVectors {
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
}

/** Error kinds the host turns into helpful notifications. */
export type EngineErrorCode =
  | 'unsupported-architecture'
  | 'pickle-only'
  | 'bad-checkpoint'
  | 'missing-file'
  | 'too-long'
  | 'empty-text'
  | 'cancelled'
  | 'not-loaded'
  | 'internal';

export interface EngineErrorInfo {
  code: EngineErrorCode;
  message: string;
  /** For 'too-long': the model's limit in tokens and the input's length. */
  limit?: number;
  length?: number;
}
