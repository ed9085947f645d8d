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
import { ATTENTION_TOLERANCE, checkCase, fixtureNames, maxAbsDiff, openFixture } from '../helpers/fixtures';

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
        it(`case ${i}: ${JSON.stringify(c.text).slice(0, 60)}`, () => checkCase(model, fixture, i));
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
          // Copies: the engine reads no link that leads outside the model folder.
          fs.copyFileSync(path.join(fixture.folder, file), path.join(dir, file));
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
