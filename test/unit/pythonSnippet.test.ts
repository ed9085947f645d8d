import * as assert from 'assert';
import { pythonSnippet } from '../../src/export/pythonSnippet';
import type { ModelSummary } from '../../src/protocol/types';

const summary = (source: string, modelType = 'gpt2'): ModelSummary => ({
  name: 'm', source, modelType, numLayers: 12, numHeads: 12, numKeyValueHeads: 12, headDim: 64, hiddenSize: 768, maxTokens: 1024, causal: true,
});

describe('Copy as Python', () => {
  it('passes a Hub revision as from_pretrained\'s revision argument', () => {
    const code = pythonSnippet(summary('openai-community/gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e'), 'Hello');
    assert.match(code, /AutoTokenizer\.from_pretrained\("openai-community\/gpt2", revision="607a30d783dfa663caf39e06633721c8d4cfcd7e"\)/);
    assert.match(code, /AutoModel\.from_pretrained\("openai-community\/gpt2", revision="607a30d783dfa663caf39e06633721c8d4cfcd7e", attn_implementation="eager"/);
  });

  it('loads a local folder by path and uses the T5 encoder class for t5', () => {
    const code = pythonSnippet(summary('/home/me/models/t5-small', 't5'), 'Hi');
    assert.match(code, /T5EncoderModel\.from_pretrained\("\/home\/me\/models\/t5-small", attn_implementation="eager"/);
  });

  it('writes any text as a valid Python string literal', () => {
    const text = 'a "quote" \\ back\nnew line \u2028 and 🎂';
    const code = pythonSnippet(summary('/m'), text);
    const literal = /^text = (.*)$/m.exec(code)![1];
    // JSON string syntax with these escapes is valid Python; parsing it back gives the text.
    assert.strictEqual(JSON.parse(literal), text);
    assert.ok(!literal.includes('\u2028'), 'line separators escaped');
  });
  it('an encoder-decoder: AutoModelForSeq2SeqLM with labels from the decoder text, and its three attention stacks', () => {
    const model = { ...summary('facebook/bart-base@main', 'bart'), decoder: { numLayers: 6, numHeads: 12, headDim: 64, maxTokens: 1024 } };
    const code = pythonSnippet(model, 'I am making a cake', undefined, 'Estou "fazendo" um bolo');
    assert.match(code, /AutoModelForSeq2SeqLM\.from_pretrained\("facebook\/bart-base", revision="main", attn_implementation="eager"/);
    assert.strictEqual(JSON.parse(/^target = (.*?)  #/m.exec(code)![1]), 'Estou "fazendo" um bolo');
    assert.match(code, /model\(\*\*inputs, labels=labels, output_attentions=True\)/);
    assert.match(code, /cross = torch\.stack\(outputs\.cross_attentions\)\[:, 0\]  # \[6, 12, n_dec, n_enc\]/);
  });
});
