/** A Python snippet that reproduces the attentions with transformers for the same model and text. */
import type { ModelSummary } from '../protocol/types';

/** A Python string literal for any text (JSON string syntax is valid Python for these escapes). */
function pythonString(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * `source` is a folder path or `owner/name@revision` (what the engine loaded); from_pretrained takes
 * the revision as its own argument.
 */
function fromPretrainedArgs(source: string): string {
  const hub = /^([\w.-]+\/[\w.-]+)@(.+)$/.exec(source);
  return hub ? `${pythonString(hub[1])}, revision=${pythonString(hub[2])}` : pythonString(source);
}

/**
 * Encoder-decoders: the model builds its decoder inputs from `labels` (its own shift-right), as the
 * engine does; labels are the tokenizer's ids for the decoder text, special tokens included.
 */
function encoderDecoderSnippet(model: ModelSummary, text: string, target: string): string {
  const args = fromPretrainedArgs(model.source);
  return [
    '# Reproduces the attentions Attention Inspector showed (transformers, float32, eager attention).',
    'import torch',
    'from transformers import AutoTokenizer, AutoModelForSeq2SeqLM',
    '',
    `tokenizer = AutoTokenizer.from_pretrained(${args})`,
    `model = AutoModelForSeq2SeqLM.from_pretrained(${args}, attn_implementation="eager", dtype=torch.float32).eval()`,
    `text = ${pythonString(text)}`,
    `target = ${pythonString(target)}  # the decoder text`,
    'inputs = tokenizer(text, return_tensors="pt")',
    'labels = tokenizer(target, return_tensors="pt")["input_ids"]  # shifted right by the model',
    'with torch.no_grad():',
    '    outputs = model(**inputs, labels=labels, output_attentions=True)',
    `encoder = torch.stack(outputs.encoder_attentions)[:, 0]  # [${model.numLayers}, ${model.numHeads}, n_enc, n_enc]`,
    `decoder = torch.stack(outputs.decoder_attentions)[:, 0]  # [${model.decoder?.numLayers}, ${model.decoder?.numHeads}, n_dec, n_dec]`,
    `cross = torch.stack(outputs.cross_attentions)[:, 0]  # [${model.decoder?.numLayers}, ${model.decoder?.numHeads}, n_dec, n_enc]`,
    'print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))',
    'print(encoder.shape, decoder.shape, cross.shape)',
    '',
  ].join('\n');
}

export function pythonSnippet(model: ModelSummary, text: string, textPair?: string, target?: string): string {
  if (model.decoder) return encoderDecoderSnippet(model, text, target ?? '');
  const modelClass = model.modelType === 't5' ? 'T5EncoderModel' : 'AutoModel';
  const pair = textPair !== undefined ? `, ${pythonString(textPair)}` : '';
  const args = fromPretrainedArgs(model.source);
  return [
    '# Reproduces the attentions Attention Inspector showed (transformers, float32, eager attention).',
    'import torch',
    `from transformers import AutoTokenizer, ${modelClass}`,
    '',
    `tokenizer = AutoTokenizer.from_pretrained(${args})`,
    `model = ${modelClass}.from_pretrained(${args}, attn_implementation="eager", dtype=torch.float32).eval()`,
    `text = ${pythonString(text)}`,
    `inputs = tokenizer(text${pair}, return_tensors="pt")`,
    'with torch.no_grad():',
    '    outputs = model(**inputs, output_attentions=True)',
    `attentions = torch.stack(outputs.attentions)[:, 0]  # [layers, heads, n, n] = [${model.numLayers}, ${model.numHeads}, n, n]`,
    'print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))',
    'print(attentions.shape)',
    '',
  ].join('\n');
}
