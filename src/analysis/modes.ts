/**
 * The ways the panel can aggregate attention into one n×n matrix. Every function returns a new
 * matrix whose rows are queries and columns keys; rows of the inputs are assumed to sum to 1.
 */
import { t } from '../l10n/runtime';
import { AttentionStack, Matrix, ValueNormStack } from './tensor';

export type AttentionMode = 'head' | 'layerMean' | 'allMean' | 'rollout' | 'valueWeighted';

export const ATTENTION_MODES: readonly AttentionMode[] = ['head', 'layerMean', 'allMean', 'rollout', 'valueWeighted'];

export interface ModeInfo {
  label: string;
  /** One line shown under the controls whenever the mode is active. */
  explanation: string;
  usesLayer: boolean;
  usesHead: boolean;
}

export const MODE_INFO: Record<AttentionMode, ModeInfo> = {
  head: {
    label: t('Single head'),
    explanation: t('The attention weights of one head in one layer, exactly as the model computed them.'),
    usesLayer: true,
    usesHead: true,
  },
  layerMean: {
    label: t('Mean of layer'),
    explanation: t('The average of all heads of the chosen layer.'),
    usesLayer: true,
    usesHead: false,
  },
  allMean: {
    label: t('Mean of all'),
    explanation: t('The average over every head of every layer.'),
    usesLayer: false,
    usesHead: false,
  },
  rollout: {
    label: t('Rollout'),
    explanation:
      t('Attention rollout (Abnar & Zuidema 2020): per layer 0.5·A + 0.5·I of the head mean, rows renormalised, multiplied from the first layer up to the chosen one.'),
    usesLayer: true,
    usesHead: false,
  },
  valueWeighted: {
    label: t('Value-weighted'),
    explanation:
      t('α_ij·‖f_h(x_j)‖ (Kobayashi et al. 2020): weights scaled by the size of what each key actually contributes, rows renormalised to sum to 1.'),
    usesLayer: true,
    usesHead: true,
  },
};

/**
 * The last layer a mode's view of `layer` takes (a pass computes layers in order): rollout through a
 * layer takes those below it, the global mean every layer, and value weighting the value norms of
 * every layer (complete once the pass is).
 */
export function lastLayerOf(mode: AttentionMode, layer: number, layers: number): number {
  return mode === 'allMean' || mode === 'valueWeighted' ? layers - 1 : layer;
}

export function isAttentionMode(value: unknown): value is AttentionMode {
  return typeof value === 'string' && (ATTENTION_MODES as readonly string[]).includes(value);
}

/** Scales every row to sum to 1; rows that sum to 0 stay 0. Works in place and returns `m`. */
export function renormalizeRows(m: Matrix): Matrix {
  const { size, data } = m;
  const cols = size === 0 ? 0 : data.length / size;
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += data[i * cols + j];
    if (sum > 0) for (let j = 0; j < cols; j++) data[i * cols + j] /= sum;
  }
  return m;
}

/** Mean of all heads of one layer. */
export function layerMean(stack: AttentionStack, layer: number): Matrix {
  const size = stack.n * stack.n;
  const sum = new Float64Array(size);
  for (let h = 0; h < stack.heads; h++) {
    const head = stack.head(layer, h);
    for (let i = 0; i < size; i++) sum[i] += head[i];
  }
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = sum[i] / stack.heads;
  return { size: stack.n, data };
}

/** Mean over every head of every layer. */
export function allMean(stack: AttentionStack): Matrix {
  const size = stack.n * stack.n;
  const sum = new Float64Array(size);
  for (let l = 0; l < stack.layers; l++) {
    for (let h = 0; h < stack.heads; h++) {
      const head = stack.head(l, h);
      for (let i = 0; i < size; i++) sum[i] += head[i];
    }
  }
  const count = stack.layers * stack.heads;
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = sum[i] / count;
  return { size: stack.n, data };
}

/**
 * a · b for n×n row-major matrices, a block of rows at a time: yields the fraction done after each
 * block so a caller can spread the O(n³) work over several frames. Returns the product. Zero
 * entries of `a` are skipped (causal masks make half of them zero).
 */
export function* multiplySteps(a: Matrix, b: Matrix, rowsPerStep = 32): Generator<number, Matrix, void> {
  const n = a.size;
  const out = new Float32Array(n * n);
  const acc = new Float64Array(n);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let k = 0; k < n; k++) {
      const aik = ad[i * n + k];
      if (aik === 0) continue;
      const rowB = k * n;
      for (let j = 0; j < n; j++) acc[j] += aik * bd[rowB + j];
    }
    out.set(acc, i * n);
    if ((i + 1) % rowsPerStep === 0 && i + 1 < n) yield (i + 1) / n;
  }
  return { size: n, data: out };
}

/** Runs a step generator to completion. */
export function runSteps<T>(steps: Generator<number, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** a · b for n×n row-major matrices. */
export function multiply(a: Matrix, b: Matrix): Matrix {
  return runSteps(multiplySteps(a, b, Infinity));
}

/** 0.5·A + 0.5·I of one layer's head mean, rows renormalised: the per-layer factor of rollout. */
export function rolloutFactor(stack: AttentionStack, layer: number): Matrix {
  const m = layerMean(stack, layer);
  const n = m.size;
  for (let i = 0; i < n * n; i++) m.data[i] *= 0.5;
  for (let i = 0; i < n; i++) m.data[i * n + i] += 0.5;
  return renormalizeRows(m);
}

/**
 * Attention rollout for every layer: entry l is Ã_l · Ã_(l-1) · … · Ã_0, how much each token's
 * representation after layer l draws on each input token. Products are kept, so later layers reuse
 * earlier ones.
 */
export class RolloutCache {
  private readonly products: Matrix[] = [];
  constructor(private readonly stack: AttentionStack) {}

  has(layer: number): boolean {
    return layer < this.products.length;
  }

  /**
   * Computes the rollout through `layer`, yielding overall progress in [0, 1) between blocks of
   * work (one layer's product is n³ multiply-adds: seconds at 512 tokens in a browser).
   */
  *steps(layer: number): Generator<number, Matrix, void> {
    if (!(layer >= 0 && layer < this.stack.layers)) throw new RangeError(`no layer ${layer}`);
    const first = this.products.length;
    while (this.products.length <= layer) {
      const l = this.products.length;
      const factor = rolloutFactor(this.stack, l);
      if (l === 0) {
        this.products.push(factor);
        continue;
      }
      const product = multiplySteps(factor, this.products[l - 1]);
      for (;;) {
        const r = product.next();
        if (r.done) {
          this.products.push(renormalizeRows(r.value));
          break;
        }
        yield (l - first + r.value) / (layer - first + 1);
      }
    }
    return this.products[layer];
  }

  /** Rollout from the first layer through `layer` (inclusive). */
  through(layer: number): Matrix {
    return runSteps(this.steps(layer));
  }
}

/** Rollout through `layer` without caching. */
export function rollout(stack: AttentionStack, layer: number): Matrix {
  return new RolloutCache(stack).through(layer);
}

/** α_ij·‖f_h(x_j)‖ for one head, rows renormalised to sum to 1 (rows that are all 0 stay 0). */
export function valueWeighted(stack: AttentionStack, norms: ValueNormStack, layer: number, head: number): Matrix {
  const n = stack.n;
  const alpha = stack.head(layer, head);
  const norm = norms.norms(layer, head);
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = alpha[i * n + j] * norm[j];
  return renormalizeRows({ size: n, data });
}

export interface ModeSelection {
  mode: AttentionMode;
  layer: number;
  head: number;
}

/**
 * Computes the matrix for a selection. Results that take real work (means, rollout) are cached per
 * selection, so switching back and forth is instant.
 */
export class ModeComputer {
  private readonly rolloutCache: RolloutCache;
  private readonly cache = new Map<string, Matrix>();

  constructor(readonly stack: AttentionStack, readonly norms: ValueNormStack | undefined) {
    this.rolloutCache = new RolloutCache(stack);
  }

  /** True when `compute` would be slow for this selection (a rollout not computed yet). */
  needsWork(sel: ModeSelection): boolean {
    return sel.mode === 'rollout' && !this.rolloutCache.has(sel.layer);
  }

  /** The slow part of `compute`, as steps (see RolloutCache.steps); afterwards `compute` is instant. */
  prepare(sel: ModeSelection): Generator<number, unknown, void> {
    return sel.mode === 'rollout' ? this.rolloutCache.steps(sel.layer) : (function* () {})();
  }

  compute(sel: ModeSelection): Matrix {
    switch (sel.mode) {
      case 'head':
        return this.stack.headMatrix(sel.layer, sel.head);
      case 'layerMean':
        return this.cached(`m${sel.layer}`, () => layerMean(this.stack, sel.layer));
      case 'allMean':
        return this.cached('all', () => allMean(this.stack));
      case 'rollout':
        return this.rolloutCache.through(sel.layer);
      case 'valueWeighted':
        if (!this.norms) throw new Error('This result carries no value norms, so value-weighted attention is unavailable.');
        return this.cached(`v${sel.layer}.${sel.head}`, () => valueWeighted(this.stack, this.norms!, sel.layer, sel.head));
    }
  }

  private cached(key: string, make: () => Matrix): Matrix {
    let m = this.cache.get(key);
    if (!m) {
      m = make();
      this.cache.set(key, m);
      // Bound memory for long inputs: a few dozen n×n matrices at most.
      if (this.cache.size > 48) this.cache.delete(this.cache.keys().next().value as string);
    }
    return m;
  }
}
