import * as assert from 'assert';
import { pythonSnippet, type SnippetSource } from '../../src/export/pythonSnippet';
import { modelOrigin, resolveModel } from '../../src/hub';
import type { ModelSummary, TokenInfo } from '../../src/protocol/types';
import { FakeHub, fixtureFiles } from '../hub/fakeHub';
import { hubOptions, makeTempDir, removeDir } from '../hub/helpers';

const summary = (modelType = 'gpt2'): ModelSummary => ({
  name: 'm', source: 'unused', modelType, numLayers: 12, numHeads: 12, numKeyValueHeads: 12, headDim: 64, hiddenSize: 768, maxTokens: 1024, causal: true,
});
const tokens = (n: number): TokenInfo[] => Array.from({ length: n }, (_, i) => ({ id: i, raw: 'a', display: 'a', start: i, end: i + 1, special: false, segment: 0 }));
const source = (extra: Partial<SnippetSource> = {}): SnippetSource => ({ model: summary(), text: 'Hello', tokens: tokens(3), origin: { kind: 'folder', path: '/m' }, ...extra });
const SHA = '607a30d783dfa663caf39e06633721c8d4cfcd7e';

describe('Copy as Python', () => {
  it('passes a Hub revision as from_pretrained\'s revision argument', () => {
    const code = pythonSnippet(source({ origin: { kind: 'hub', id: 'openai-community/gpt2', revision: SHA } }));
    assert.match(code, /AutoTokenizer\.from_pretrained\("openai-community\/gpt2", revision="607a30d783dfa663caf39e06633721c8d4cfcd7e"\)/);
    assert.match(code, /AutoModel\.from_pretrained\("openai-community\/gpt2", revision="607a30d783dfa663caf39e06633721c8d4cfcd7e", attn_implementation="eager"/);
  });

  describe('a one-part Hub id (gpt2@<commit>), from the model source to the snippet', () => {
    const hub = new FakeHub();
    let cache: string;
    before(async () => {
      hub.addRepo('gpt2', { main: fixtureFiles('gpt2') });
      await hub.start();
      cache = makeTempDir('snippet');
    });
    after(async () => {
      await hub.stop();
      removeDir(cache);
    });

    it('gives from_pretrained("gpt2", revision=<commit>)', async () => {
      const commit = hub.commitOf('gpt2');
      const resolved = await resolveModel(`gpt2@${commit}`, hubOptions(hub.url, cache));
      const code = pythonSnippet(source({ origin: modelOrigin(resolved) }));
      assert.match(code, new RegExp(`AutoTokenizer\\.from_pretrained\\("gpt2", revision="${commit}"\\)`));
      assert.ok(!code.includes('"gpt2@'), 'the spec string is not passed as a repo id');
    });
  });

  it('gives the probe\'s token ids, not a text to tokenize', () => {
    const code = pythonSnippet(source({ text: 'aaa', tokens: tokens(5), probe: { length: 2, seed: 9, prefix: 1, suffix: 0, vocabularyDrawn: 100 } }));
    assert.match(code, /input_ids = torch\.tensor\(\[\[0, 1, 2, 3, 4\]\]\)/);
    assert.match(code, /seed 9/);
    assert.doesNotMatch(code, /tokenizer\(text/);
  });

  it('loads a local folder by path and uses the T5 encoder class for t5', () => {
    const code = pythonSnippet(source({ model: summary('t5'), origin: { kind: 'folder', path: '/home/me/models/t5-small' } }));
    assert.match(code, /T5EncoderModel\.from_pretrained\("\/home\/me\/models\/t5-small", attn_implementation="eager"/);
  });

  it('after "Analyze First N Tokens", reproduces exactly the N tokens shown', () => {
    const code = pythonSnippet(source({ tokens: tokens(1024), truncatedFrom: 4130 }));
    assert.match(code, /inputs = \{key: value\[:, :1024\] for key, value in inputs\.items\(\)\}/);
    assert.ok(code.indexOf('value[:, :1024]') < code.indexOf('model(**inputs'), 'cut before the model runs');
    assert.match(code, /first 1024 of the text's 4130 tokens/);
    assert.ok(!pythonSnippet(source()).includes('value[:, :'), 'no cut when the whole text was analyzed');
  });

  it('says which computation each view is and computes it from the attentions', () => {
    const view = (mode: string, layer = 2, head = 5) => pythonSnippet(source(), { mode, layer, head });
    assert.match(view('head'), /layer 2, head 5\.\nview = attentions\[2, 5\]/);
    assert.match(view('layerMean'), /view = attentions\[2\]\.mean\(0\)/);
    assert.match(view('allMean'), /view = attentions\.mean\(\(0, 1\)\)/);
    const rollout = view('rollout');
    assert.match(rollout, /Rollout through layer 2 \(Abnar & Zuidema 2020\)/);
    assert.match(rollout, /for layer in range\(3\):\n {4}factor = 0\.5 \* attentions\[layer\]\.mean\(0\) \+ 0\.5 \* eye/);
    const weighted = view('valueWeighted');
    assert.match(weighted, /reproduces only α = attentions\[layer, head\]/);
    assert.match(weighted, /‖f_h\(x_j\)‖/);
    assert.ok(!view('bogus').includes('view ='), 'an unknown mode adds nothing');
    assert.ok(!view('head', 12, 0).includes('view ='), 'an out-of-range layer adds nothing');
  });

  it('writes any text as a valid Python string literal', () => {
    const text = 'a "quote" \\ back\nnew line \u2028 and 🎂';
    const code = pythonSnippet(source({ text }));
    const literal = /^text = (.*)$/m.exec(code)![1];
    // JSON string syntax with these escapes is valid Python; parsing it back gives the text.
    assert.strictEqual(JSON.parse(literal), text);
    assert.ok(!literal.includes('\u2028'), 'line separators escaped');
  });

  it('an encoder-decoder: AutoModelForSeq2SeqLM with labels from the decoder text, and its three attention stacks', () => {
    const model = { ...summary('bart'), decoder: { numLayers: 6, numHeads: 12, headDim: 64, maxTokens: 1024 } };
    const code = pythonSnippet({ ...source({ model, origin: { kind: 'hub', id: 'facebook/bart-base', revision: SHA } }), target: 'Estou "fazendo" um bolo' });
    assert.match(code, new RegExp(`AutoModelForSeq2SeqLM\\.from_pretrained\\("facebook/bart-base", revision="${SHA}", attn_implementation="eager"`));
    assert.strictEqual(JSON.parse(/^target = (.*?)  #/m.exec(code)![1]), 'Estou "fazendo" um bolo');
    assert.match(code, /model\(\*\*inputs, labels=labels, output_attentions=True\)/);
    assert.match(code, /cross = torch\.stack\(outputs\.cross_attentions\)\[:, 0\]  # \[6, 12, n_dec, n_enc\]/);
  });

  it('after Continue and Show Attention: the causal LM over the prompt + the generated ids, with the generate() call that gives them', () => {
    const generation = { method: 'greedy' as const, newIds: [5, 7, 9], text: 'x', requested: 3, stoppedBy: 'count' as const, settings: ['no_repeat_ngram_size 3'] };
    const code = pythonSnippet(source({ generation }));
    assert.match(code, /AutoModelForCausalLM\.from_pretrained\("\/m", attn_implementation="eager"/);
    assert.match(code, /^new_ids = \[5,7,9\]  #/m);
    assert.match(code, /model\.generate\(\*\*inputs, do_sample=False, num_beams=1, max_new_tokens=3\), with generation_config\.json's no_repeat_ngram_size 3/);
    assert.match(code, /torch\.cat\(\[inputs\["input_ids"\], torch\.tensor\(\[new_ids\]\)\], dim=1\)/);
    const model = { ...summary('marian'), decoder: { numLayers: 2, numHeads: 4, headDim: 16, maxTokens: 512 } };
    const seq2seq = pythonSnippet({ ...source({ model }), generation: { ...generation, settings: [], decoderStartId: 306 } });
    assert.match(seq2seq, /^decoder_ids = \[306,5,7,9\]  #/m);
    assert.match(seq2seq, /model\(\*\*inputs, decoder_input_ids=torch\.tensor\(\[decoder_ids\]\), output_attentions=True\)/);
    assert.doesNotMatch(seq2seq, /labels/);
  });
});
