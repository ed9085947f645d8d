/**
 * The contract between the generic runner and one model family (`src/models/<model_type>.ts`).
 * The engine never imports a family: a `FamilyRegistry` is handed to `AttentionModel.load` by its
 * caller (worker, CLI, tests). A family
 * - parses config.json into its own typed settings and refuses, by name, every option it does not
 *   implement (`refuseOption`, `acceptOnly`);
 * - computes the embedding output in TypeScript (only the rows of the text's tokens are read);
 * - declares its per-text inputs once (`PositionInput`: rotary tables, masks, biases), by value, so
 *   no input name is spelled twice;
 * - describes each layer as ONNX nodes and says, per layer, how its attention is formed
 *   (`AttentionSite`: self or cross, scale, soft-cap, additive logit terms).
 */
import type { ModelSummary } from '../protocol/types';
import type { Checkpoint, ModelConfig } from './checkpoint';
import { EngineError } from './errors';
import { shownValue } from './files';
import type { Nn } from './onnx/layers';

/**
 * Axes of per-text inputs: a number, `'n'` for the stack's own tokens, `'m'` for the encoder's tokens
 * (the key axis of a cross site in an encoder-decoder's decoder).
 */
export type Axis = number | 'n' | 'm';

/**
 * A float32 input computed per text and shared by every layer that uses it (rotary cos/sin, an
 * additive mask, ALiBi, a relative-position bias).
 */
export interface PositionInput {
  readonly name: string;
  readonly dims: readonly Axis[];
  compute(n: number): Float32Array;
}

/** Declares a position input (the name is the graph input's name; keep it unique per family). */
export function positionInput(name: string, dims: readonly Axis[], compute: (n: number) => Float32Array): PositionInput {
  return { name, dims, compute };
}

/**
 * How one layer's attention logits are formed: softcap(q·kᵀ·scale) + Σ terms (+ any terms the layer
 * computes in the graph, such as DeBERTa's c2p/p2c or BERT's relative_key_query q·D, handed to
 * `attend` as `graphTerms`), then softmax. `terms` are additive `[n, n]` or `[heads, n, n]` position
 * inputs (causal / sliding masks, ALiBi, relative-position biases); the graph also exposes the
 * summed logits before softmax, so step by step can show "model logit − q·k·scale" whatever the
 * terms were. `cross` sites (encoder-decoder) take queries from the decoder and keys and values
 * from the encoder's output; their terms are `[.., n, 'm']`.
 */
export interface AttentionSite {
  readonly kind: 'self' | 'cross';
  readonly scale: number;
  readonly softcap: number | null;
  readonly terms: readonly PositionInput[];
  /**
   * What each logit term the layer computes in the graph is, in the order the layer hands them to
   * `attend` (e.g. DeBERTa's `c2p`, `p2c`); step by step names them. Declared here so the runner
   * exposes their sum with the site's terms as the layer's `terms` output. Empty for most models.
   */
  readonly graphTerms: readonly string[];
}

export function selfSite(scale: number, terms: readonly PositionInput[] = [], softcap: number | null = null, graphTerms: readonly string[] = []): AttentionSite {
  return { kind: 'self', scale, softcap, terms, graphTerms };
}

export function crossSite(scale: number, terms: readonly PositionInput[] = []): AttentionSite {
  return { kind: 'cross', scale, softcap: null, terms, graphTerms: [] };
}

/** Names of the values one layer produces in the graph. */
export interface LayerOutputs {
  hidden: string;
  /** `[heads, n, n]` attention probabilities (one per query head). */
  probs: string;
  /** `[heads, n, n]` logits before softmax (after scale, soft-cap and every additive term). */
  logits: string;
  /**
   * `[heads, n, n]` sum of every additive term (the site's and the graph-computed ones) where the
   * site declares `graphTerms`: what step by step shows as the bias. Absent otherwise (the runner
   * then sums the site's position inputs itself).
   */
  terms?: string;
  /** `[heads, n]` ‖f_h(x_j)‖. */
  valueNorms: string;
  /** `[heads, n, d]` queries, keys and values per query head (after rotary, keys/values repeated for GQA). */
  q: string;
  k: string;
  v: string;
}

/** Returns the graph input for a position input, declaring it on first use in this graph. */
export type UseInput = (input: PositionInput) => string;

export type ArchSummary = Omit<ModelSummary, 'name' | 'source'>;

export interface Architecture {
  readonly summary: ArchSummary;
  /** Float32 bytes of one layer's weights (to group layers into sessions). */
  readonly layerBytes: number;
  /** hidden_states[0]: the embedding output `[n, hidden]`. */
  embed(ids: number[], typeIds: number[]): Float32Array;
  /** How layer `layer` forms its attention (scale, soft-cap, additive terms). */
  site(layer: number): AttentionSite;
  /** Adds layer `layer` to the graph, reading its weights from the checkpoint. */
  buildLayer(nn: Nn, layer: number, hidden: string, use: UseInput): LayerOutputs;
  /** The final norm after the last layer, where the model has one. */
  buildFinal?(nn: Nn, hidden: string): string;
  /**
   * The model's own language-model head, where it has one (causal LMs; an encoder-decoder's
   * decoder): logits from the stack's output (after `buildFinal`). Encoder-only models have none,
   * and generation refuses them.
   */
  readonly lmHead?: LmHead;
}

/** A language-model head: `[n, hidden]` stack output (after the final norm) → `[n, vocab]` logits. */
export interface LmHead {
  readonly vocabSize: number;
  /** Float32 bytes of its weights (for the memory check). */
  readonly bytes: number;
  build(nn: Nn, x: string): string;
}

/** What a decoder layer of an encoder-decoder produces: its self-attention's outputs and its cross-attention's. */
export interface DecoderLayerOutputs extends LayerOutputs {
  /**
   * The cross site's values: probs and logits `[heads, n, m]` (decoder queries over encoder keys),
   * value norms `[heads, m]`, q `[heads, n, d]`, k and v `[heads, m, d]`.
   */
  cross: Omit<LayerOutputs, 'hidden'>;
}

/** The decoder stack of an encoder-decoder: causal self sites, a cross site per layer, and the model's shift-right. */
export interface DecoderStack extends Omit<Architecture, 'buildLayer'> {
  /** The cross site of decoder layer `layer` (keys and values from `encoderOutput`). */
  crossSite(layer: number): AttentionSite;
  /**
   * Decoder input ids from the tokenizer's ids for the decoder text (the model's own shift-right):
   * the start token, then `labels[:-1]`.
   */
  decoderInputIds(labels: number[]): number[];
  buildLayer(nn: Nn, layer: number, hidden: string, use: UseInput): DecoderLayerOutputs;
}

/**
 * What an encoder-decoder family returns (t5, bart, marian, mbart): two stacks built with the same
 * contract. The encoder runs first over the text; its last hidden state (after its final norm) is
 * `encoderOutput`, which every decoder layer reads for its cross site's keys and values. The runner
 * (src/engine/encoderDecoder.ts) names the result blocks encoder self, decoder self and cross.
 */
export interface EncoderDecoderArchitecture {
  readonly encoder: Architecture;
  readonly decoder: DecoderStack;
}

export function isEncoderDecoder(arch: Architecture | EncoderDecoderArchitecture): arch is EncoderDecoderArchitecture {
  return 'encoder' in arch && 'decoder' in arch;
}

/** The graph input name of the encoder output; the runner feeds it, nothing computes it from positions. */
export const ENCODER_OUTPUT = 'encoder_output';

/** The encoder's last hidden state `[m, hidden]`, an input of every decoder layer with a cross site. */
export function encoderOutput(hidden: number): PositionInput {
  return positionInput(ENCODER_OUTPUT, ['m', hidden], () => {
    throw new Error('the encoder output is fed by the runner, not computed from positions');
  });
}

/** One family: the `model_type`s it implements and how to build it from a checkpoint. */
export interface Family {
  readonly modelTypes: readonly string[];
  create(ckpt: Checkpoint): Architecture | EncoderDecoderArchitecture;
}

/** The families the engine may build; handed to the engine by its caller. */
export class FamilyRegistry {
  private readonly byType = new Map<string, Family>();

  constructor(families: readonly Family[]) {
    for (const family of families) {
      for (const type of family.modelTypes) {
        if (this.byType.has(type)) throw new Error(`model_type ${type} is registered twice`);
        this.byType.set(type, family);
      }
    }
  }

  modelTypes(): string[] {
    return [...this.byType.keys()].sort();
  }

  create(ckpt: Checkpoint): Architecture | EncoderDecoderArchitecture {
    const type = ckpt.config.model_type;
    const family = typeof type === 'string' ? this.byType.get(type) : undefined;
    if (!family) {
      throw new EngineError('unsupported-architecture', `Model type "${String(type)}" is not supported. Supported model types: ${this.modelTypes().join(', ')}.`);
    }
    return family.create(ckpt);
  }
}

/** Refuses a config option the family does not implement, naming it and its value. */
export function refuseOption(config: ModelConfig, key: string, why = ''): never {
  const type = String(config.model_type);
  throw new EngineError(
    'unsupported-architecture',
    `config.json sets ${key} = ${shownValue(config[key])}, which Attention Inspector does not implement for ${type} yet${why ? ` (${why})` : ''}; its attentions would be wrong, so the model is not loaded.`,
  );
}

/**
 * Refuses `key` unless it is absent (undefined or null) or one of `accepted`. Every option that
 * changes the computation and that a family does not implement goes through this (or
 * `refuseOption`): a silently ignored option gives wrong attentions.
 */
export function acceptOnly(config: ModelConfig, key: string, accepted: readonly unknown[], why = ''): void {
  const v = config[key];
  if (v === undefined || v === null) return;
  if (!accepted.some((a) => a === v)) refuseOption(config, key, why);
}

/**
 * The summary every family reports. `kvHeads` defaults to one key/value head per query head;
 * `maxTokens` is null where no position table bounds the length.
 */
export function summarize(config: Record<string, unknown>, shape: { layers: number; heads: number; kvHeads?: number; headDim: number; hidden: number; maxTokens: number | null; causal: boolean }): ArchSummary {
  return {
    modelType: String(config.model_type),
    numLayers: shape.layers,
    numHeads: shape.heads,
    numKeyValueHeads: shape.kvHeads ?? shape.heads,
    headDim: shape.headDim,
    hiddenSize: shape.hidden,
    maxTokens: shape.maxTokens,
    causal: shape.causal,
  };
}

/** Reads a config value that must be a positive integer. */
export function configInt(config: Record<string, unknown>, ...keys: string[]): number {
  for (const key of keys) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  throw new EngineError('bad-checkpoint', `config.json has no valid ${keys.join(' / ')}`);
}

export function configNumber(config: Record<string, unknown>, fallback: number, ...keys: string[]): number {
  for (const key of keys) {
    const v = config[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return fallback;
}
