import * as assert from 'assert';
import { attentionResultProblem, valueNormsProblem } from '../../../src/analysis/resultCheck';
import { fixtureResult } from './fixture';

describe('analysis/resultCheck', () => {
  const good = fixtureResult('bert', 0);

  it('accepts a well-formed result', () => {
    assert.strictEqual(attentionResultProblem(good), undefined);
    assert.strictEqual(valueNormsProblem(good), undefined);
  });

  it('says what is wrong with a malformed one', () => {
    assert.match(attentionResultProblem(null)!, /missing/);
    assert.match(attentionResultProblem({ ...good, tokens: [] })!, /no tokens/);
    assert.match(attentionResultProblem({ ...good, tokens: good.tokens.slice(1) })!, /9×9 per head but there are 8 tokens/);
    assert.match(attentionResultProblem({ ...good, tokens: [{ ...good.tokens[0], start: 'x' }, ...good.tokens.slice(1)] })!, /token 0 has no range/);
    assert.match(attentionResultProblem({ ...good, model: { ...good.model, name: 3 } })!, /names no model/);
    assert.match(attentionResultProblem({ ...good, attentions: { ...good.attentions, buffer: new ArrayBuffer(8) } })!, /holds 8 bytes/);
    assert.match(attentionResultProblem({ ...good, attentions: { dtype: 'float32', shape: [0, 4, 9, 9], buffer: new ArrayBuffer(0) } })!, /no layer or head/);
  });

  it('value norms that do not match the attentions are reported (value-weighted is then unavailable)', () => {
    const norms = { dtype: 'float32' as const, shape: [3, 4, 8], buffer: new ArrayBuffer(3 * 4 * 8 * 4) };
    assert.match(valueNormsProblem({ ...good, valueNorms: norms })!, /do not match attentions/);
  });
});
