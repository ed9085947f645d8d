/**
 * "Attention Inspector: Select Model": a quick pick of the built-in model, models already in the
 * Hugging Face cache, recent ones, suggestions, "Enter a Hugging Face model id…" and "Choose a local
 * folder…"; plus a status bar item showing the active model, and the token commands. Choosing a
 * hub model that is not cached starts its download right away (progress, Cancel, confirmation
 * above 500 MB), so that Show Attention is instant afterwards.
 */
import * as vscode from 'vscode';
import {
  BUILTIN_NAME,
  SUGGESTED_MODELS,
  buildModelChoices,
  isModelSourceError,
  listCachedModels,
  parseModelSpec,
  resolveModel,
  type CachedModel,
  type ModelChoice,
} from '../hub';
import type { Notifier } from '../notifications';
import { registerTokenCommands, SET_TOKEN_COMMAND } from './hfToken';
import { checkPickedFolder, checkRecentFolders } from './modelCheck';
import type { ModelResolver } from './modelResolver';
import { errorParts, localizeError } from '../l10n/errors';
import { msg, t } from '../l10n/runtime';

export const SELECT_MODEL_COMMAND = 'attentionInspector.selectModel';

const SECTION_TITLES: Record<ModelChoice['section'], string> = {
  'built-in': msg('Built-in'),
  cache: msg('In the Hugging Face cache'),
  recent: msg('Recent'),
  suggested: msg('Suggested (downloaded on first use)'),
  actions: msg('Other'),
};

interface ChoiceItem extends vscode.QuickPickItem {
  choice?: ModelChoice;
}

/** Name shown in the status bar for a spec, without touching the disk. */
function shortName(spec: string): string {
  try {
    const parsed = parseModelSpec(spec);
    if (parsed.kind === 'builtin') return BUILTIN_NAME;
    if (parsed.kind === 'hub') return parsed.revision ? `${parsed.id}@${parsed.revision.slice(0, 12)}` : parsed.id;
    return parsed.path.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || parsed.path;
  } catch {
    return spec;
  }
}

async function setModelSetting(spec: string): Promise<void> {
  const config = vscode.workspace.getConfiguration('attentionInspector');
  const inspected = config.inspect<string>('model');
  // Change the value where the user keeps it: a workspace setting wins over the user setting.
  // (An untrusted workspace's value is not used, so the choice goes to the user settings there.)
  const target = inspected?.workspaceValue !== undefined && vscode.workspace.isTrusted ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update('model', spec === '' ? undefined : spec, target);
}

async function cachedModels(log: (line: string) => void): Promise<CachedModel[]> {
  try {
    return await listCachedModels();
  } catch (error) {
    log(`Could not read the Hugging Face cache: ${(error as Error).message}`);
    return [];
  }
}

async function askForHubId(): Promise<string | undefined> {
  const value = await vscode.window.showInputBox({
    title: vscode.l10n.t('Hugging Face model id'),
    prompt: vscode.l10n.t('A model on the Hugging Face Hub, e.g. openai-community/gpt2 or Qwen/Qwen2.5-0.5B@main (a model page URL works too).'),
    placeHolder: vscode.l10n.t('owner/name[@revision]'),
    ignoreFocusOut: true,
    validateInput: (text) => {
      if (text.trim() === '') return undefined;
      try {
        return parseModelSpec(text).kind === 'hub' ? undefined : vscode.l10n.t('Enter a model id (owner/name); use "Choose a local folder…" for folders.');
      } catch (error) {
        return localizeError(errorParts(error));
      }
    },
  });
  if (!value?.trim()) return undefined;
  const parsed = parseModelSpec(value);
  return parsed.kind === 'hub' ? (parsed.revision ? `${parsed.id}@${parsed.revision}` : parsed.id) : undefined;
}

async function askForFolder(notifier: Notifier): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: vscode.l10n.t('Use This Model'),
    title: vscode.l10n.t('Choose a checkpoint folder (config.json, tokenizer.json, *.safetensors)'),
  });
  const folder = picked?.[0]?.fsPath;
  if (!folder) return undefined;
  try {
    await checkPickedFolder(folder);
    return folder;
  } catch (error) {
    const another = vscode.l10n.t('Choose Another Folder');
    const action = await notifier.notify('error', localizeError(errorParts(error)), another);
    return action === another ? askForFolder(notifier) : undefined;
  }
}

/** Downloads a newly chosen hub model now, unless it is already complete in the cache. */
async function prepareModel(spec: string, models: ModelResolver, notifier: Notifier): Promise<void> {
  const parsed = parseModelSpec(spec);
  if (parsed.kind !== 'hub') return;
  try {
    await resolveModel(parsed, { builtinFolder: models.builtinFolder, offline: true });
    return; // cached: nothing to do, and no network request made
  } catch {
    // not (completely) cached: download below
  }
  const controller = new AbortController();
  const failure = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Attention Inspector: ${spec}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => controller.abort());
      let reported = 0;
      try {
        await models.resolve(controller.signal, (message, fraction) => {
          // VS Code progress takes increments; the download is the whole bar here.
          const increment = fraction === undefined ? undefined : Math.max(0, fraction * 100 - reported);
          if (increment !== undefined) reported += increment;
          progress.report({ message, increment });
        });
        notifier.log(`Model ${spec} is ready`);
        return undefined;
      } catch (error) {
        return error;
      }
    },
  );
  if (failure === undefined) return;
  // Reported after the progress ended: a notification waiting for an answer must not keep it open.
  if (isModelSourceError(failure, 'cancelled') || isModelSourceError(failure, 'declined')) {
    notifier.log(`Download of ${spec} stopped: the model is used once it is downloaded (Show Attention downloads it too).`);
    return;
  }
  const message = localizeError(errorParts(failure));
  const tokenProblem = isModelSourceError(failure, 'unauthorized') || isModelSourceError(failure, 'invalid-token');
  const setToken = vscode.l10n.t('Set Hugging Face Token');
  const selectModel = vscode.l10n.t('Select Model');
  const action = await notifier.notify('error', message, ...(tokenProblem ? [setToken, selectModel] : [selectModel]));
  if (action === setToken) void vscode.commands.executeCommand(SET_TOKEN_COMMAND);
  else if (action === selectModel) void vscode.commands.executeCommand(SELECT_MODEL_COMMAND);
}

/** Recent folders that no longer load (marked in the picker); those that are gone leave Recent. */
async function recentProblems(models: ModelResolver, notifier: Notifier): Promise<Map<string, string>> {
  const { problems, gone } = await checkRecentFolders(models.recent, (spec) => models.localFolder(spec));
  for (const spec of gone) {
    await models.forget(spec);
    notifier.log(`Removed ${spec} from the recent models: the folder is gone`);
  }
  return problems;
}

/**
 * The model picker: returns the chosen spec ('' = built-in), or undefined when dismissed. Select
 * Model makes it the setting; Compare With… uses it once.
 */
export async function pickModelSpec(models: ModelResolver, notifier: Notifier, title?: string): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick<ChoiceItem>();
  pick.title = title ?? vscode.l10n.t('Attention Inspector: Select Model');
  pick.placeholder = vscode.l10n.t('Model to analyze with (type to filter)');
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.busy = true;
  pick.show();

  const choices = buildModelChoices({
    current: models.spec,
    cached: await cachedModels((line) => notifier.log(line)),
    recent: models.recent,
    suggestions: SUGGESTED_MODELS,
    problems: await recentProblems(models, notifier),
  });
  const items: ChoiceItem[] = [];
  let section: ModelChoice['section'] | undefined;
  for (const choice of choices) {
    if (choice.section !== section) {
      section = choice.section;
      items.push({ label: t(SECTION_TITLES[section]), kind: vscode.QuickPickItemKind.Separator });
    }
    items.push({ label: `$(${choice.icon}) ${choice.label}`, description: choice.description, detail: choice.detail, choice });
  }
  pick.items = items;
  pick.activeItems = items.filter((item) => item.choice?.current);
  pick.busy = false;

  const chosen = await new Promise<ModelChoice | undefined>((done) => {
    pick.onDidAccept(() => done(pick.selectedItems[0]?.choice));
    pick.onDidHide(() => done(undefined));
  });
  pick.dispose();
  if (!chosen) return undefined;

  let spec: string | undefined;
  if (chosen.problem && chosen.action.kind === 'spec') {
    const remove = vscode.l10n.t('Remove from Recent');
    const selectModel = vscode.l10n.t('Select Model');
    const action = await notifier.notify('error', vscode.l10n.t('{0} no longer loads: {1}', chosen.action.spec, chosen.problem), remove, selectModel);
    if (action === remove) await models.forget(chosen.action.spec);
    else if (action === selectModel) void vscode.commands.executeCommand(SELECT_MODEL_COMMAND);
    return undefined;
  }
  if (chosen.action.kind === 'spec') spec = chosen.action.spec;
  else if (chosen.action.kind === 'enter-id') spec = await askForHubId();
  else spec = await askForFolder(notifier);
  return spec;
}

async function selectModel(models: ModelResolver, notifier: Notifier): Promise<void> {
  const spec = await pickModelSpec(models, notifier);
  if (spec === undefined) return;

  await setModelSetting(spec);
  notifier.log(`Model set to ${spec === '' ? BUILTIN_NAME : spec}`);
  await prepareModel(spec, models, notifier);
}

/** Status bar item with the active model; click to change it. */
function createStatusBarItem(models: ModelResolver): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('attentionInspector.model', vscode.StatusBarAlignment.Right, 100);
  item.name = vscode.l10n.t('Attention Inspector Model');
  item.command = SELECT_MODEL_COMMAND;
  const update = (): void => {
    const spec = models.spec;
    const offline = models.settings.offline;
    item.text = `$(eye) ${shortName(spec)}${offline ? ' $(cloud-offline)' : ''}`;
    item.tooltip = [
      vscode.l10n.t('Attention Inspector model: {0}', spec === '' ? vscode.l10n.t('{0} (a tiny model for exploring attention patterns)', BUILTIN_NAME) : spec),
      ...(offline ? [vscode.l10n.t('Offline: models load from the Hugging Face cache only')] : []),
      vscode.l10n.t('Click to select another model'),
    ].join('\n');
  };
  update();
  item.show();
  const listener = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('attentionInspector.model') || e.affectsConfiguration('attentionInspector.offline')) update();
  });
  return vscode.Disposable.from(item, listener);
}

/** Registers Select Model, the token commands and the status bar item. */
export function registerModelCommands(context: vscode.ExtensionContext, models: ModelResolver, notifier: Notifier): void {
  registerTokenCommands(context, notifier);
  context.subscriptions.push(
    vscode.commands.registerCommand(SELECT_MODEL_COMMAND, () => selectModel(models, notifier)),
    createStatusBarItem(models),
  );
}
