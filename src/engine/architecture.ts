/**
 * The contract between the generic runner and one model family (`src/models/<model_type>.ts`).
 * A family computes the embedding output in TypeScript (only the rows of the text's tokens are read
 * from disk), describes each layer as ONNX nodes, and names the position inputs its layers need.
 */
import type { ModelSummary } from '../protocol/types';
import type { Checkpoint } from './checkpoint';
import { EngineError } from './errors';
import type { Nn } from './onnx/layers';

/** A float32 input shared by every layer, e.g. rotary tables or an additive mask. */
export interface PositionInput {
  data: Float32Array;
  dims: number[];
}

/** Names of the values one layer produces in the graph. */
export interface LayerOutputs {
  hidden: string;
  /** `[heads, n, n]` attention probabilities (one per query head). */
  probs: string;
  /** `[heads, n]` ‖f_h(x_j)‖. */
  valueNorms: string;
  /** `[heads, n, d]` queries, keys and values per query head (after rotary, keys/values repeated for GQA). */
  q: string;
  k: string;
  v: string;
}

/** Declares (once) and returns the graph input for a position input by name. */
export type UseInput = (name: string) => string;

export type ArchSummary = Omit<ModelSummary, 'name' | 'source'>;

export interface Architecture {
  readonly summary: ArchSummary;
  /** Scale on q·k and logit soft-capping, for the step-by-step view. */
  readonly scale: number;
  readonly softcap: number | null;
  /** Float32 bytes of one layer's weights (to group layers into sessions). */
  readonly layerBytes: number;
  /** hidden_states[0]: the embedding output `[n, hidden]`. */
  embed(ids: number[], typeIds: number[]): Float32Array;
  /** Position inputs for a text of `n` tokens. */
  positionInputs(n: number): Record<string, PositionInput>;
  /** Symbolic shapes of the position inputs (`n` for the token axis). */
  positionInputShapes(): Record<string, (number | string)[]>;
  /** Adds layer `layer` to the graph, reading its weights from the checkpoint. */
  buildLayer(nn: Nn, layer: number, hidden: string, use: UseInput): LayerOutputs;
  /** The position input added to this layer's logits (mask, relative bias), for the step-by-step view. */
  logitBiasInput(layer: number): string | undefined;
  /** The final norm after the last layer, where the model has one. */
  buildFinal?(nn: Nn, hidden: string): string;
}

export type ArchitectureFactory = (ckpt: Checkpoint) => Architecture;

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
