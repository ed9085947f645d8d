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

export function pythonSnippet(model: ModelSummary, text: string, textPair?: string): string {
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
