/**
 * The worker's view scheduling (src/worker/viewScheduler.ts): which layers a view needs while a pass
 * runs, views of one analysis in the order asked, a view waiting for its layer not holding up a
 * later view of a computed one, cancellation while waiting, and `settled` for a release.
 */
import * as assert from 'assert';
import type { KeptAnalysis } from '../../src/protocol/kept';
import type { ViewRequest } from '../../src/protocol/views';
import { headShown, lastLayerNeeded, ViewScheduler } from '../../src/worker/viewScheduler';

const LAYERS = 6;

const matrix = (mode: 'head' | 'layerMean' | 'allMean' | 'rollout' | 'valueWeighted', layer: number): ViewRequest => ({ kind: 'matrix', block: 'self', mode, layer, head: 0, special: 'show', mergeWords: false });

/** An analysis whose layers come when the test says (`compute(k)`: layers below k are done). */
function progressive(): { analysis: KeptAnalysis; compute: (done: number) => void } {
  let done = 0;
  const waiting: { layer: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  const analysis = {
    tokens: [],
    blocks: [{ kind: 'self', layers: LAYERS, heads: 2 }],
    bytesHeld: 0,
    whenComputed: (_block: string, layer: number, signal?: AbortSignal) =>
      layer < done
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            signal?.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
            waiting.push({ layer, resolve, reject });
          }),
  } as unknown as KeptAnalysis;
  return {
    analysis,
    compute: (next) => {
      done = next;
      for (const w of waiting.splice(0)) {
        if (w.layer < done) w.resolve();
        else waiting.push(w);
      }
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('view scheduling while a pass runs', () => {
  it('a view needs its layer; rollout the layers below; the global mean, value weighting, thumbnails, rows and the tensor every layer', () => {
    assert.strictEqual(lastLayerNeeded(matrix('head', 2), LAYERS), 2);
    assert.strictEqual(lastLayerNeeded(matrix('layerMean', 3), LAYERS), 3);
    assert.strictEqual(lastLayerNeeded(matrix('rollout', 1), LAYERS), 1);
    assert.strictEqual(lastLayerNeeded(matrix('allMean', 0), LAYERS), LAYERS - 1);
    assert.strictEqual(lastLayerNeeded(matrix('valueWeighted', 0), LAYERS), LAYERS - 1);
    assert.strictEqual(lastLayerNeeded({ kind: 'focus', block: 'self', mode: 'head', layer: 4, head: 1, special: 'show', tokens: [0] }, LAYERS), 4);
    assert.strictEqual(lastLayerNeeded({ kind: 'headVectors', block: 'self', layer: 2, head: 1 }, LAYERS), 2);
    // A long text's first view is an overview: it waits for its own layer, not the whole pass.
    assert.strictEqual(lastLayerNeeded({ kind: 'overview', block: 'self', mode: 'head', layer: 1, head: 0, special: 'show', mergeWords: false, cells: 512 }, LAYERS), 1);
    assert.strictEqual(lastLayerNeeded({ kind: 'overview', block: 'self', mode: 'rollout', layer: 3, head: 0, special: 'show', mergeWords: false, cells: 512 }, LAYERS), 3);
    assert.strictEqual(lastLayerNeeded({ kind: 'overview', block: 'self', mode: 'allMean', layer: 0, head: 0, special: 'show', mergeWords: false, cells: 512 }, LAYERS), LAYERS - 1);
    assert.strictEqual(lastLayerNeeded({ kind: 'thumbnails', block: 'self', flavour: 'head', special: 'show', mergeWords: false, cells: 16 }, LAYERS), LAYERS - 1);
    assert.strictEqual(lastLayerNeeded({ kind: 'rows', block: 'self', flavour: 'head', special: 'show', mergeWords: false, token: 0 }, LAYERS), LAYERS - 1);
    assert.strictEqual(lastLayerNeeded({ kind: 'tensor', block: 'self' }, LAYERS), LAYERS - 1);
  });

  it('serves a computed layer at once while a view of a pending one waits; views of one analysis in order', async () => {
    const { analysis, compute } = progressive();
    compute(1);
    const scheduler = new ViewScheduler();
    const order: string[] = [];
    const signal = new AbortController().signal;
    const pending = scheduler.run(1, analysis, matrix('head', 3), signal, async () => void order.push('layer 3'));
    const first = scheduler.run(1, analysis, matrix('head', 0), signal, async () => {
      await turn();
      order.push('layer 0, first');
    });
    const second = scheduler.run(1, analysis, matrix('layerMean', 0), signal, async () => void order.push('layer 0, second'));
    await Promise.all([first, second]);
    assert.deepStrictEqual(order, ['layer 0, first', 'layer 0, second'], 'in the order asked, not behind the pending one');
    assert.strictEqual(scheduler.size, 1);
    compute(3);
    await turn();
    assert.deepStrictEqual(order.length, 2, 'layer 3 is not computed yet');
    compute(4);
    await pending;
    assert.deepStrictEqual(order, ['layer 0, first', 'layer 0, second', 'layer 3']);
    await turn();
    assert.strictEqual(scheduler.size, 0);
  });

  it('a view cancelled while waiting for its turn answers at once; the next one still waits for the view running', async () => {
    const { analysis, compute } = progressive();
    compute(LAYERS);
    const scheduler = new ViewScheduler();
    let finish!: () => void;
    const order: string[] = [];
    const running = scheduler.run(1, analysis, matrix('head', 0), new AbortController().signal, () => new Promise<void>((resolve) => (finish = resolve)).then(() => void order.push('running')));
    const controller = new AbortController();
    const cancelled = scheduler.run(1, analysis, matrix('head', 1), controller.signal, async () => void order.push('cancelled'));
    const next = scheduler.run(1, analysis, matrix('head', 2), new AbortController().signal, async () => void order.push('next'));
    await turn();
    controller.abort();
    await assert.rejects(cancelled, /cancelled/);
    await turn();
    assert.deepStrictEqual(order, [], 'the running view has not finished: the next one waits');
    finish();
    await Promise.all([running, next]);
    assert.deepStrictEqual(order, ['running', 'next']);
  });

  it('a cancelled wait does not serve; settled() waits for the views in flight, failed ones included', async () => {
    const { analysis, compute } = progressive();
    const scheduler = new ViewScheduler();
    const controller = new AbortController();
    let served = false;
    const cancelled = scheduler.run(1, analysis, matrix('head', 2), controller.signal, async () => void (served = true));
    let answered = false;
    const other = scheduler.run(2, analysis, matrix('head', 0), new AbortController().signal, async () => void (answered = true));
    const failing = scheduler.run(3, { ...analysis, whenComputed: undefined } as KeptAnalysis, matrix('head', 0), new AbortController().signal, async () => {
      throw new Error('no such layer');
    });
    let settled = false;
    const all = scheduler.settled().then(() => (settled = true));
    controller.abort();
    await assert.rejects(cancelled, /cancelled/);
    await assert.rejects(failing, /no such layer/);
    await turn();
    assert.strictEqual(settled, false, 'the view of analysis 2 is still waiting for layer 0');
    compute(1);
    await all;
    await other;
    assert.ok(answered && settled);
    assert.strictEqual(served, false);
  });
});

describe('the head a view shows (kept by the next pass for its first view)', () => {
  it('a head or value-weighted matrix, a tile or an overview of one, on a single-stack block; nothing else', () => {
    const head = { kind: 'matrix' as const, block: 'self' as const, mode: 'head' as const, layer: 3, head: 5, special: 'show' as const, mergeWords: false };
    assert.deepStrictEqual(headShown(head), { layer: 3, head: 5 });
    assert.deepStrictEqual(headShown({ ...head, rowStart: 10, rowCount: 4 }), { layer: 3, head: 5 });
    assert.deepStrictEqual(headShown({ ...head, mode: 'valueWeighted' as const }), { layer: 3, head: 5 });
    assert.deepStrictEqual(headShown({ ...head, kind: 'overview', cells: 600 } as ViewRequest), { layer: 3, head: 5 });
    assert.strictEqual(headShown(matrix('layerMean', 3)), undefined);
    assert.strictEqual(headShown(matrix('rollout', 3)), undefined);
    assert.strictEqual(headShown({ ...head, block: 'cross' as const }), undefined);
    assert.strictEqual(headShown({ kind: 'headVectors', block: 'self', layer: 3, head: 5 }), undefined);
  });
});
