/**
 * The built-in model against the values its training script computed with PyTorch when it saved
 * the checkpoint (an independent implementation). The recorded hash catches an accidental change
 * to the shipped file.
 */
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import { checkCase, openFixture } from '../helpers/fixtures';

const REPO = path.resolve(__dirname, '../../..');
const MODEL = path.join(REPO, 'media', 'builtin-model');

describe('built-in model matches its PyTorch reference', function () {
  this.timeout(60000);
  const fixture = openFixture('builtin-reference', path.join(REPO, 'test', 'fixtures'), MODEL);
  let model: AttentionModel;
  before(async () => {
    model = await loadModel(MODEL, { name: 'built-in' });
  });
  after(async () => {
    await model?.dispose();
    fixture.close();
  });

  it('ships the checkpoint the reference was computed from', () => {
    const sha = createHash('sha256').update(fs.readFileSync(path.join(MODEL, 'model.safetensors'))).digest('hex');
    assert.strictEqual(sha, fixture.meta.model_safetensors_sha256);
  });

  it('is small enough to ship (≤ 15 MB)', () => {
    const bytes = fs.readdirSync(MODEL).reduce((sum, f) => sum + fs.statSync(path.join(MODEL, f)).size, 0);
    assert.ok(bytes <= 15 * 1000 * 1000, `${bytes} bytes`);
  });

  fixture.cases.forEach((c, i) => {
    it(`case ${i}: ${JSON.stringify(c.text).slice(0, 50)}`, () => checkCase(model, fixture, i));
  });
});
