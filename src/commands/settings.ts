/**
 * The settings that decide where models (and with them the user's Hugging Face token) come from,
 * read so that a cloned repository's `.vscode/settings.json` cannot redirect them:
 * - `hubEndpoint` (machine scope in package.json) comes from the user's own settings only, whatever
 *   the workspace says — the token is sent to it;
 * - `model` (restricted in untrusted workspaces) takes a workspace value only in a trusted workspace;
 * - `offline` can be switched on by any scope but never off by a workspace the user turned it on for.
 * Pure (no vscode import) so the rules are unit-tested; the extension passes `config.inspect`.
 */
import { ModelSourceError } from '../hub';

export interface SettingInspection<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export type Inspect = <T>(key: string) => SettingInspection<T> | undefined;

export interface ModelSettings {
  /** The model spec ('' = built-in). */
  model: string;
  offline: boolean;
  /** The user's Hub endpoint as set (check it with checkHubEndpoint); undefined: HF_ENDPOINT or huggingface.co. */
  hubEndpoint: string | undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** An http(s) origin with an optional path, no credentials, query or fragment. */
export function checkHubEndpoint(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    throw new ModelSourceError(
      'invalid-spec',
      `The setting attentionInspector.hubEndpoint ("${value}") is not a Hub URL: use https://host[/path] (or http:// for a mirror on your own network), or leave it empty.`,
    );
  }
  return value.replace(/\/+$/, '');
}

export function readModelSettings(inspect: Inspect, workspaceTrusted: boolean): ModelSettings {
  const model = inspect<string>('model');
  const modelValue = workspaceTrusted
    ? (model?.workspaceFolderValue ?? model?.workspaceValue ?? model?.globalValue)
    : model?.globalValue;
  const offline = inspect<boolean>('offline');
  const endpoint = text(inspect<string>('hubEndpoint')?.globalValue);
  return {
    model: text(modelValue) ?? '',
    offline: [offline?.globalValue, offline?.workspaceValue, offline?.workspaceFolderValue].some((v) => v === true),
    hubEndpoint: endpoint,
  };
}
