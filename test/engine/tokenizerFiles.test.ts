/**
 * tokenizer.json files as third-party checkpoints ship them: with padding and truncation settings
 * that transformers switches off unless asked (set_truncation_and_padding). The engine must give
 * the reference result regardless.
 */
import * as assert from 'assert';
import * as path from 'path';
import { Tokenizer } from 'tokenizers';
import { loadModel } from '../../src/models';
import { checkCase, openFixture } from '../helpers/fixtures';
import { editJson, TempFolders } from '../helpers/modelFolders';

const PAD_TO = 130;
const TRUNCATE_TO = 8;

/** A copy of `name` whose tokenizer.json pads every input to 130 tokens and truncates to 8. */
function withPaddingAndTruncation(temp: TempFolders, name: string, padToken: string, padId: number): string {
  const dir = temp.copy(name);
  editJson(dir, 'tokenizer.json', (t) => {
    t.padding = { strategy: { Fixed: PAD_TO }, direction: 'Right', pad_to_multiple_of: null, pad_id: padId, pad_type_id: 0, pad_token: padToken };
    t.truncation = { direction: 'Right', max_length: TRUNCATE_TO, strategy: 'LongestFirst', stride: 0 };
  });
  return dir;
}

describe('tokenizer.json with padding and truncation', function () {
  this.timeout(60000);
  const temp = new TempFolders();
  after(() => temp.removeAll());

  for (const [name, padToken, padId] of [['gpt2', '<|endoftext|>', 0], ['bert', '[PAD]', 0], ['llama', '<s>', 1]] as const) {
    it(`${name}: neither pads nor truncates, and matches transformers on every case`, async () => {
      const dir = withPaddingAndTruncation(temp, name, padToken, padId);
      // The file really asks for both: the library alone pads the first case to 130 tokens.
      const fixture = openFixture(name);
      try {
        const raw = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
        const rawIds = (await raw.encode(fixture.cases[0].text, null, { addSpecialTokens: true })).getIds();
        assert.strictEqual(rawIds.length, PAD_TO, 'the test tokenizer pads');
        const model = await loadModel(dir);
        try {
          for (let i = 0; i < fixture.cases.length; i++) await checkCase(model, { ...fixture, folder: dir }, i);
          // Longer than the file's truncation: every token is kept.
          assert.ok(fixture.cases.some((c) => c.input_ids.length > TRUNCATE_TO));
        } finally {
          await model.dispose();
        }
      } finally {
        fixture.close();
      }
    });
  }
});
