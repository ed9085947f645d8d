/** Feed-forward blocks: plain `down(act(up(x)))` and gated `down(act(gate(x)) · up(x))`. */
import type { Nn } from '../../engine/onnx/layers';
import type { LayerWeights } from './weights';
import { splitLast } from './qkv';

/** `fc2(act(fc1(x)))` with the checkpoint's names for the two projections. */
export function plainMlp(nn: Nn, w: LayerWeights, x: string, names: { up: string; down: string }, hidden: number, inner: number, act: string): string {
  return w.linear(names.down, hidden, inner, nn.activation(w.linear(names.up, inner, hidden, x).y, act)).y;
}

/** SwiGLU / GeGLU: `down(act(gate(x)) · up(x))`; `fused` names one `[gate | up]` projection (Phi-3 `gate_up_proj`). */
export function gatedMlp(nn: Nn, w: LayerWeights, x: string, names: { gate: string; up: string; down: string } | { fused: string; down: string }, hidden: number, inner: number, act: string): string {
  let gate: string, up: string;
  if ('fused' in names) [gate, up] = splitLast(nn, w.linear(names.fused, 2 * inner, hidden, x).y, [inner, inner]);
  else {
    gate = w.linear(names.gate, inner, hidden, x).y;
    up = w.linear(names.up, inner, hidden, x).y;
  }
  return w.linear(names.down, hidden, inner, nn.mul(nn.activation(gate, act), up)).y;
}
