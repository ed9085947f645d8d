/** The Select Model picker's entries (built without VS Code). */
import { strict as assert } from 'node:assert';
import { buildModelChoices, SUGGESTED_MODELS, type CachedModel, type ModelChoice } from '../../src/hub';

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

const cached: CachedModel[] = [
  {
    id: 'openai-community/gpt2',
    sizeOnDisk: 548e6,
    lastModified: 2,
    revisions: [
      { commit: SHA_A, refs: ['main'], folder: '/c/a', usable: true },
      { commit: SHA_B, refs: [], folder: '/c/b', usable: true },
    ],
  },
  { id: 'someone/pickled', sizeOnDisk: 1e6, lastModified: 1, revisions: [{ commit: SHA_A, refs: ['main'], folder: '/c/p', usable: false, problem: 'pickle', problemCode: 'pickle-only' }] },
];

function specs(choices: ModelChoice[], section: ModelChoice['section']): string[] {
  return choices.filter((c) => c.section === section).map((c) => (c.action.kind === 'spec' ? c.action.spec : c.action.kind));
}

describe('model picker entries', () => {
  it('lists built-in, usable cached revisions with sizes, recent, suggestions not cached, then the actions', () => {
    const choices = buildModelChoices({ current: 'openai-community/gpt2@main', cached, recent: ['/models/mine', 'openai-community/gpt2', 'not a valid spec!', ''], suggestions: SUGGESTED_MODELS });
    assert.deepEqual(specs(choices, 'built-in'), ['']);
    assert.deepEqual(specs(choices, 'cache'), ['openai-community/gpt2', `openai-community/gpt2@${SHA_B}`]);
    assert.deepEqual(specs(choices, 'recent'), ['/models/mine']);
    assert.ok(!specs(choices, 'suggested').includes('openai-community/gpt2'), 'cached models are not suggested again');
    assert.equal(specs(choices, 'suggested').length, SUGGESTED_MODELS.length - 1);
    assert.deepEqual(specs(choices, 'actions'), ['enter-id', 'choose-folder']);

    const gpt2 = choices.find((c) => c.section === 'cache')!;
    assert.equal(gpt2.current, true, '@main names the same model as the bare id');
    assert.equal(gpt2.description, 'current · 548 MB on disk');
    assert.equal(choices.filter((c) => c.current).length, 1);
    const llama = choices.find((c) => c.label === 'meta-llama/Llama-3.2-1B')!;
    assert.equal(llama.description, '≈ 2.47 GB download · gated');
    assert.equal(choices[0].detail, '4-layer Llama, 5M parameters, trained by this project on English prose and code: a tiny model for exploring attention patterns offline, not a capable language model');
  });

  it('marks the built-in model current for an empty setting and offers a current model found nowhere else', () => {
    assert.equal(buildModelChoices({ current: '', cached: [], recent: [], suggestions: [] })[0].current, true);
    const choices = buildModelChoices({ current: 'org/fresh@v2', cached: [], recent: ['org/older'], suggestions: [] });
    assert.deepEqual(specs(choices, 'recent'), ['org/fresh@v2', 'org/older']);
    assert.equal(choices.find((c) => c.current)?.label, 'org/fresh@v2');
  });
});
