/**
 * "Set Hugging Face Token" / "Clear Hugging Face Token": the token for gated and private models is
 * kept in VS Code's SecretStorage (the OS keychain), never in settings, and never logged or shown.
 * A new token is checked with the Hub before it is saved, so a typo is caught right away.
 */
import * as vscode from 'vscode';
import { checkToken, defaultHubUrl, findToken } from '../hub';
import type { Notifier } from '../notifications';
import { TOKEN_SECRET_KEY } from './modelResolver';
import { checkHubEndpoint, readModelSettings } from './settings';
import { errorParts, localizeError } from '../l10n/errors';

export const SET_TOKEN_COMMAND = 'attentionInspector.setHuggingFaceToken';
export const CLEAR_TOKEN_COMMAND = 'attentionInspector.clearHuggingFaceToken';

/** The hub the token is for: the `attentionInspector.hubEndpoint` setting, else HF_ENDPOINT / huggingface.co. */
function hubUrl(): string {
  const config = vscode.workspace.getConfiguration('attentionInspector');
  const endpoint = readModelSettings((key) => config.inspect(key), vscode.workspace.isTrusted).hubEndpoint;
  return endpoint ? checkHubEndpoint(endpoint) : defaultHubUrl();
}

function validateTokenInput(value: string): vscode.InputBoxValidationMessage | undefined {
  const token = value.trim();
  if (token === '') return undefined;
  if (/\s/.test(token)) return { message: vscode.l10n.t('A token has no spaces: paste it again.'), severity: vscode.InputBoxValidationSeverity.Error };
  if (!token.startsWith('hf_')) {
    return { message: vscode.l10n.t('Hugging Face tokens start with "hf_". Continue only if your hub issues other tokens.'), severity: vscode.InputBoxValidationSeverity.Warning };
  }
  return undefined;
}

async function setToken(context: vscode.ExtensionContext, notifier: Notifier): Promise<void> {
  let hub: string;
  try {
    hub = hubUrl();
  } catch (error) {
    // An endpoint that is not a URL: say so instead of checking a token against it.
    await notifier.notify('error', localizeError(errorParts(error)));
    return;
  }
  const hasStored = (await context.secrets.get(TOKEN_SECRET_KEY)) !== undefined;
  const input = await vscode.window.showInputBox({
    title: vscode.l10n.t('Set Hugging Face Token'),
    prompt: vscode.l10n.t('An access token from {0}/settings/tokens ("Read" is enough; fine-grained tokens need read access to gated repos). Kept in VS Code\'s secret storage.', hub) +
      (hasStored ? ` ${vscode.l10n.t('Leave empty to remove the stored token.')}` : ''),
    placeHolder: 'hf_…',
    password: true,
    ignoreFocusOut: true,
    validateInput: validateTokenInput,
  });
  if (input === undefined) return; // dismissed
  const token = input.trim();
  if (token === '') {
    if (hasStored) await clearToken(context, notifier);
    return;
  }

  const check = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Checking the token with the Hugging Face Hub…') },
    () => checkToken(token, hub),
  );
  if (check.status === 'rejected') {
    const tryAgain = vscode.l10n.t('Try Again');
    const action = await notifier.notify('error', vscode.l10n.t('The Hugging Face Hub ({0}) rejected this token: it may be mistyped, revoked or expired. It was not saved.', hub), tryAgain);
    if (action === tryAgain) await vscode.commands.executeCommand(SET_TOKEN_COMMAND);
    return;
  }
  await context.secrets.store(TOKEN_SECRET_KEY, token);
  if (check.status === 'valid') {
    await notifier.notify('info', vscode.l10n.t('Hugging Face token saved (account {0}). Gated models need their licence accepted on their page too.', check.account));
  } else {
    await notifier.notify('warning', vscode.l10n.t('Hugging Face token saved, but it could not be checked now ({0}).', check.reason));
  }
}

async function clearToken(context: vscode.ExtensionContext, notifier: Notifier): Promise<void> {
  await context.secrets.delete(TOKEN_SECRET_KEY);
  // Say which token will be used from now on, without showing it.
  const fallback = await findToken();
  await notifier.notify(
    'info',
    fallback
      ? vscode.l10n.t('Stored Hugging Face token removed. The token from {0} is still used.', fallback.source)
      : vscode.l10n.t('Stored Hugging Face token removed.'),
  );
}

export function registerTokenCommands(context: vscode.ExtensionContext, notifier: Notifier): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(SET_TOKEN_COMMAND, () => setToken(context, notifier)),
    vscode.commands.registerCommand(CLEAR_TOKEN_COMMAND, () => clearToken(context, notifier)),
  );
}
