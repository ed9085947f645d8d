/**
 * Encoder-decoders on the view protocol through the real extension host and engine process: a
 * long text on hf-tiny-2's bart (its three blocks hold more than 16 MB of attention) reaches the
 * panel as 'analysis' + summaries of every block, no 'result' and no message over 16 MB; a cross
 * head is a view request with the block, and step by step of a cross head is this analysis's.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { computeQueryStep, maxAbsDifference } from '../../src/analysis/stepByStep';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { attentionBlocks } from '../../src/protocol/types';
import type { HostToWebview } from '../../src/protocol/webview';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { COMMAND, apiInCleanWindow, askView, awaitResult, bufferBytes, fixtureFolder, maxAbsDiff, openUntitled, sentSince, setModel, toFloat32, waitFor } from './helpers';

const MESSAGE_BOUND = 16 * 1024 * 1024;
describe('Encoder-decoders on the view protocol', function () {
  this.timeout(300_000);
  const suite = apiInCleanWindow();
  let api: AttentionInspectorApi;
  before(() => ({ api } = suite));

  it('bart, a long text: the panel gets the analysis and every block\'s summaries, no tensor and no message over 16 MB; a cross head and its step by step on request', async () => {
    await setModel(path.resolve(fixtureFolder('bert'), '..', '..', 'hf-tiny-2', 'bart'));
    const text = Array.from({ length: 650 }, (_, i) => ['the', 'cat', 'sat'][i % 3]).join(' ');
    const editor = await openUntitled(text);
    editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(text.length));
    const before = new Set(api.sentToWebview());
    const notified = api.notifications().length;
    const run = Promise.resolve(vscode.commands.executeCommand(COMMAND));
    // The decoder text is asked for once the model is loaded: accept what the box offers.
    const deadline = Date.now() + 120_000;
    while (api.currentResult()?.text !== text && api.notifications().length === notified && Date.now() < deadline) {
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await run;
    const shown = api.currentResult();
    assert.ok(shown?.text === text, `the panel shows the analysis; notifications: ${JSON.stringify(api.notifications().slice(-3))}`);
    const blocks = attentionBlocks(shown!);
    assert.deepStrictEqual(blocks.map((b) => b.kind), ['encoder', 'decoder', 'cross']);
    const tensorBytes = blocks.reduce((a, b) => a + 4 * b.attentions.shape.reduce((p, d) => p * d, 1), 0);
    assert.ok(tensorBytes > MESSAGE_BOUND, `the three blocks hold ${tensorBytes} bytes: more than one message may carry`);

    const sent = sentSince(api, before);
    assert.deepStrictEqual(sent.filter((m) => m.type === 'result'), [], 'no full-tensor result is posted');
    const analysis = sent.filter((m): m is Extract<HostToWebview, { type: 'analysis' }> => m.type === 'analysis').pop();
    assert.ok(analysis, 'the panel got the analysis');
    assert.deepStrictEqual(analysis.analysis.blocks.map((b) => b.kind), ['encoder', 'decoder', 'cross']);
    assert.deepStrictEqual(analysis.summaries.map((s) => s.block), ['encoder', 'decoder', 'cross']);
    for (const s of analysis.summaries) assert.strictEqual(s.thumbnails.count, s.layers * s.heads, `${s.block}: a thumbnail per head`);
    assert.ok(bufferBytes(analysis) < tensorBytes / 20, `summaries ${bufferBytes(analysis)} bytes, the tensors ${tensorBytes}`);

    // A cross head: decoder queries × the text's tokens, as the engine holds it.
    const cross = blocks[2];
    const [, heads, rows, cols] = cross.attentions.shape;
    const layer = 1;
    const head = heads - 1;
    const reply = await askView(api, analysis.resultId, { kind: 'matrix', block: 'cross', mode: 'head', layer, head, special: 'show', mergeWords: false });
    assert.ok(reply.kind === 'matrix' && reply.rowItems?.length === rows && reply.size === cols && reply.rowCount === rows);
    const expected = toFloat32(cross.attentions).subarray((layer * heads + head) * rows * cols, (layer * heads + head + 1) * rows * cols);
    assert.deepStrictEqual(Array.from(new Float32Array(reply.kind === 'matrix' ? reply.data : new ArrayBuffer(0))), Array.from(expected));

    // Step by step of that cross head: q of the decoder tokens, k and v of the text's.
    const beforeVectors = new Set(api.sentToWebview());
    await api.receiveFromWebview({ type: 'requestHeadVectors', resultId: analysis.resultId, layer, head, block: 'cross' });
    const find = () => sentSince(api, beforeVectors).find((m): m is Extract<HostToWebview, { type: 'headVectors' }> => m.type === 'headVectors');
    await waitFor(() => find() !== undefined, 'q, k and v of the cross head', 60_000);
    const vectors = find()!.vectors;
    assert.deepStrictEqual([vectors.q.shape[0], vectors.k.shape[0]], [rows, cols]);
    for (const query of [0, rows - 1]) {
      const diff = maxAbsDifference(computeQueryStep(vectors, query), expected.subarray(query * cols, (query + 1) * cols));
      assert.ok(diff <= 1e-5, `query ${query}: step by step differs by ${diff}`);
    }
    const all = sentSince(api, before);
    const largest = Math.max(...all.map((m) => bufferBytes(m)));
    console.log(`      bart, ${shown!.tokens.length} tokens: largest message ${(largest / 1e6).toFixed(2)} MB, ${(all.reduce((a, m) => a + bufferBytes(m), 0) / 1e6).toFixed(2)} MB posted (the three blocks: ${(tensorBytes / 1e6).toFixed(0)} MB)`);
    assert.ok(largest <= MESSAGE_BOUND, `a message of ${largest} bytes`);
  });
  it('marian, Continue and Show Attention: the generation is kept in the engine too; its cross head, asked for by view, is the transformers reference', async () => {
    const folder = path.resolve(fixtureFolder('bert'), '..', '..', 'hf-tiny-2', 'marian');
    const ref = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8')) as { cases: { text: string; decoder_ids: number[] }[] };
    const c = ref.cases[0];
    await setModel(folder);
    await vscode.workspace.getConfiguration('attentionInspector').update('generateTokens', 8, vscode.ConfigurationTarget.Global);
    try {
      const editor = await openUntitled(c.text);
      editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(c.text.length));
      const before = new Set(api.sentToWebview());
      const shown = await awaitResult(api, c.text, [vscode.commands.executeCommand('attentionInspector.continueAndShowAttention')], api.notifications().length);
      const sent = sentSince(api, before);
      assert.deepStrictEqual(sent.filter((m) => m.type === 'result'), [], 'no full-tensor result is posted');
      const analysis = sent.filter((m): m is Extract<HostToWebview, { type: 'analysis' }> => m.type === 'analysis').pop()!;
      assert.deepStrictEqual(analysis.summaries.map((s) => s.block), ['encoder', 'decoder', 'cross']);
      const decoderIds = analysis.analysis.decoderTokens!.map((t) => t.id);
      // generation_config.json forces </s> as the last token (the reference generated without it): the rows before it are the reference's.
      const rows = 8;
      assert.deepStrictEqual(decoderIds.slice(0, rows), c.decoder_ids.slice(0, rows));
      const file = new SafetensorsFile(path.join(folder, 'expected-generate.safetensors'));
      try {
        const entry = file.tensors.get('case0.cross_attentions')!;
        const expected = readTensor(entry);
        const [, heads, refRows, cols] = entry.shape;
        for (const [layer, head] of [[0, 0], [1, heads - 1]]) {
          const reply = await askView(api, analysis.resultId, { kind: 'matrix', block: 'cross', mode: 'head', layer, head, special: 'show', mergeWords: false });
          assert.ok(reply.kind === 'matrix' && reply.size === cols && reply.rowItems!.length === decoderIds.length);
          const got = new Float32Array(reply.kind === 'matrix' ? reply.data : new ArrayBuffer(0)).subarray(0, rows * cols);
          const want = expected.subarray((layer * heads + head) * refRows * cols, (layer * heads + head) * refRows * cols + rows * cols);
          const diff = maxAbsDiff(got, want);
          assert.ok(diff <= 1e-4, `cross L${layer} H${head}: differs from transformers by ${diff}`);
        }
      } finally {
        file.close();
      }
      assert.ok(shown.generation, 'the test API keeps the generation');
    } finally {
      await vscode.workspace.getConfiguration('attentionInspector').update('generateTokens', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
