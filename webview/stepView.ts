/**
 * Step by step for one query token: raw scores q·k, scale, soft-capping, bias/mask, softmax weights
 * (and that they sum to 1), the weighted sum of value vectors, and a check against the attention row
 * the model returned.
 */
import { t } from './i18n';
import type { HeadVectors, TokenInfo } from '../src/protocol/types';
import { computeQueryStep, maxAbsDifference, type QueryStep } from '../src/analysis/stepByStep';
import { tokenLabel } from '../src/analysis/view';
import { h } from './dom';

/** Recomputed weights within this of the model's are a match (float32 softmax, float16 transport). */
const MATCH_TOLERANCE = 1e-3;

function fmt(x: number, digits = 4): string {
  if (x === -Infinity) return '−∞';
  if (x === Infinity) return '∞';
  if (Number.isNaN(x)) return 'NaN';
  const s = Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-4) ? x.toExponential(2) : x.toFixed(digits);
  return s.replace('-', '−');
}

export interface StepRequest {
  /** The key tokens (and the query tokens unless `queryTokens` says otherwise). */
  tokens: readonly TokenInfo[];
  /** Cross-attention: the query tokens (the decoder's), when they are not the keys. */
  queryTokens?: readonly TokenInfo[];
  layer: number;
  head: number;
  query: number;
  /** The model's attention row for (layer, head, query), to check the recomputation against. */
  attentionRow: ArrayLike<number>;
  /** True when the panel's mode is not a single head (the walkthrough is always one head). */
  modeIsNotHead: boolean;
}

export class StepView {
  readonly root: HTMLElement;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;

  /** `testIds`: prefix of its parts' test ids (a second step view on the page, the cross view's, has its own). */
  constructor(private readonly testIds = '') {
    this.status = h('p', { class: 'step-status', 'data-testid': `${testIds}step-status`, role: 'status' });
    this.body = h('div', { class: 'step-body', 'data-testid': `${testIds}step-body` });
    this.root = h('section', { class: 'step-view', 'aria-label': t('Step by step') }, this.status, this.body);
  }

  showMessage(message: string): void {
    this.status.textContent = message;
    this.body.replaceChildren();
  }

  render(req: StepRequest, vectors: HeadVectors): void {
    const step = computeQueryStep(vectors, req.query);
    const diff = maxAbsDifference(step, req.attentionRow);
    const labels = req.tokens.map((t) => tokenLabel(t));
    const queryLabel = tokenLabel((req.queryTokens ?? req.tokens)[req.query]);
    const d = vectors.q.shape[1];
    const scaleText = Math.abs(vectors.scale - 1 / Math.sqrt(d)) < 1e-6 ? `1/√${d} = ${fmt(vectors.scale, 6)}` : fmt(vectors.scale, 6);
    this.status.textContent =
      t('Query “{0}” (token {1}), layer {2}, head {3}', queryLabel, req.query, req.layer, req.head) +
      (req.modeIsNotHead ? ` — ${t('the walkthrough always follows one head: pick it with Layer and Head.')}` : '.');
    // The formulas' variable names are words too (scale, weight, output): in the UI language, as in the table.
    const scale = t('scale');
    const weight = t('weight');
    const formula = [
      `logit_j = ${vectors.softcap !== null ? `softcap·tanh(q·k_j · ${scale} / softcap)` : `q·k_j · ${scale}`}${vectors.bias ? ' + bias_j' : ''}`,
      `${scale} = ${scaleText}`,
      vectors.softcap !== null ? `softcap = ${fmt(vectors.softcap, 2)}` : '',
      vectors.bias ? (vectors.biasTerms?.length ? `bias = ${vectors.biasTerms.join(' + ')}` : t('bias: the additive mask (−∞ hides a key) and any position bias of the model')) : '',
      `${weight}_j = exp(logit_j) / Σ_k exp(logit_k)`,
      `${t('output')} = Σ_j ${weight}_j · v_j`,
    ].filter(Boolean);
    const summary = h('div', { class: 'step-formula' }, ...formula.map((f) => h('code', {}, f)));
    const ok = diff <= MATCH_TOLERANCE;
    const check = h(
      'p',
      { class: ok ? 'step-check ok' : 'step-check mismatch', 'data-testid': `${this.testIds}step-check` },
      t('Σ weights = {0}. Largest difference from the attention the model returned: {1}', step.weightSum.toFixed(6), fmt(diff)) +
        ' — ' +
        (ok ? t('the recomputation matches.') : t('these do NOT match; the q/k/v given do not reproduce this head.')),
    );
    this.body.replaceChildren(summary, check, this.table(step, labels, req, vectors), this.output(step, labels));
  }

  private table(step: QueryStep, labels: string[], req: StepRequest, vectors: HeadVectors): HTMLElement {
    const showCap = vectors.softcap !== null;
    const showBias = vectors.bias !== null;
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'optional' }, '#'),
      h('th', { scope: 'col' }, t('key')),
      h('th', { scope: 'col', class: 'optional' }, 'q·k'),
      h('th', { scope: 'col', class: 'optional' }, t('× scale')),
      ...(showCap ? [h('th', { scope: 'col', class: 'optional' }, t('soft-capped'))] : []),
      ...(showBias ? [h('th', { scope: 'col' }, '+ bias')] : []),
      h('th', { scope: 'col' }, 'logit'),
      h('th', { scope: 'col' }, t('softmax weight')),
      h('th', { scope: 'col' }, t('model')),
    );
    const maxWeight = step.keys.reduce((m, k) => Math.max(m, k.weight), 0) || 1;
    const rows = step.keys.map((k) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(100 * k.weight) / maxWeight}%`;
      return h(
        'tr',
        { class: k.weight === maxWeight ? 'top' : '' },
        h('td', { class: 'optional' }, String(k.key)),
        h('th', { scope: 'row', class: req.tokens[k.key].special ? 'special' : '' }, labels[k.key]),
        h('td', { class: 'optional' }, fmt(k.dot)),
        h('td', { class: 'optional' }, fmt(k.scaled)),
        ...(showCap ? [h('td', { class: 'optional' }, fmt(k.capped))] : []),
        ...(showBias ? [h('td', {}, fmt(k.bias))] : []),
        h('td', {}, fmt(k.logit)),
        h('td', { class: 'weight' }, h('span', { class: 'bar-track' }, bar), fmt(k.weight, 6)),
        h('td', {}, fmt(req.attentionRow[k.key], 6)),
      );
    });
    const total = h(
      'tr',
      { class: 'total' },
      h('td', { class: 'optional' }),
      h('th', { scope: 'row' }, 'Σ'),
      h('td', { class: 'optional', colspan: 2 + (showCap ? 1 : 0) }),
      ...(showBias ? [h('td', {})] : []),
      h('td', {}),
      h('td', { class: 'weight' }, step.weightSum.toFixed(6)),
      h('td', {}, fmt(Array.from(req.attentionRow).reduce((a, b) => a + b, 0), 6)),
    );
    return h(
      'table',
      { class: 'step-table', 'data-testid': `${this.testIds}step-table` },
      h('caption', {}, t('Scores, softmax and the model’s own weights for every key')),
      h('thead', {}, head),
      h('tbody', {}, ...rows, total),
    );
  }

  private output(step: QueryStep, labels: string[]): HTMLElement {
    const norm = Math.sqrt(step.output.reduce((a, x) => a + x * x, 0));
    const shown = Array.from(step.output.slice(0, 16), (x) => fmt(x, 3)).join(', ');
    const contributions = step.keys
      .map((k) => ({ key: k.key, amount: k.weight * step.valueNorms[k.key] }))
      .sort((a, b) => b.amount - a.amount)
      .slice(0, 5);
    return h(
      'div',
      { class: 'step-output' },
      h('h3', {}, t('Weighted sum of value vectors')),
      h(
        'p',
        {},
        t('output = Σ_j weight_j · v_j has {0} dimensions, ‖output‖ = {1}: [{2}].', step.output.length, fmt(norm), `${shown}${step.output.length > 16 ? ', …' : ''}`) +
          ' ' +
          t('This is what the head passes on, before the output projection.'),
      ),
      h(
        'p',
        {},
        t('Largest contributions weight_j·‖v_j‖: {0}.', contributions.map((c) => `${labels[c.key]} ${fmt(c.amount, 3)}`).join(', ')),
      ),
    );
  }
}
