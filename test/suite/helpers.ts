/** Shared steps of the extension-host suites (bundled into each suite). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import type { AttentionResult, TensorData } from '../../src/protocol/types';
import type { ViewReply, ViewRequest } from '../../src/protocol/views';
import type { HostToWebview } from '../../src/protocol/webview';
import { decodeHalfArray } from '../../src/protocol/float16';
import { FIXTURES_ROOT } from '../helpers/fixtures';

export const EXTENSION_ID = 'attention-inspector.attention-inspector';
export const COMMAND = 'attentionInspector.showAttention';
export const PANEL_VIEW_TYPE = 'attentionInspector.panel';

/** A fixture checkpoint folder (runVsCodeTests passes where ../shared is; the default is the same). */
export function fixtureFolder(name: string): string {
  return path.join(process.env.ATTENTION_TEST_FIXTURES ?? FIXTURES_ROOT, name);
}

export async function getApi(): Promise<AttentionInspectorApi> {
  const extension = vscode.extensions.getExtension<AttentionInspectorApi>(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not installed in the test window`);
  return extension.activate();
}

/** Polls `condition` until it holds; the error says what was awaited and, optionally, what was seen. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000, describe?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `; ${describe()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function setModel(folder: string): Promise<void> {
  await vscode.workspace.getConfiguration('attentionInspector').update('model', folder, vscode.ConfigurationTarget.Global);
}

/** Opens a document of the throwaway workspace copy (test/workspace/) in the first column. */
export async function openWorkspaceFile(name: string): Promise<vscode.TextEditor> {
  const folder = process.env.ATTENTION_TEST_WORKSPACE ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(folder, 'the test window has no workspace folder');
  const file = path.join(folder, name);
  assert.ok(fs.existsSync(file), `${file} is missing`);
  const document = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
  // An earlier suite's edits can outlive its revert when the window is slow (the revert races the editor
  // switch): start from the text on disk, or every offset below is off.
  const onDisk = fs.readFileSync(file, 'utf8');
  if (document.getText() !== onDisk) {
    await vscode.commands.executeCommand('workbench.action.files.revert');
    if (document.getText() !== onDisk) {
      const whole = new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
      assert.ok(await editor.edit((edit) => edit.replace(whole, onDisk)), `could not restore ${name}`);
    }
  }
  return editor;
}

/** An untitled document with `text`, shown in the first column. */
export async function openUntitled(text: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  return vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
}

/** Selects the first occurrence of `text` in the editor; returns its document offset. */
export function select(editor: vscode.TextEditor, text: string): number {
  const offset = editor.document.getText().indexOf(text);
  assert.ok(offset >= 0, `"${text}" is not in ${editor.document.uri.toString()}${editor.document.isClosed ? ' (closed)' : ''}: it reads ${JSON.stringify(editor.document.getText().slice(0, 160))}`);
  editor.selection = new vscode.Selection(editor.document.positionAt(offset), editor.document.positionAt(offset + text.length));
  return offset;
}

/**
 * Runs Show Attention and waits for the panel to show a result for `text`. Fails at once, with its
 * message, when the run ends in an error notification instead.
 */
export async function showAttention(api: AttentionInspectorApi, text: string): Promise<AttentionResult> {
  const notificationsBefore = api.notifications().length;
  return awaitResult(api, text, [vscode.commands.executeCommand(COMMAND)], notificationsBefore);
}

/**
 * Waits for the panel to show a result for `text` from the given command runs. A run that ends in
 * an error notification waits for the user to answer it, so the runs are not simply awaited: an
 * error notification since `notificationsBefore` fails the wait with its message.
 */
export async function awaitResult(api: AttentionInspectorApi, text: string, runs: Thenable<unknown>[], notificationsBefore: number): Promise<AttentionResult> {
  const newErrors = () => api.notifications().slice(notificationsBefore).filter((n) => n.severity === 'error');
  let finished = 0;
  const all = Promise.all(runs.map((run) => Promise.resolve(run).finally(() => finished++)));
  await waitFor(() => api.currentResult()?.text === text || newErrors().length > 0, `a result for ${JSON.stringify(text)}`, 60_000);
  if (api.currentResult()?.text !== text) throw new Error(`Show Attention failed: ${newErrors().map((n) => n.message).join(' | ')}`);
  // Each run ends right after it hands its result to the panel (or gives way to a newer run).
  await waitFor(() => finished === runs.length, 'the command runs to finish', 10_000);
  await all;
  return api.currentResult()!;
}

/** What the panel was sent to show: an analysis the engine keeps (`analysis`) or a result with its tensors (encoder-decoders). */
export type ShownMessage = Extract<HostToWebview, { type: 'result' | 'analysis' }>;

export function resultMessages(api: AttentionInspectorApi): ShownMessage[] {
  return api.sentToWebview().filter((m): m is ShownMessage => m.type === 'result' || m.type === 'analysis');
}

/** The text a shown message is about. */
export function shownText(m: ShownMessage): string {
  return m.type === 'analysis' ? m.analysis.text : m.result.text;
}

/** Bytes of ArrayBuffers (and typed arrays) in messages: what crossed to the webview. */
export function bufferBytes(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || typeof value !== 'object' || seen.has(value)) return 0;
  seen.add(value);
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  return Object.values(value as Record<string, unknown>).reduce<number>((sum, v) => sum + bufferBytes(v, seen), 0);
}

/** The id the panel uses for the result it shows now (webview messages must carry it). */
export function currentResultId(api: AttentionInspectorApi): number {
  const messages = resultMessages(api);
  assert.ok(messages.length > 0, 'no result was sent to the panel');
  return messages[messages.length - 1].resultId;
}

/** The attention panel's tabs (there must never be more than one). */
export function panelTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(PANEL_VIEW_TYPE));
}

/** The workbench shows exactly one panel tab (its tab list reaches the extension host a little later). */
export async function expectOnePanelTab(): Promise<void> {
  await waitFor(() => panelTabs().length >= 1, 'the panel\'s tab', 10_000);
  assert.strictEqual(panelTabs().length, 1, 'one panel tab');
}

/** Closes the panel (as the user would, by its tab) and waits until the extension saw it close. */
export async function closePanel(api: AttentionInspectorApi): Promise<void> {
  const tabs = panelTabs();
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
  await waitFor(() => !api.isPanelOpen(), 'the panel to close');
}

/**
 * Discards edits (no save prompt may block the window), closes every editor and the panel, and
 * dismisses notifications: each suite starts clean.
 */
export async function resetWindow(api: AttentionInspectorApi): Promise<void> {
  for (const document of vscode.workspace.textDocuments.filter((d) => d.isDirty)) {
    // The user settings file turns dirty for a moment while a suite's configuration update is being
    // written; opening it then races VS Code's own settings model ("document … already exists!"):
    // saving writes what the configuration already holds.
    if (document.uri.path.endsWith('/User/settings.json')) {
      await document.save();
      continue;
    }
    // Under load another editor can open meanwhile ("Could NOT open editor … because another editor
    // opened in the meantime"): try again once things have settled.
    for (let attempt = 0; ; attempt++) {
      try {
        await vscode.window.showTextDocument(document);
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await vscode.commands.executeCommand('notifications.clearAll');
  await waitFor(() => !api.isPanelOpen(), 'the panel to close', 10_000);
  // A worker may stay warm after a run that ended in an error (no panel opened), but never two.
  assert.ok(api.liveWorkerCount() <= 1, `${api.liveWorkerCount()} engine workers alive`);
}

export function toFloat32(tensor: TensorData): Float32Array {
  return tensor.dtype === 'float16' ? decodeHalfArray(new Uint16Array(tensor.buffer)) : new Float32Array(tensor.buffer);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.strictEqual(a.length, b.length, 'different element counts');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

let nextViewRequestId = 1000;

/** Messages posted to the webview that are not in `before` (the history is bounded, so not by index). */
export function sentSince(api: AttentionInspectorApi, before: Set<HostToWebview>): HostToWebview[] {
  return api.sentToWebview().filter((m) => !before.has(m));
}

/** Posts a view request as the webview would and waits for the reply tied to it (it must name the same analysis). */
export async function askView(api: AttentionInspectorApi, resultId: number, request: ViewRequest): Promise<ViewReply> {
  const requestId = nextViewRequestId++;
  await api.receiveFromWebview({ type: 'request', requestId, resultId, request });
  type Reply = Extract<HostToWebview, { type: 'reply' | 'replyError' }>;
  const find = () => api.sentToWebview().find((m): m is Reply => (m.type === 'reply' || m.type === 'replyError') && m.requestId === requestId);
  await waitFor(() => find() !== undefined, `the reply to request ${requestId}`, 60_000);
  const reply = find()!;
  if (reply.type === 'replyError') throw new Error(reply.message);
  assert.strictEqual(reply.resultId, resultId, 'the reply names the analysis it is about');
  return reply.reply;
}

/** The extension's API for a suite that starts and ends in a reset window (`resetWindow` before its first test and after its last). */
export function apiInCleanWindow(): { readonly api: AttentionInspectorApi } {
  const suite = {} as { api: AttentionInspectorApi };
  before(async () => {
    suite.api = await getApi();
    await resetWindow(suite.api);
  });
  after(async () => {
    await resetWindow(suite.api);
  });
  return suite;
}
