import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { EXTENSION_ID, awaitResult, fixtureFolder, getApi, maxAbsDiff, openWorkspaceFile, resetWindow, select, setModel, toFloat32, waitFor } from './helpers';

const CONTINUE = 'attentionInspector.continueAndShowAttention';
/** Text of sample.md that is case 0 of hf-tiny/gpt2's expected-generate.json (transformers' greedy generate). */
const PROMPT = 'I am making a cake';

describe('Continue and Show Attention', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;
  let editor: vscode.TextEditor;
  const settings = () => vscode.workspace.getConfiguration('attentionInspector');

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    editor = await openWorkspaceFile('sample.md');
  });

  after(async () => {
    await settings().update('generateTokens', undefined, vscode.ConfigurationTarget.Global);
    await resetWindow(api);
  });

  it('is contributed to the command palette and the editor context menu', () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.strictEqual(manifest.contributes.commands.find((c: { command: string }) => c.command === CONTINUE)?.title, 'Continue and Show Attention');
    assert.ok(manifest.contributes.menus['editor/context'].some((m: { command: string }) => m.command === CONTINUE));
    assert.strictEqual(manifest.contributes.configuration.properties['attentionInspector.generateTokens'].default, 16);
  });

  it("continues the selection greedily for attentionInspector.generateTokens tokens and shows the attention over prompt + generated, as transformers' generate() does", async () => {
    await setModel(fixtureFolder('gpt2'));
    await settings().update('generateTokens', 8, vscode.ConfigurationTarget.Global);
    editor = await openWorkspaceFile('sample.md');
    select(editor, PROMPT);
    const before = api.notifications().length;
    const shown = await awaitResult(api, PROMPT, [vscode.commands.executeCommand(CONTINUE)], before);
    const folder = fixtureFolder('gpt2');
    const ref = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8'));
    assert.deepStrictEqual(shown.generation?.newIds, ref.cases[0].new_ids);
    assert.deepStrictEqual(shown.tokens.map((t) => t.id), [...ref.cases[0].prompt_ids, ...ref.cases[0].new_ids]);
    assert.deepStrictEqual(shown.tokens.map((t) => t.generated === true), shown.tokens.map((_, i) => i >= ref.cases[0].prompt_ids.length));
    const file = new SafetensorsFile(path.join(folder, 'expected-generate.safetensors'));
    try {
      const entry = file.tensors.get('case0.attentions')!;
      assert.deepStrictEqual(shown.attentions.shape, entry.shape);
      const diff = maxAbsDiff(toFloat32(shown.attentions), readTensor(entry));
      assert.ok(diff <= 1e-4, `attentions differ from transformers' by ${diff}`);
    } finally {
      file.close();
    }
  });

  it('an encoder-only model gets an error notification that says generation needs a causal LM or an encoder-decoder', async () => {
    await setModel(fixtureFolder('bert'));
    editor = await openWorkspaceFile('sample.md');
    select(editor, PROMPT);
    const before = api.notifications().length;
    void vscode.commands.executeCommand(CONTINUE);
    await waitFor(() => api.notifications().slice(before).some((n) => n.severity === 'error'), 'an error notification', 60_000);
    const error = api.notifications().slice(before).find((n) => n.severity === 'error')!;
    assert.match(error.message, /needs a causal language model .* or an encoder-decoder/);
  });
});
