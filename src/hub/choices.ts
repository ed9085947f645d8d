/**
 * The entries of the "Select Model" picker, computed without VS Code so they can be tested: the
 * built-in model, usable models in the cache (with sizes), recent ones, suggestions (with download
 * sizes), and the two actions. Each spec appears once, in the first section that has it.
 */
import type { CachedModel } from './cacheScan';
import { BUILTIN_NAME } from './resolve';
import { formatHubSpec, parseModelSpec } from './spec';
import { formatBytes, type SuggestedModel } from './suggestions';
import { msg, t } from '../l10n/runtime';

export type ModelChoiceSection = 'built-in' | 'cache' | 'recent' | 'suggested' | 'actions';

export interface ModelChoice {
  section: ModelChoiceSection;
  /** What selecting it does: set the model setting to `spec`, or ask for an id / a folder. */
  action: { kind: 'spec'; spec: string } | { kind: 'enter-id' } | { kind: 'choose-folder' };
  label: string;
  description?: string;
  detail?: string;
  /** Codicon name for the UI. */
  icon: string;
  current: boolean;
  /** Why a recent folder no longer loads (the picker marks it and refuses it). */
  problem?: string;
}

export const BUILTIN_DETAIL = msg('4-layer Llama, 5M parameters, trained by this project on English prose and code: a tiny model for exploring attention patterns offline, not a capable language model');

/** Spec that names the same model as `spec`, for comparisons ("" and "built-in" are equal). */
function normalizeSpec(spec: string): string {
  try {
    const parsed = parseModelSpec(spec);
    if (parsed.kind === 'builtin') return '';
    if (parsed.kind === 'hub') return formatHubSpec(parsed.id, parsed.revision === 'main' ? undefined : parsed.revision);
    return parsed.path.replace(/[\\/]+$/, '');
  } catch {
    return spec.trim();
  }
}

export function buildModelChoices(input: {
  current: string;
  cached: readonly CachedModel[];
  recent: readonly string[];
  suggestions: readonly SuggestedModel[];
  /** Recent specs that no longer load, with the reason (checked by the caller). */
  problems?: ReadonlyMap<string, string>;
}): ModelChoice[] {
  const current = normalizeSpec(input.current);
  const seen = new Set<string>();
  const choices: ModelChoice[] = [];
  const add = (choice: Omit<ModelChoice, 'current'>): void => {
    if (choice.action.kind !== 'spec') {
      choices.push({ ...choice, current: false });
      return;
    }
    const key = normalizeSpec(choice.action.spec);
    if (seen.has(key)) return;
    seen.add(key);
    const isCurrent = key === current;
    choices.push({ ...choice, current: isCurrent, description: isCurrent ? [t('current'), choice.description].filter(Boolean).join(' · ') : choice.description });
  };

  add({ section: 'built-in', action: { kind: 'spec', spec: '' }, label: BUILTIN_NAME, detail: t(BUILTIN_DETAIL), icon: 'beaker' });

  const cachedIds = new Set<string>();
  for (const model of input.cached) {
    for (const revision of model.revisions) {
      if (!revision.usable) continue;
      cachedIds.add(model.id);
      const ref = revision.refs.includes('main') ? undefined : (revision.refs[0] ?? revision.commit);
      const spec = formatHubSpec(model.id, ref);
      add({
        section: 'cache',
        action: { kind: 'spec', spec },
        label: spec,
        description: t('{0} on disk', formatBytes(model.sizeOnDisk)),
        detail: t('In the Hugging Face cache · {0} {1}', revision.refs.length > 0 ? revision.refs.join(', ') : t('commit'), revision.commit.slice(0, 10)),
        icon: 'database',
      });
    }
  }

  // The current model is offered among the recent ones when no other section has it.
  for (const spec of [input.current, ...input.recent]) {
    let kind: string;
    try {
      kind = parseModelSpec(spec).kind;
    } catch {
      continue; // a setting that is no longer valid is not offered again
    }
    if (kind === 'builtin') continue;
    const problem = input.problems?.get(spec);
    add({
      section: 'recent',
      action: { kind: 'spec', spec },
      label: spec,
      description: problem ? t('local folder · no longer loads') : kind === 'local' ? t('local folder') : 'Hugging Face',
      ...(problem ? { detail: problem, problem } : {}),
      icon: problem ? 'warning' : kind === 'local' ? 'folder' : 'history',
    });
  }

  for (const model of input.suggestions) {
    if (cachedIds.has(model.id)) continue;
    add({
      section: 'suggested',
      action: { kind: 'spec', spec: model.id },
      label: model.id,
      description: model.gated ? t('≈ {0} download · gated', formatBytes(model.approxBytes)) : t('≈ {0} download', formatBytes(model.approxBytes)),
      detail: t(model.description),
      icon: model.gated ? 'lock' : 'cloud-download',
    });
  }

  add({ section: 'actions', action: { kind: 'enter-id' }, label: t('Enter a Hugging Face model id…'), detail: t('owner/name, optionally @revision (a branch, tag or commit)'), icon: 'edit' });
  add({ section: 'actions', action: { kind: 'choose-folder' }, label: t('Choose a local folder…'), detail: t('A checkpoint folder with config.json, tokenizer.json and *.safetensors'), icon: 'folder-opened' });
  return choices;
}
