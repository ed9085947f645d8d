/**
 * Mixture-of-experts feed-forward (Mixtral, Qwen2-MoE): a router `gate` scores the experts per
 * token, softmax, the top k are kept (renormalised to sum 1 where the model does so), and the
 * output is Σ weight_e · expert_e(x), plus, where the model has one, a shared expert that every
 * token uses, weighted by sigmoid(shared gate · x) (Qwen2-MoE). Every expert runs on every token and unselected ones get
 * weight 0: exact, and simple in a static graph (costs experts / k times the selected experts' work).
 */
import type { Nn } from '../../engine/onnx/layers';
import { gatedMlp } from './mlp';
import type { LayerWeights } from './weights';

export interface MoeSpec {
  experts: number;
  topK: number;
  /** Renormalise the top-k router probabilities to sum 1 (Mixtral always; Qwen2-MoE's norm_topk_prob). */
  normalizeTopK: boolean;
  /** The router's name (`block_sparse_moe.gate`). */
  router: string;
  /** The checkpoint names of expert e's gated MLP. */
  expert: (e: number) => { gate: string; up: string; down: string };
  /** A shared expert (its gated MLP's names and width) and its `[1, hidden]` sigmoid gate (Qwen2-MoE `shared_expert_gate`). */
  shared?: { mlp: { gate: string; up: string; down: string }; inner: number; gate: string };
}

/** Returns `[n, hidden]`: the routed sum of the experts' outputs. */
export function mixtureOfExperts(nn: Nn, w: LayerWeights, x: string, spec: MoeSpec, hidden: number, inner: number, act: string): string {
  const g = nn.g;
  const probs = g.op('Softmax', [w.linear(spec.router, spec.experts, hidden, x, 'none').y], { axis: -1 }, 'router_probs');
  const [top, index] = g.opN('TopK', [probs, g.int64s([spec.topK])], 2, { axis: -1, largest: 1, sorted: 1 }, 'router_topk');
  const kept = spec.normalizeTopK ? g.op('Div', [top, g.op('ReduceSum', [top, g.int64s([-1])], { keepdims: 1 })]) : top;
  // [n, experts] weights: the kept probabilities at their experts, 0 elsewhere.
  const weights = g.op('ScatterElements', [g.op('Mul', [probs, g.scalar(0)]), index, kept], { axis: -1 }, 'router_weights');
  const perExpert = g.opN('Split', [weights, g.int64s(Array(spec.experts).fill(1))], spec.experts, { axis: -1 });
  let sum: string | undefined;
  for (let e = 0; e < spec.experts; e++) {
    const y = nn.mul(gatedMlp(nn, w, x, spec.expert(e), hidden, inner, act), perExpert[e]);
    sum = sum === undefined ? y : nn.add(sum, y);
  }
  if (!spec.shared) return sum!;
  const sharedGate = g.op('Sigmoid', [w.linear(spec.shared.gate, 1, hidden, x, 'none').y]);
  return nn.add(sum!, nn.mul(sharedGate, gatedMlp(nn, w, x, spec.shared.mlp, hidden, spec.shared.inner, act)));
}
