/**
 * The view server's overview and tiles, against the exact matrices computed here by brute force
 * from the analysis's own tensor (never from the server's other replies): the overview is the
 * max-pool of the exact view, row maxima are the rows' maxima, a tile is the exact slice, for a
 * head and for a view with merged words; every reply stays within the message bounds.
 */
import * as assert from 'assert';
import { mapColors, positionsUnder, type ColorNorm, type RangeMode } from '../../../src/analysis/colormap';
import { FullResultKept } from '../../../src/analysis/fullResultKept';
import { ViewServer } from '../../../src/analysis/viewServer';
import type { AttentionResult, TokenInfo } from '../../../src/protocol/types';
import { MAX_MESSAGE_BYTES, MAX_OVERVIEW_CELLS, MAX_REPLY_BYTES, parseViewRequest, replyBuffers, type ViewRequest } from '../../../src/protocol/views';

/**
 * `words` words of 1–3 sub-word pieces ("ab cde f …": pieces of a word touch, words are spaced),
 * random row-stochastic attention with a sharp previous-token diagonal and one hot key.
 */
function subwordResult(words: number, layers = 1, heads = 2): { result: AttentionResult; groups: number[][] } {
  let seed = 4242;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const tokens: TokenInfo[] = [];
  const groups: number[][] = [];
  let text = '';
  for (let w = 0; w < words; w++) {
    if (w > 0) text += ' ';
    const pieces = 1 + (w % 3);
    const group: number[] = [];
    for (let p = 0; p < pieces; p++) {
      const piece = String.fromCharCode(97 + ((w + p) % 26));
      group.push(tokens.length);
      tokens.push({ id: tokens.length, raw: piece, display: piece, start: text.length, end: text.length + 1, special: false, segment: 0 });
      text += piece;
    }
    groups.push(group);
  }
  const n = tokens.length;
  const data = new Float32Array(layers * heads * n * n);
  for (let m = 0; m < layers * heads; m++) {
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: n }, (_, j) => 0.01 * rand() + (j === i - 1 ? 3 : 0) + (j === 7 ? 1 : 0));
      const sum = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < n; j++) data[(m * n + i) * n + j] = row[j] / sum;
    }
  }
  const result: AttentionResult = {
    model: { name: 'synthetic', source: 'synthetic', modelType: 'test', numLayers: layers, numHeads: heads, numKeyValueHeads: heads, headDim: 8, hiddenSize: 8 * heads, maxTokens: null, causal: false },
    text,
    tokens,
    attentions: { dtype: 'float32', shape: [layers, heads, n, n], buffer: data.buffer },
    valueNorms: { dtype: 'float32', shape: [layers, heads, n], buffer: new Float32Array(layers * heads * n).fill(1).buffer },
    timings: { tokenizeMs: 0, computeMs: 0 },
  };
  return { result, groups };
}

/** Head (layer, head) of the result's tensor, n × n. */
function exactHead(result: AttentionResult, layer: number, head: number): { size: number; data: Float32Array } {
  const n = result.tokens.length;
  const heads = result.attentions.shape[1];
  const all = new Float32Array(result.attentions.buffer);
  return { size: n, data: all.slice((layer * heads + head) * n * n, (layer * heads + head + 1) * n * n) };
}

/** Words merged by definition: a word's column sums its pieces, its row averages them (float64). */
function exactMerged(m: { size: number; data: Float32Array }, groups: number[][]): { size: number; data: Float64Array } {
  const w = groups.length;
  const data = new Float64Array(w * w);
  for (let a = 0; a < w; a++) {
    for (let b = 0; b < w; b++) {
      let s = 0;
      for (const i of groups[a]) for (const j of groups[b]) s += m.data[i * m.size + j];
      data[a * w + b] = s / groups[a].length;
    }
  }
  return { size: w, data };
}

/** Brute-force max-pool: overview cell (a, b) is the largest weight of view cells [a·f, (a+1)·f) × [b·f, (b+1)·f). */
function bruteMaxPool(m: { size: number; data: ArrayLike<number> }, factor: number): Float64Array {
  const cells = Math.ceil(m.size / factor);
  const out = new Float64Array(cells * cells);
  for (let a = 0; a < cells; a++) {
    for (let b = 0; b < cells; b++) {
      let max = -Infinity;
      for (let i = a * factor; i < Math.min(m.size, (a + 1) * factor); i++) for (let j = b * factor; j < Math.min(m.size, (b + 1) * factor); j++) max = Math.max(max, m.data[i * m.size + j]);
      out[a * cells + b] = max;
    }
  }
  return out;
}

const messageBytes = (reply: Parameters<typeof replyBuffers>[0]) => replyBuffers(reply).reduce((sum, b) => sum + b.byteLength, 0);

describe('view server: overview and exact tiles', () => {
  const base = { kind: 'matrix' as const, block: 'self' as const, mode: 'head' as const, layer: 0, head: 1, special: 'show' as const, mergeWords: false };

  it('the overview of a head is the brute-force max-pool of its exact matrix, with exact row maxima', async () => {
    const { result } = subwordResult(130); // 259 tokens
    const server = new ViewServer(new FullResultKept(result), { mergeText: result.text });
    const exact = exactHead(result, 0, 1);
    const n = exact.size;
    assert.strictEqual(n, 259);
    for (const cells of [64, 100, 258]) {
      const reply = await server.serve({ ...base, kind: 'overview', cells });
      assert.strictEqual(reply.kind, 'overview');
      if (reply.kind !== 'overview') return;
      const factor = Math.ceil(n / cells);
      assert.strictEqual(reply.size, n);
      assert.strictEqual(reply.factor, factor);
      assert.strictEqual(reply.cells, Math.ceil(n / factor));
      assert.ok(reply.cells <= cells);
      assert.deepStrictEqual(Array.from(new Float32Array(reply.data)), Array.from(bruteMaxPool(exact, factor), Math.fround), `cells ${cells}`);
      const rowMax: number[] = Array.from({ length: n }, (_, i) => Math.max(...exact.data.subarray(i * n, (i + 1) * n)));
      assert.deepStrictEqual(Array.from(new Float32Array(reply.rowMax)), rowMax);
    }
    // The sharp diagonal survives pooling: every overview cell on it holds a weight near the diagonal's.
    const reply = await server.serve({ ...base, kind: 'overview', cells: 26 });
    if (reply.kind !== 'overview') throw new Error('no overview');
    const pooled = new Float32Array(reply.data);
    for (let k = 1; k < reply.cells; k++) assert.ok(pooled[k * reply.cells + k] > 0.5, `diagonal cell ${k}: ${pooled[k * reply.cells + k]}`);
  });

  it('a tile of rows × columns is the exact slice, for a head and for merged words (and its overview pools the merged view)', async () => {
    const { result, groups } = subwordResult(130);
    const server = new ViewServer(new FullResultKept(result), { mergeText: result.text });
    const head = exactHead(result, 0, 1);
    const merged = exactMerged(head, groups);
    assert.strictEqual(merged.size, 130);
    for (const [mergeWords, exact] of [[false, head], [true, merged]] as const) {
      const rect = { rowStart: 17, rowCount: 40, colStart: 90, colCount: 33 };
      const reply = await server.serve({ ...base, mergeWords, ...rect });
      assert.strictEqual(reply.kind, 'matrix');
      if (reply.kind !== 'matrix') return;
      assert.deepStrictEqual({ rowStart: reply.rowStart, rowCount: reply.rowCount, colStart: reply.colStart, colCount: reply.colCount, size: reply.size }, { ...rect, size: exact.size });
      const got = new Float32Array(reply.data);
      for (let i = 0; i < rect.rowCount; i++) {
        for (let j = 0; j < rect.colCount; j++) {
          const want = exact.data[(rect.rowStart + i) * exact.size + rect.colStart + j];
          const v = got[i * rect.colCount + j];
          assert.ok(Math.abs(v - want) <= 1e-6 * Math.max(1, want), `merge ${mergeWords}, (${rect.rowStart + i}, ${rect.colStart + j}): ${v} ≠ ${want}`);
        }
      }
      // Past the edge: cut to the view.
      const edge = await server.serve({ ...base, mergeWords, rowStart: exact.size - 3, rowCount: 10, colStart: exact.size - 2, colCount: 10 });
      if (edge.kind !== 'matrix') throw new Error('no matrix');
      assert.deepStrictEqual([edge.rowCount, edge.colCount, new Float32Array(edge.data).length], [3, 2, 6]);
      assert.ok(Math.abs(new Float32Array(edge.data)[5] - exact.data[exact.size * exact.size - 1]) <= 1e-6);
    }
    const overview = await server.serve({ ...base, kind: 'overview', mergeWords: true, cells: 40 });
    if (overview.kind !== 'overview') throw new Error('no overview');
    const pooled = new Float32Array(overview.data);
    const want = bruteMaxPool(merged, overview.factor);
    assert.strictEqual(overview.size, 130);
    for (let k = 0; k < pooled.length; k++) assert.ok(Math.abs(pooled[k] - want[k]) <= 1e-6, `overview cell ${k}: ${pooled[k]} ≠ ${want[k]}`);
  });

  it('2,048 tokens: the overview and any tile fit their bounds, a whole-view tile is cut to one reply', async () => {
    const { result } = subwordResult(1024, 1, 1); // 2,047 tokens
    const n = result.tokens.length;
    const server = new ViewServer(new FullResultKept(result), { mergeText: result.text });
    const head = { ...base, head: 0 };
    const overview = await server.serve({ ...head, kind: 'overview', cells: MAX_OVERVIEW_CELLS });
    if (overview.kind !== 'overview') throw new Error('no overview');
    assert.strictEqual(overview.cells, Math.ceil(n / 2));
    assert.ok(messageBytes(overview) <= 4 * 1024 * 1024 + n * 4, `overview ${messageBytes(overview)} bytes`);
    const whole = await server.serve(head);
    if (whole.kind !== 'matrix') throw new Error('no matrix');
    assert.ok(messageBytes(whole) <= MAX_REPLY_BYTES && MAX_REPLY_BYTES <= MAX_MESSAGE_BYTES, `tile ${messageBytes(whole)} bytes`);
    assert.strictEqual(whole.rowCount, Math.floor(MAX_REPLY_BYTES / (n * 4)));
    const narrow = await server.serve({ ...head, colStart: 100, colCount: 200 });
    if (narrow.kind !== 'matrix') throw new Error('no matrix');
    assert.strictEqual(narrow.rowCount, n, 'a narrow tile holds every row');
    const exact = exactHead(result, 0, 0);
    assert.strictEqual(new Float32Array(narrow.data)[(n - 1) * 200 + 199], exact.data[(n - 1) * n + 299]);
  });

  it('overview and column ranges are parsed and bounded', () => {
    const ok: ViewRequest = { ...base, kind: 'overview', cells: 512 };
    assert.deepStrictEqual(parseViewRequest(ok), ok);
    assert.strictEqual(parseViewRequest({ ...ok, cells: MAX_OVERVIEW_CELLS + 1 }), undefined);
    assert.strictEqual(parseViewRequest({ ...ok, cells: 0 }), undefined);
    assert.strictEqual(parseViewRequest({ ...ok, mode: 'nope' }), undefined);
    const tile = { ...base, rowStart: 3, rowCount: 4, colStart: 5, colCount: 6 };
    assert.deepStrictEqual(parseViewRequest(tile), tile);
    assert.strictEqual(parseViewRequest({ ...tile, colStart: -1 }), undefined);
    assert.strictEqual(parseViewRequest({ ...tile, colCount: 1.5 }), undefined);
  });
});

describe('tile colours', () => {
  it('a tile coloured under the whole view\'s mapping gets the colours the whole view gives its cells, for every normalisation', () => {
    const { result } = subwordResult(40);
    const m = exactHead(result, 0, 0);
    const n = m.size;
    const rowMax = Array.from({ length: n }, (_, i) => Math.max(...m.data.subarray(i * n, (i + 1) * n)));
    const rect = { rowStart: 5, rowCount: 20, colStart: 30, colCount: 41 };
    const tile = new Float32Array(rect.rowCount * rect.colCount);
    for (let i = 0; i < rect.rowCount; i++) for (let j = 0; j < rect.colCount; j++) tile[i * rect.colCount + j] = m.data[(rect.rowStart + i) * n + rect.colStart + j];
    for (const norm of ['linear', 'row', 'log'] as ColorNorm[]) {
      for (const range of ['max', 'unit'] as RangeMode[]) {
        const whole = mapColors({ rows: n, cols: n, data: m.data }, norm, range);
        const part = positionsUnder(whole, { rows: rect.rowCount, cols: rect.colCount, data: tile }, rowMax.slice(rect.rowStart, rect.rowStart + rect.rowCount));
        for (let i = 0; i < rect.rowCount; i++) {
          for (let j = 0; j < rect.colCount; j++) assert.strictEqual(part[i * rect.colCount + j], whole.positions[(rect.rowStart + i) * n + rect.colStart + j], `${norm}/${range} (${i}, ${j})`);
        }
      }
    }
  });
});

describe('view server: a rectangular block', () => {
  it('serves whole rows with their column range named, and refuses column ranges by name', async () => {
    const { result } = subwordResult(6, 1, 1); // 11 tokens: the encoder side
    const queries = result.tokens.slice(0, 4);
    const keys = result.tokens;
    const data = new Float32Array(queries.length * keys.length).map((_, k) => ((k % keys.length) + 1) / 66);
    const crossResult: AttentionResult = {
      ...result,
      blocks: [
        { kind: 'encoder', label: 'Encoder', querySide: 'input', keySide: 'input', queryTokens: keys, keyTokens: keys, causal: false, attentions: result.attentions, valueNorms: result.valueNorms },
        { kind: 'cross', label: 'Cross', querySide: 'target', keySide: 'input', queryTokens: queries, keyTokens: keys, causal: false, attentions: { dtype: 'float32', shape: [1, 1, queries.length, keys.length], buffer: data.buffer }, valueNorms: result.valueNorms },
      ],
    };
    const server = new ViewServer(new FullResultKept(crossResult), { mergeText: result.text });
    const request = { kind: 'matrix' as const, block: 'cross' as const, mode: 'head' as const, layer: 0, head: 0, special: 'show' as const, mergeWords: false };
    const reply = await server.serve({ ...request, rowStart: 1 });
    if (reply.kind !== 'matrix') throw new Error('no matrix');
    assert.deepStrictEqual([reply.rowStart, reply.rowCount, reply.colStart, reply.colCount], [1, 3, 0, keys.length]);
    assert.deepStrictEqual(Array.from(new Float32Array(reply.data)), Array.from(data.subarray(keys.length)));
    await assert.rejects(server.serve({ ...request, colStart: 2, colCount: 3 }), /column ranges \(colStart, colCount\) apply to self-attention views/);
    await assert.rejects(server.serve({ ...request, kind: 'overview', cells: 4 }), /not square/);
  });
});
