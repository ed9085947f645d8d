/**
 * "Compare With…" in the extension host: the gpt2 reference model against gpt2-scaled on the same
 * text (B's attentions checked against transformers), another text under the same model, a model
 * with another tokenizer refused by name, and step by step still answering for the text shown (A).
 */
import * as assert from 'assert';
import * as path from 'path';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import type { HostToWebview } from '../../src/protocol/webview';
import { openFixture } from '../helpers/fixtures';
import { currentResultId, fixtureFolder, getApi, maxAbsDiff, openUntitled, resetWindow, select, setModel, showAttention, toFloat32, waitFor } from './helpers';
import * as vscode from 'vscode';

const COMPARE = 'attentionInspector.compareWith';
const TEXT = 'I am making a cake';

type CompareMessage = Extract<HostToWebview, { type: 'compare' }>;

function compareMessages(api: AttentionInspectorApi): CompareMessage[] {
  return api.sentToWebview().filter((m): m is CompareMessage => m.type === 'compare');
}

/** Runs the command and waits for a compare message or a notification (the command may wait for the user to dismiss it). */
async function runCompare(api: AttentionInspectorApi, args: unknown): Promise<CompareMessage | { notification: string }> {
  const messages = compareMessages(api).length;
  const notes = api.notifications().length;
  void vscode.commands.executeCommand(COMPARE, args);
  await waitFor(() => compareMessages(api).length > messages || api.notifications().length > notes, 'a comparison or a notification', 60_000);
  const fresh = compareMessages(api);
  if (fresh.length > messages) return fresh[fresh.length - 1];
  return { notification: api.notifications().at(-1)!.message };
}

describe('Compare With…', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;
  const scaledFolder = path.resolve(fixtureFolder('gpt2'), '..', '..', 'hf-tiny-2', 'gpt2-scaled');

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    await setModel(fixtureFolder('gpt2'));
  });

  after(async () => {
    await resetWindow(api);
  });

  it('says what to do when nothing is shown yet', async () => {
    const outcome = await runCompare(api, { text: 'I am making a pie' });
    assert.ok('notification' in outcome);
    assert.match(outcome.notification, /Nothing to compare yet: run Show Attention/);
  });

  it('the same text under another model with the same tokenizer: B is what transformers computed', async () => {
    const editor = await openUntitled(`${TEXT}\n`);
    select(editor, TEXT);
    const a = await showAttention(api, TEXT);
    const outcome = await runCompare(api, { model: scaledFolder });
    assert.ok(!('notification' in outcome), `refused: ${JSON.stringify(outcome)}`);
    assert.strictEqual(outcome.kind, 'model');
    assert.strictEqual(outcome.resultId, currentResultId(api));
    const fixture = openFixture('gpt2-scaled', path.dirname(scaledFolder));
    try {
      const c = fixture.cases.findIndex((x) => x.text === TEXT);
      assert.deepStrictEqual(outcome.other.tokens.map((t) => t.id), fixture.cases[c].input_ids);
      const diff = maxAbsDiff(toFloat32(outcome.other.attentions), fixture.expected(`case${c}.attentions`).data);
      assert.ok(diff <= 1e-4, `B's attentions differ from transformers by ${diff}`);
    } finally {
      fixture.close();
    }
    // The panel still shows A; the comparison sits beside it.
    assert.strictEqual(api.currentResult()?.text, a.text);
    assert.strictEqual(api.currentResult()?.model.name, a.model.name);
  });

  it('another text under the same model, and step by step still answers for A', async () => {
    const a = api.currentResult()!;
    const other = 'I am making a big cake';
    const outcome = await runCompare(api, { text: other });
    assert.ok(!('notification' in outcome), `refused: ${JSON.stringify(outcome)}`);
    assert.strictEqual(outcome.kind, 'text');
    assert.strictEqual(outcome.other.text, other);
    assert.ok(outcome.other.tokens.length > a.tokens.length);
    // The engine analyzed B last; q, k, v must still be A's (A's token count).
    const before = api.sentToWebview().length;
    await api.receiveFromWebview({ type: 'requestHeadVectors', resultId: currentResultId(api), layer: 0, head: 0 });
    const vectors = api.sentToWebview().slice(before).find((m): m is Extract<HostToWebview, { type: 'headVectors' }> => m.type === 'headVectors');
    assert.ok(vectors, 'head vectors sent');
    assert.strictEqual(vectors.vectors.q.shape[0], a.tokens.length);
  });

  it('refuses a model whose tokenizer differs, naming both models', async () => {
    const outcome = await runCompare(api, { model: fixtureFolder('llama') });
    assert.ok('notification' in outcome);
    assert.match(outcome.notification, /tokenize this text differently/);
    assert.match(outcome.notification, /needs the same tokenizer/);
  });
});
