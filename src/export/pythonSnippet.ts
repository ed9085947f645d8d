/** A Python snippet that reproduces the attentions with transformers for the same model and text. */
import type { ModelSummary } from '../protocol/types';

/** A Python string literal for any text (JSON string syntax is valid Python for these escapes). */
function pythonString(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function pythonSnippet(model: ModelSummary, text: string, textPair?: string): string {
  const modelClass = model.modelType === 't5' ? 'T5EncoderModel' : 'AutoModel';
  const pair = textPair !== undefined ? `, ${pythonString(textPair)}` : '';
  return [
    '# Reproduces the attentions Attention Inspector showed (transformers, float32, eager attention).',
    'import torch',
    `from transformers import AutoTokenizer, ${modelClass}`,
    '',
    `model_id = ${pythonString(model.source)}`,
    'tokenizer = AutoTokenizer.from_pretrained(model_id)',
    `model = ${modelClass}.from_pretrained(model_id, attn_implementation="eager", dtype=torch.float32).eval()`,
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
