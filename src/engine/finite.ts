/**
 * NaN or infinite values in a result would be drawn as attention. They come from damaged weights
 * (bit flips, planted values) or from config values that make the arithmetic overflow; the engine
 * refuses such a result and says where it first went wrong.
 */
import type { Checkpoint } from './checkpoint';
import { EngineError } from './errors';

/** Index of the first NaN or ±Infinity, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // x − x is 0 for every finite x and NaN for NaN and ±Infinity.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

/**
 * The error for a non-finite `what` (e.g. "layer 3's attention"), naming the first weight tensor
 * of the layers up to `layer` that holds non-finite values, when there is one.
 */
export function nonFiniteError(checkpoint: Checkpoint, what: string, layer: number): EngineError {
  const tensor = checkpoint.firstNonFiniteTensor(layer);
  if (tensor) {
    return new EngineError('bad-checkpoint', `${what} came out as NaN or infinity because tensor "${tensor}" holds NaN or infinite values: the weights are damaged. Download the model again.`);
  }
  return new EngineError('bad-checkpoint', `${what} came out as NaN or infinity although the weights are finite: a config.json value (rope_theta, an epsilon, a scaling factor) probably makes the arithmetic overflow.`);
}

/**
 * Embeds one token at load time: a table whose rows do not have the hidden size (it would reach
 * onnxruntime as a tensor of the wrong size, or read past its rows as NaN) is named here.
 */
export function checkEmbedding(checkpoint: Checkpoint, embed: (ids: number[], typeIds: number[]) => Float32Array, hiddenSize: number): void {
  const probe = embed([0], [0]);
  if (probe.length === hiddenSize && firstNonFinite(probe) < 0) return;
  for (const entry of checkpoint.rowTables) {
    const width = entry.shape.slice(1).reduce((a, b) => a * b, 1);
    if (width !== hiddenSize) {
      throw new EngineError('bad-checkpoint', `Tensor "${entry.name}" has rows of ${width} values, but config.json's hidden size is ${hiddenSize}: the weights and config.json do not belong together.`);
    }
  }
  if (probe.length !== hiddenSize) throw new EngineError('bad-checkpoint', `The embedding gives ${probe.length} values per token, but config.json's hidden size is ${hiddenSize}: the weights and config.json do not belong together.`);
  throw nonFiniteError(checkpoint, 'The embedding', -1);
}
