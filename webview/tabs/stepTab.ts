/** The step-by-step tab: q·k, scale, softmax and the weighted sum for one query of one head. */
import type { HeadVectors } from '../../src/protocol/types';
import { headVectorsProblem } from '../../src/analysis/stepByStep';
import { toArrayBuffer } from '../../src/analysis/tensor';
import { tokenLabel } from '../../src/analysis/view';
import type { PanelContext } from '../context';
import { h, select, selectValue, setOptions } from '../dom';
import { StepView } from '../stepView';
import { t } from '../i18n';

export class StepTab {
  readonly element: HTMLElement;
  private readonly stepView = new StepView();
  private readonly query = select('stepQuery', t('Query token'), []);
  private readonly vectors = new Map<string, HeadVectors>();
  private readonly pending = new Set<string>();

  constructor(private readonly ctx: PanelContext) {
    this.query.addEventListener('change', () => ctx.store.update({ stepQuery: Number(selectValue(this.query)) }));
    this.element = h(
      'div',
      { class: 'tab-content step-layout', 'data-testid': 'step-panel', hidden: true },
      h('div', { class: 'toolbar-row' }, h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('Query token')), this.query)),
      this.stepView.root,
    );
  }

  /** A new result: q/k/v of the old one no longer apply. */
  reset(): void {
    this.vectors.clear();
    this.pending.clear();
  }

  /** The host could not answer: ask again the next time the view needs it. */
  requestFailed(): void {
    if (this.pending.size === 0) return;
    this.pending.clear();
    this.stepView.showMessage(t('The extension could not provide q, k and v (see the error above).'));
  }

  receive(vectors: HeadVectors): void {
    const session = this.ctx.session()!;
    const problem = headVectorsProblem(vectors, session.n);
    if (problem) {
      this.stepView.showMessage(t('The extension sent unusable q/k/v: {0}.', problem));
      return;
    }
    const key = `${vectors.layer}.${vectors.head}`;
    this.pending.delete(key);
    for (const name of ['q', 'k', 'v', 'bias'] as const) {
      const t = vectors[name];
      if (t) t.buffer = toArrayBuffer(t.buffer) ?? t.buffer;
    }
    this.vectors.set(key, vectors);
    if (this.ctx.store.state.tab === 'step') this.render();
  }

  render(): void {
    const session = this.ctx.session();
    if (!session) return;
    const s = this.ctx.store.state;
    const tokens = session.result.tokens;
    const fallback = tokens.findIndex((t) => !t.special);
    const query = s.stepQuery ?? s.focus ?? this.ctx.cursorToken() ?? Math.max(0, fallback);
    setOptions(this.query, tokens.map((t, i) => ({ value: String(i), label: `${i}: ${t.special ? t.raw : tokenLabel(t)}` })), String(query));
    const key = `${s.layer}.${s.head}`;
    const vectors = this.vectors.get(key);
    if (!vectors) {
      this.stepView.showMessage(t('Loading q, k and v for layer {0}, head {1}…', s.layer, s.head));
      if (!this.pending.has(key)) {
        this.pending.add(key);
        this.ctx.channel.post({ type: 'requestHeadVectors', resultId: session.id, layer: s.layer, head: s.head });
      }
      return;
    }
    const row = session.headRow(s.layer, s.head, query);
    if (!row) {
      this.stepView.showMessage(session.source.failure ? t('The attention row could not be loaded: {0}', session.source.failure) : t('Loading the attention of layer {0}, head {1}…', s.layer, s.head));
      return;
    }
    this.stepView.render({ tokens, layer: s.layer, head: s.head, query, attentionRow: row, modeIsNotHead: s.mode !== 'head' }, vectors);
  }
}
