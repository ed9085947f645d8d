/**
 * The engine against the reference: every fixture checkpoint in ../shared/fixtures/hf-tiny and every
 * case in it. Token ids, tokens and offsets identical; attentions within 1e-4 absolute; hidden
 * states within 1e-3 of the largest magnitude in that layer (the fixtures' stated tolerances).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AttentionModel } from '../../src/engine/model';
import { expectedRanges, fixtureNames, maxAbsDiff, openFixture } from '../helpers/fixtures';

const ATTENTION_TOLERANCE = 1e-4;
const HIDDEN_RELATIVE_TOLERANCE = 1e-3;

describe('engine matches transformers on every reference fixture', function () {
  this.timeout(120000);
  for (const name of fixtureNames()) {
    describe(name, () => {
      const fixture = openFixture(name);
      let model: AttentionModel;
      before(async () => {
        model = await AttentionModel.load(fixture.folder);
      });
      after(async () => {
        await model?.dispose();
        fixture.close();
      });
      fixture.cases.forEach((c, i) => {
        it(`case ${i}: ${JSON.stringify(c.text).slice(0, 60)}`, async () => {
          const result = await model.analyze(c.text, { textPair: c.text_pair, hiddenStates: true });
          assert.deepStrictEqual(result.tokens.map((t) => t.id), c.input_ids, 'token ids');
          assert.deepStrictEqual(result.tokens.map((t) => t.raw), c.tokens, 'tokens');
          assert.deepStrictEqual(result.tokens.map((t) => t.special), c.special_tokens_mask.map((m) => m === 1), 'special tokens');
          if (c.token_type_ids) assert.deepStrictEqual(result.tokens.map((t) => t.segment), c.token_type_ids, 'segment ids');
          const segmentOf = (k: number) => (c.token_type_ids ? c.token_type_ids[k] : 0);
          assert.deepStrictEqual(result.tokens.map((t) => [t.start, t.end]), expectedRanges(c, segmentOf), 'UTF-16 ranges');

          const attn = fixture.expected(`case${i}.attentions`);
          assert.deepStrictEqual(result.attentions.shape, attn.shape, 'attention shape');
          assert.strictEqual(result.attentions.dtype, 'float32');
          const ours = new Float32Array(result.attentions.buffer);
          const diff = maxAbsDiff(ours, attn.data);
          assert.ok(diff <= ATTENTION_TOLERANCE, `attentions differ by ${diff.toExponential(2)} (> ${ATTENTION_TOLERANCE})`);

          const hs = fixture.expected(`case${i}.hidden_states`);
          assert.ok(result.hiddenStates, 'hidden states returned');
          assert.deepStrictEqual(result.hiddenStates.shape, hs.shape, 'hidden state shape');
          const ourHidden = new Float32Array(result.hiddenStates.buffer);
          const [layers, n, width] = hs.shape;
          for (let l = 0; l < layers; l++) {
            const a = ourHidden.subarray(l * n * width, (l + 1) * n * width);
            const b = hs.data.subarray(l * n * width, (l + 1) * n * width);
            const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
            const rel = maxAbsDiff(a, b) / scale;
            assert.ok(rel <= HIDDEN_RELATIVE_TOLERANCE, `hidden state ${l} differs by ${rel.toExponential(2)} relative (> ${HIDDEN_RELATIVE_TOLERANCE})`);
          }
        });
      });
    });
  }
});

describe('config.json as transformers 5 writes it (rope_parameters, layer_types, ...)', function () {
  this.timeout(120000);
  for (const name of fixtureNames()) {
    it(`${name}: same attentions with config.saved-by-transformers.json`, async () => {
      const fixture = openFixture(name);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ai-v5-${name}-`));
      try {
        for (const file of fs.readdirSync(fixture.folder)) {
          if (file === 'config.json' || file.startsWith('expected')) continue;
          fs.symlinkSync(path.join(fixture.folder, file), path.join(dir, file));
        }
        fs.copyFileSync(path.join(fixture.folder, 'config.saved-by-transformers.json'), path.join(dir, 'config.json'));
        const model = await AttentionModel.load(dir);
        try {
          const c = fixture.cases[fixture.cases.length - 1];
          const result = await model.analyze(c.text, { textPair: c.text_pair });
          const diff = maxAbsDiff(new Float32Array(result.attentions.buffer), fixture.expected(`case${fixture.cases.length - 1}.attentions`).data);
          assert.ok(diff <= ATTENTION_TOLERANCE, `attentions differ by ${diff.toExponential(2)}`);
        } finally {
          await model.dispose();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        fixture.close();
      }
    });
  }
});
