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
