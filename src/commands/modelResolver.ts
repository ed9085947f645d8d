/**
 * Turns the `attentionInspector.model` setting into a local folder for the engine: the built-in
 * model, a local folder, or a Hub model found in (or downloaded into) the Hugging Face cache, with
 * download progress, confirmation before large downloads, and the user's token.
 */
import * as vscode from 'vscode';
import { resolve as resolvePath } from 'node:path';
import { findToken, formatBytes, parseModelSpec, resolveModel, type ResolvedModel } from '../hub';
import { expandHome } from '../hub/environment';
import { checkHubEndpoint, readModelSettings, type ModelSettings } from './settings';

/** Downloads above this size ask first. */
export const CONFIRM_DOWNLOAD_BYTES = 500 * 1000 * 1000;
export const TOKEN_SECRET_KEY = 'attentionInspector.huggingFaceToken';
const RECENT_KEY = 'attentionInspector.recentModels';

export class ModelResolver {
  constructor(private readonly context: vscode.ExtensionContext, private readonly log: (line: string) => void) {}

  get builtinFolder(): string {
    return vscode.Uri.joinPath(this.context.extensionUri, 'media', 'builtin-model').fsPath;
  }

  /** Model, offline and endpoint as a workspace may influence them (see settings.ts). */
  get settings(): ModelSettings {
    const config = vscode.workspace.getConfiguration('attentionInspector');
    return readModelSettings((key) => config.inspect(key), vscode.workspace.isTrusted);
  }

  /** The configured model spec ('' = built-in). */
  get spec(): string {
    return this.settings.model;
  }

  /** Token from SecretStorage, else HF_TOKEN / the Hugging Face token file. Never logged. */
  async token(): Promise<string | undefined> {
    return (await this.context.secrets.get(TOKEN_SECRET_KEY)) ?? (await findToken())?.token;
  }

  /**
   * `report` gets the download's progress: a message and the fraction of its bytes done. `spec`: a
   * model other than the configured one (Compare With… another model), same rules otherwise.
   */
  async resolve(signal: AbortSignal, report: (message: string, fraction?: number) => void, spec?: string): Promise<ResolvedModel> {
    const settings = spec === undefined ? this.settings : { ...this.settings, model: spec };
    const hubUrl = settings.hubEndpoint === undefined ? undefined : checkHubEndpoint(settings.hubEndpoint);
    // Relative folders are relative to the first workspace folder, when it is on disk (not virtual).
    const first = vscode.workspace.workspaceFolders?.[0]?.uri;
    const baseDir = first?.scheme === 'file' ? first.fsPath : undefined;
    const resolved = await resolveModel(settings.model, {
      builtinFolder: this.builtinFolder,
      offline: settings.offline || undefined,
      token: await this.token(),
      hubUrl,
      baseDir,
      signal,
      onProgress: (p) => report(vscode.l10n.t('Downloading {0} — {1} of {2}', p.file, formatBytes(p.bytesDone), formatBytes(p.bytesTotal)), p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : undefined),
      confirmDownload: async (bytes, model) => {
        if (bytes <= CONFIRM_DOWNLOAD_BYTES) return true;
        const download = vscode.l10n.t('Download');
        const answer = await vscode.window.showWarningMessage(vscode.l10n.t('Download {0} ({1}) into the Hugging Face cache?', model, formatBytes(bytes)), { modal: true }, download);
        return answer === download;
      },
    });
    this.log(`Model ${resolved.name} from ${resolved.folder}`);
    await this.remember(settings.model);
    // The built-in model's reproducible source is its folder (for "Copy as Python").
    return resolved.kind === 'builtin' ? { ...resolved, source: resolved.folder } : resolved;
  }

  /** The folder a local spec names (relative paths from the first workspace folder on disk); undefined for other specs. */
  localFolder(spec: string): string | undefined {
    let parsed;
    try {
      parsed = parseModelSpec(spec);
    } catch {
      return undefined;
    }
    if (parsed.kind !== 'local') return undefined;
    const first = vscode.workspace.workspaceFolders?.[0]?.uri;
    return resolvePath(first?.scheme === 'file' ? first.fsPath : process.cwd(), expandHome(parsed.path));
  }

  /** Removes a spec from the recent models. */
  async forget(spec: string): Promise<void> {
    await this.context.globalState.update(RECENT_KEY, this.recent.filter((s) => s !== spec));
  }

  /** Recently used models, most recent first (for the model picker). */
  get recent(): string[] {
    return this.context.globalState.get<string[]>(RECENT_KEY, []);
  }

  private async remember(spec: string): Promise<void> {
    if (!spec) return;
    const list = [spec, ...this.recent.filter((s) => s !== spec)].slice(0, 10);
    await this.context.globalState.update(RECENT_KEY, list);
  }
}
