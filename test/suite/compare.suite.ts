/**
 * "Compare With…" in the extension host: the gpt2 reference model against gpt2-scaled on the same
 * text (B's attentions checked against transformers), another text under the same model, a model
 * with another tokenizer refused by name, and the panel's views and step by step still answering for
 * the analysis shown (A) after B's model replaced A's in the engine (A is analyzed again under its id).
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
    // The panel still shows A; the comparison sits beside it, with A's tensors as the engine kept them.
    assert.strictEqual(api.currentResult()?.text, a.text);
    assert.strictEqual(api.currentResult()?.model.name, a.model.name);
    assert.strictEqual(maxAbsDiff(toFloat32(outcome.base.attentions), toFloat32(a.attentions)), 0);
    // Loading B's model dropped A's analysis in the engine; it was analyzed again under its id:
    // the panel's views and step by step answer for A (A's model: gpt2's weights, not gpt2-scaled's).
    const id = currentResultId(api);
    const before = api.sentToWebview().length;
    await api.receiveFromWebview({ type: 'request', requestId: 9001, resultId: id, request: { kind: 'focus', block: 'self', mode: 'head', layer: 0, head: 0, special: 'show', tokens: [a.tokens.length - 1] } });
    await waitFor(() => api.sentToWebview().slice(before).some((m) => (m.type === 'reply' || m.type === 'replyError') && m.requestId === 9001), 'the view of A', 30_000);
    const reply = api.sentToWebview().slice(before).find((m): m is Extract<HostToWebview, { type: 'reply' }> => m.type === 'reply' && m.requestId === 9001);
    assert.ok(reply, `A's view answered: ${JSON.stringify(api.sentToWebview().slice(before).find((m) => m.type === 'replyError'))}`);
    assert.ok(reply.reply.kind === 'focus');
    const n = a.tokens.length;
    const lastRow = toFloat32(a.attentions).subarray((n - 1) * n, n * n);
    assert.ok(reply.reply.weights.every((w, j) => Math.abs(w - lastRow[j]) <= 1e-6), 'A’s weights, not B’s');
    await api.receiveFromWebview({ type: 'requestHeadVectors', resultId: id, layer: 0, head: 0 });
    await waitFor(() => api.sentToWebview().slice(before).some((m) => m.type === 'headVectors'), 'A’s q, k, v', 30_000);
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
    // (the refusal comes once B's tokens are known; A is made whole again after it)
    assert.ok('notification' in outcome);
    assert.match(outcome.notification, /tokenize this text differently/);
    assert.match(outcome.notification, /needs the same tokenizer/);
  });
});
