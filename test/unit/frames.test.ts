/** The engine process's reply frames survive any split of the byte stream (property-based). */
import * as assert from 'assert';
import fc from 'fast-check';
import { encodeFrame, FrameReader } from '../../src/worker/frames';

const message = fc.record({
  type: fc.constantFrom('result', 'progress', 'error'),
  id: fc.nat(),
  text: fc.string({ unit: 'grapheme', maxLength: 40 }),
  tensors: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
  nested: fc.option(fc.record({ deep: fc.uint8Array({ maxLength: 50 }) }), { nil: undefined }),
});

describe('engine reply frames', () => {
  it('messages with any ArrayBuffers arrive intact however the pipe splits the bytes', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }), (messages, cuts) => {
        const sent = messages.map((m) => ({ ...m, tensors: m.tensors.map((t) => t.slice().buffer), nested: m.nested && { deep: m.nested.deep.slice().buffer } }));
        const bytes = Buffer.concat(sent.flatMap((m) => encodeFrame(m)));
        const received: any[] = [];
        const reader = new FrameReader((m) => received.push(m));
        let offset = 0;
        for (let i = 0; offset < bytes.length; i++) {
          const size = cuts[i % cuts.length];
          reader.push(bytes.subarray(offset, offset + size));
          offset += size;
        }
        assert.strictEqual(received.length, messages.length);
        received.forEach((got, i) => {
          const want = messages[i];
          assert.strictEqual(got.text, want.text);
          assert.strictEqual(got.id, want.id);
          assert.deepStrictEqual(got.tensors.map((b: ArrayBuffer) => { assert.ok(b instanceof ArrayBuffer); return [...new Uint8Array(b)]; }), want.tensors.map((t) => [...t]));
          if (want.nested) assert.deepStrictEqual([...new Uint8Array(got.nested.deep)], [...want.nested.deep]);
        });
      }),
      { seed: 1414, numRuns: 200 },
    );
  });
});
