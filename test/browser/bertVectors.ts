/**
 * q, k, v of one BERT layer and head computed from the fixture's checkpoint and its reference hidden
 * states (hidden_states[l] is the input of layer l), as the engine would send them for the
 * step-by-step view.
 */
import * as path from 'path';
import type { HeadVectors } from '../../src/protocol/types';
import { fixtureDir, readSafetensors } from '../unit/analysis/fixture';

function f32(buf: Buffer): Float32Array {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new Float32Array(copy.buffer);
}

export function bertHeadVectors(caseIndex: number, layer: number, head: number): HeadVectors {
  const dir = fixtureDir('bert');
  const weights = readSafetensors(path.join(dir, 'model.safetensors'));
  const expected = readSafetensors(path.join(dir, 'expected.safetensors'));
  const hs = expected.get(`case${caseIndex}.hidden_states`)!;
  const [, n, hidden] = hs.shape;
  const states = f32(hs.data).subarray(layer * n * hidden, (layer + 1) * n * hidden);
  const heads = 4;
  const d = hidden / heads;
  const project = (name: string) => {
    const w = f32(weights.get(`bert.encoder.layer.${layer}.attention.self.${name}.weight`)!.data); // [out, in]
    const b = f32(weights.get(`bert.encoder.layer.${layer}.attention.self.${name}.bias`)!.data);
    const out = new Float32Array(n * d);
    for (let t = 0; t < n; t++) {
      for (let c = 0; c < d; c++) {
        const o = head * d + c;
        let s = b[o];
        for (let i = 0; i < hidden; i++) s += states[t * hidden + i] * w[o * hidden + i];
        out[t * d + c] = s;
      }
    }
    return { dtype: 'float32' as const, shape: [n, d], buffer: out.buffer };
  };
  return { layer, head, scale: 1 / Math.sqrt(d), softcap: null, q: project('query'), k: project('key'), v: project('value'), bias: null };
}
