/**
 * A layer's weights as graph nodes, named as in the checkpoint: `linear('self_attn.q_proj', out, in, x)`
 * reads `<prefix>self_attn.q_proj.weight` (and `.bias` where the checkpoint has one). Tensors stay
 * opaque values handed to the graph builder; `readNumbers` is the one place a family reads weights
 * as numbers in TypeScript (embedding norms, bias tables).
 */
import type { ScopedTensors } from '../../engine/checkpoint';
import type { Nn } from '../../engine/onnx/layers';

export interface Projection {
  y: string;
  /** The `[in, out]` weight initializer (for value norms). */
  weightInOut: string;
  outDim: number;
}

export type BiasRule = 'optional' | 'required' | 'none';

export interface LayerWeights {
  /** torch Linear (`[out, in]` weight). */
  linear(name: string, out: number, inp: number, x: string, bias?: BiasRule): Projection;
  /** GPT-2's Conv1D (`[in, out]` weight, bias always present). */
  conv1d(name: string, inp: number, out: number, x: string): Projection;
  layerNorm(name: string, width: number, x: string, eps: number, bias?: BiasRule): string;
  /** RMS norm scaled by (offset + w) (offset 1 for Gemma). */
  rmsNorm(name: string, width: number, x: string, eps: number, offset?: number): string;
  /** A whole tensor as a graph constant (`<prefix><name>`, e.g. a relative-position table), read once per graph. */
  table(name: string, dims: readonly number[]): string;
}

/** Weights under `prefix` (e.g. `layers.3.`); graph value names carry `hint` (e.g. `l3`). */
export function layerWeights(nn: Nn, tensors: ScopedTensors, prefix: string, hint: string): LayerWeights {
  let perGraph = graphConstants.get(nn);
  if (!perGraph) graphConstants.set(nn, (perGraph = { tables: new Map(), linears: new Map() }));
  const { tables, linears } = perGraph;
  const bias = (name: string, width: number, rule: BiasRule) =>
    rule === 'none' ? undefined : rule === 'required' ? tensors.tensor(`${prefix}${name}.bias`, [width]) : tensors.optional(`${prefix}${name}.bias`, [width]);
  return {
    linear(name, out, inp, x, rule = 'optional') {
      // A weight projected again in the same graph (DeBERTa's key_proj of the relative embeddings,
      // ALBERT's shared layer) reuses its initializer instead of adding a second copy.
      const key = `${prefix}${name}`;
      const known = linears.get(key);
      if (known) {
        const y = nn.g.op('MatMul', [x, known.weightInOut], {}, `${hint}.${name}`);
        const b = bias(name, out, rule);
        return { y: b ? nn.add(y, nn.g.use(b)) : y, weightInOut: known.weightInOut, outDim: out };
      }
      const p = nn.linear(x, tensors.tensor(`${key}.weight`, [out, inp]), out, inp, bias(name, out, rule), `${hint}.${name}`);
      linears.set(key, { weightInOut: p.weightInOut });
      return { ...p, outDim: out };
    },
    conv1d(name, inp, out, x) {
      const p = nn.linearInOut(x, tensors.tensor(`${prefix}${name}.weight`, [inp, out]), inp, out, bias(name, out, 'required'), `${hint}.${name}`);
      return { ...p, outDim: out };
    },
    layerNorm(name, width, x, eps, rule = 'required') {
      return nn.layerNorm(x, tensors.tensor(`${prefix}${name}.weight`, [width]), bias(name, width, rule), eps, `${hint}.${name}`);
    },
    rmsNorm(name, width, x, eps, offset = 0) {
      return nn.rmsNorm(x, tensors.tensor(`${prefix}${name}.weight`, [width]), eps, `${hint}.${name}`, offset);
    },
    table(name, dims) {
      // Tables shared by layers (DeBERTa's rel_embeddings) become one initializer per graph.
      const key = `${prefix}${name}`;
      let value = tables.get(key);
      if (value === undefined) tables.set(key, (value = nn.g.use(tensors.tensor(key, dims))));
      return value;
    },
  };
}

/** Graph constants already made, per graph (one Nn per graph): whole tables and linear weights, by tensor name. */
const graphConstants = new WeakMap<Nn, { tables: Map<string, string>; linears: Map<string, { weightInOut: string }> }>();

/** Reads a weight as float32 numbers for arithmetic in TypeScript (not for the graph). */
export function readNumbers(tensors: ScopedTensors, name: string, shape?: readonly number[]): Float32Array {
  return tensors.read(name, shape);
}

/** Reads an optional weight as numbers; undefined when the checkpoint has none. */
export function readOptionalNumbers(tensors: ScopedTensors, name: string, shape?: readonly number[]): Float32Array | undefined {
  return tensors.readOptional(name, shape);
}
