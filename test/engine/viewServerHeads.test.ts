/**
 * A head view asks the engine for that head only when its layer is larger than the view server's
 * layer cache (a 32-head layer at 4,096 tokens is 2 GB of scores to show 67 MB), and for the whole
 * layer otherwise (the next head of the layer is then at hand). Checked on the llama fixture's kept
 * analysis against transformers' attentions, with the engine's calls recorded.
 */
import * as assert from 'assert';
import type { KeptAnalysis } from '../../src/protocol/kept';
import { ViewServer } from '../../src/analysis/viewServer';
import type { ViewRequest } from '../../src/protocol/views';
import { loadModel } from '../../src/models';
import { ATTENTION_TOLERANCE, maxAbsDiff, openFixture } from '../helpers/fixtures';

const headRequest = (layer: number, head: number): ViewRequest => ({ kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false });

describe('view server: one head of a large layer', function () {
  this.timeout(60000);

  it('computes only the head asked for when the layer exceeds the cache, the whole layer otherwise; both equal the reference', async () => {
    const fixture = openFixture('llama');
    const model = await loadModel(fixture.folder);
    try {
      const c = fixture.cases[0];
      const kept = await model.analyzeKept(c.text);
      const calls: ({ from: number; to: number } | undefined)[] = [];
      const recording: KeptAnalysis = new Proxy(kept, {
        get(target, key, receiver) {
          if (key === 'attention') {
            return (block: 'self', layer: number, signal?: AbortSignal, heads?: { from: number; to: number }) => {
              calls.push(heads);
              return target.attention(block, layer, signal, heads);
            };
          }
          const value = Reflect.get(target, key, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const { numHeads } = model.summary;
      const n = kept.tokens.length;
      const reference = fixture.expected('case0.attentions').data;
      const expectHead = async (server: ViewServer, layer: number, head: number) => {
        const reply = await server.serve(headRequest(layer, head));
        assert.ok(reply.kind === 'matrix' && reply.rowCount === n);
        const start = (layer * numHeads + head) * n * n;
        const diff = maxAbsDiff(new Float32Array(reply.data), reference.subarray(start, start + n * n));
        assert.ok(diff <= ATTENTION_TOLERANCE, `layer ${layer} head ${head}: ${diff}`);
      };
      // A cache smaller than one layer: the head alone, each time.
      const small = new ViewServer(recording, { layerCacheBytes: 4 * n * n });
      await expectHead(small, 1, 2);
      await expectHead(small, 1, 3);
      assert.deepStrictEqual(calls, [{ from: 2, to: 3 }, { from: 3, to: 4 }]);
      // The default cache holds this layer: computed whole once, the next head from the cache.
      calls.length = 0;
      const roomy = new ViewServer(recording);
      await expectHead(roomy, 1, 2);
      await expectHead(roomy, 1, 3);
      assert.deepStrictEqual(calls, [undefined]);
      kept.dispose();
    } finally {
      await model.dispose();
      fixture.close();
    }
  });
});
