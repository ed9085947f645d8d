/** Words for what the panel shows: titles for the header and exports, and the JSON of the current view. */
import { t } from '../l10n/runtime';
import type { AttentionResult, GenerationInfo, ModelSummary, ProbeInfo, TokenInfo } from '../protocol/types';
import { probeInductionCeiling } from './heads';
import type { AttentionMode, ModeSelection } from './modes';
import { SPECIAL_HANDLING_INFO, type SpecialHandling, type ViewMatrix } from './view';

/** "layer 3, head 5 · single head" and the like (layers and heads count from 0, as in transformers). */
export function describeSelection(sel: ModeSelection, layers: number, heads: number): string {
  switch (sel.mode) {
    case 'head':
      return t('layer {0}, head {1} · single head', sel.layer, sel.head);
    case 'layerMean':
      return t('layer {0} · mean of {1} heads', sel.layer, heads);
    case 'allMean':
      return t('all {0} layers × {1} heads · mean', layers, heads);
    case 'rollout':
      return t('rollout through layer {0} (layers 0–{0})', sel.layer);
    case 'valueWeighted':
      return t('layer {0}, head {1} · value-weighted (rows renormalised)', sel.layer, sel.head);
  }
}

export function describeSpecial(special: SpecialHandling): string {
  switch (special) {
    case 'show':
      return t('special tokens shown');
    case 'hideRenormalize':
      return t('special tokens hidden, rows renormalised');
    case 'hide':
      return t('special tokens hidden, weights kept');
  }
}

export interface FigureTexts {
  title: string;
  subtitle: string;
  footnote: string;
}

export const CAUTION = t('Attention weights are a clue, not an explanation: they show where a head looks, not why the model decides.');

export function figureTexts(
  model: ModelSummary,
  sel: ModeSelection,
  special: SpecialHandling,
  mergeWords: boolean,
  extra: string,
): FigureTexts {
  const title = `${model.name} — ${describeSelection(sel, model.numLayers, model.numHeads)}`;
  const parts = [describeSpecial(special), mergeWords ? t('sub-words merged into words') : t('sub-word tokens'), extra].filter(Boolean);
  return { title, subtitle: parts.join(' · '), footnote: CAUTION };
}

/** Shortest decimal that reads back as the same float32. */
function f32(x: number): number {
  return Number(Math.fround(x).toPrecision(9));
}

export interface ViewJson {
  format: 'attention-inspector/view@1';
  model: Pick<ModelSummary, 'name' | 'source' | 'modelType' | 'numLayers' | 'numHeads' | 'causal'>;
  text: string;
  selection: { mode: AttentionMode; layer: number | null; head: number | null; description: string };
  specialTokens: SpecialHandling;
  specialTokensExplanation: string;
  mergeWords: boolean;
  tokens: (Pick<TokenInfo, 'id' | 'raw' | 'display' | 'start' | 'end' | 'special' | 'segment'> & { index: number })[];
  /** Rows and columns of `matrix` (the same list): labels, the tokens each stands for, text ranges. */
  axis: { label: string; tokens: number[]; start: number; end: number; special: boolean }[];
  /** matrix[query][key]. */
  matrix: number[][];
}

export function viewJson(
  result: Pick<AttentionResult, 'model' | 'text' | 'tokens'>,
  sel: ModeSelection,
  usesLayer: boolean,
  usesHead: boolean,
  special: SpecialHandling,
  mergeWords: boolean,
  view: ViewMatrix,
): ViewJson {
  const { model } = result;
  const matrix: number[][] = [];
  for (let i = 0; i < view.size; i++) {
    const row: number[] = [];
    for (let j = 0; j < view.size; j++) row.push(f32(view.data[i * view.size + j]));
    matrix.push(row);
  }
  return {
    format: 'attention-inspector/view@1',
    model: {
      name: model.name,
      source: model.source,
      modelType: model.modelType,
      numLayers: model.numLayers,
      numHeads: model.numHeads,
      causal: model.causal,
    },
    text: result.text,
    selection: {
      mode: sel.mode,
      layer: usesLayer ? sel.layer : null,
      head: usesHead ? sel.head : null,
      description: describeSelection(sel, model.numLayers, model.numHeads),
    },
    specialTokens: special,
    specialTokensExplanation: SPECIAL_HANDLING_INFO[special].explanation,
    mergeWords,
    tokens: result.tokens.map((t, index) => ({
      index,
      id: t.id,
      raw: t.raw,
      display: t.display,
      start: t.start,
      end: t.end,
      special: t.special,
      segment: t.segment,
    })),
    axis: view.items.map((it) => ({ label: it.label, tokens: [...it.tokens], start: it.start, end: it.end, special: it.special })),
    matrix,
  };
}

/** A file name without characters that file systems or the host's validation refuse. */
export function safeFileName(base: string, extension: string): string {
  const cleaned = base
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '-')
    .replace(/\s+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 150);
  return `${cleaned || 'attention'}.${extension}`;
}

export function exportBaseName(model: ModelSummary, sel: ModeSelection, slug = ''): string {
  const where =
    sel.mode === 'head' || sel.mode === 'valueWeighted'
      ? `L${sel.layer}-H${sel.head}`
      : sel.mode === 'allMean'
        ? 'all'
        : `L${sel.layer}`;
  const name = model.name.split(/[\\/]/).pop() ?? model.name;
  return ['attention', name, slug, where, sel.mode].filter(Boolean).join('-');
}

/** Where a selection looks, without naming the mode: "layer 2, head 3", "layers 0–2". */
export function describeWhere(sel: ModeSelection, layers: number, heads: number): string {
  switch (sel.mode) {
    case 'head':
      return t('layer {0}, head {1}', sel.layer, sel.head);
    case 'layerMean':
      return t('layer {0}, mean of {1} heads', sel.layer, heads);
    case 'allMean':
      return t('all {0} layers × {1} heads', layers, heads);
    case 'rollout':
      return t('layers 0–{0}', sel.layer);
    case 'valueWeighted':
      return t('layer {0}, head {1}, rows renormalised', sel.layer, sel.head);
  }
}

/** The context a hovered weight is given in: "layer 2, head 3", "rollout through layer 2". */
export function describeShort(sel: ModeSelection): string {
  switch (sel.mode) {
    case 'head':
      return t('layer {0}, head {1}', sel.layer, sel.head);
    case 'layerMean':
      return t('layer {0}, mean of heads', sel.layer);
    case 'allMean':
      return t('mean of all layers and heads');
    case 'rollout':
      return t('rollout through layer {0}', sel.layer);
    case 'valueWeighted':
      return t('layer {0}, head {1}, value-weighted', sel.layer, sel.head);
  }
}

/** A weight with six decimals, or three significant digits in exponent form when it is tiny (3.80e-6). */
export function formatWeight(w: number): string {
  if (!Number.isFinite(w)) return String(w);
  if (w !== 0 && Math.abs(w) < 1e-4) return w.toExponential(2);
  return w.toFixed(6);
}

/** The first words of a text, for file names: "the-cat-sat". */
export function textSlug(text: string, words = 3): string {
  const parts = text.match(/[\p{L}\p{N}]+/gu) ?? [];
  return parts.slice(0, words).join('-').toLowerCase().slice(0, 40);
}

/**
 * Whether the tokens cover the whole text: after "Analyze First N Tokens" they stop early. Returns
 * the UTF-16 offset where the analyzed part ends, or null when the whole text (up to trailing
 * whitespace) was analyzed.
 */
export function analyzedUpTo(text: string, tokens: readonly Pick<TokenInfo, 'end' | 'special' | 'segment'>[]): number | null {
  let end = 0;
  for (const t of tokens) if (!t.special && t.segment === 0 && t.end > end) end = t.end;
  const meaningful = text.replace(/\s+$/u, '').length;
  return end < meaningful ? end : null;
}

/**
 * The badge's note on a result of Continue and Show Attention: how many tokens the model generated
 * (greedy), why it stopped, and how they are marked; empty for an analysis of the text alone.
 */
export function describeGeneration(result: { generation?: GenerationInfo }): string {
  const g = result.generation;
  if (!g) return '';
  const count = g.newIds.length === 1 ? t('1 generated token') : t('{0} generated tokens', g.newIds.length);
  const how = g.stoppedBy === 'eos' ? t('greedy, stopped at the end-of-sequence token') : g.stoppedBy === 'max-positions' ? t("greedy, stopped at the model's longest sequence") : t('greedy');
  return ` · ${count} (${how}), ${t('in italics and link colour')}`;
}

/**
 * The probe's parameters, for the panel's banner (`line`, short) and its tooltip and the exports
 * (`detail`): what was run, how the heads are ranked, and the highest induction score any head
 * could reach on it.
 */
export function describeProbe(probe: ProbeInfo, tokens: readonly Pick<TokenInfo, 'raw' | 'special'>[], modelName: string): { line: string; detail: string } {
  const specials = (list: readonly Pick<TokenInfo, 'raw'>[]) => list.map((t) => t.raw).join(' ');
  const before = probe.prefix > 0 ? ` ${t('after {0}', specials(tokens.slice(0, probe.prefix)))}` : '';
  const after = probe.suffix > 0 ? `${before ? ',' : ''} ${t('before {0}', specials(tokens.slice(tokens.length - probe.suffix)))}` : '';
  const ceiling = probeInductionCeiling(probe.prefix, probe.length, probe.suffix);
  const line = t(
    'Probe: {0} random tokens (seed {1}) written twice{2}{3}, {4} tokens; heads ranked by induction score. A perfect induction head scores {5} here.',
    probe.length, probe.seed, before, after, tokens.length, ceiling.toFixed(3),
  );
  const detail = t(
    "Repeated-random-tokens probe of {0}: {1} distinct tokens drawn with seed {2} from the {3} ordinary tokens of its vocabulary (added and special tokens excluded), written twice{4}{5}: {6} tokens. The induction score is TransformerLens' head detector's: the share of a head's attention on the token that followed an earlier occurrence of the query's token; here at most {1} / {6} = {7}, since only the second copy can look back. Length and seed: settings attentionInspector.probe.length and attentionInspector.probe.seed.",
    modelName, probe.length, probe.seed, probe.vocabularyDrawn.toLocaleString('en-US'), before, after, tokens.length, ceiling.toFixed(3),
  );
  return { line, detail };
}
