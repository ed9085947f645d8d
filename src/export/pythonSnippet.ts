/**
 * A Python snippet that reproduces, with transformers, the attentions the panel showed: the same
 * model (the resolved Hub repo and commit, or the folder), the same text, the same tokens (cut to
 * the first N when only those were analyzed), and the view on screen computed from them.
 */
import { isAttentionMode, MODE_INFO } from '../analysis/modes';
import type { AttentionResult } from '../protocol/types';

/** A Python string literal for any text (JSON string syntax is valid Python for these escapes). */
function pythonString(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export type SnippetSource = Pick<AttentionResult, 'model' | 'text' | 'tokens' | 'truncatedFrom' | 'origin'> & Partial<Pick<AttentionResult, 'target' | 'generation' | 'probe'>>;

export interface SnippetView {
  mode: string;
  layer: number;
  head: number;
}

/** from_pretrained's arguments, built from the resolved origin (a repo id never contains '@'). */
function fromPretrainedArgs(result: SnippetSource): string {
  const origin = result.origin;
  if (origin?.kind === 'hub') return `${pythonString(origin.id)}, revision=${pythonString(origin.revision)}`;
  if (origin?.kind === 'folder') return pythonString(origin.path);
  return pythonString(result.model.source);
}

/** Lines computing `view`, the matrix the panel showed, from `attentions` [layers, heads, n, n]. */
function viewLines(view: SnippetView, numLayers: number, numHeads: number): string[] {
  if (!isAttentionMode(view.mode) || view.layer >= numLayers || view.head >= numHeads) return [];
  const { layer: L, head: H } = view;
  const what = `# The panel's view: ${MODE_INFO[view.mode].label}`;
  switch (view.mode) {
    case 'head':
      return [`${what}, layer ${L}, head ${H}.`, `view = attentions[${L}, ${H}]`];
    case 'layerMean':
      return [`${what} ${L}: the mean of its ${numHeads} heads.`, `view = attentions[${L}].mean(0)`];
    case 'allMean':
      return [`${what}: the mean over every head of every layer.`, 'view = attentions.mean((0, 1))'];
    case 'rollout':
      return [
        `${what} through layer ${L} (Abnar & Zuidema 2020): per layer 0.5·A + 0.5·I of the head mean,`,
        '# rows renormalised, multiplied from the first layer up (each product renormalised too).',
        'eye = torch.eye(attentions.shape[-1])',
        'view = None',
        `for layer in range(${L + 1}):`,
        '    factor = 0.5 * attentions[layer].mean(0) + 0.5 * eye',
        '    factor = factor / factor.sum(-1, keepdim=True)',
        '    view = factor if view is None else factor @ view',
        '    view = view / view.sum(-1, keepdim=True)',
      ];
    case 'valueWeighted':
      return [
        `${what}, layer ${L}, head ${H}: α_ij·‖f_h(x_j)‖ with rows renormalised (Kobayashi et al. 2020).`,
        '# This snippet reproduces only α = attentions[layer, head]; ‖f_h(x_j)‖ = ‖(x_j W_V^h + b_V^h) W_O^h‖ needs the',
        "# layer's input and its value and output projections, which differ per architecture.",
        `view = attentions[${L}, ${H}]  # α only`,
      ];
  }
}

/**
 * Encoder-decoders: the model builds its decoder inputs from `labels` (its own shift-right), as the
 * engine does; labels are the tokenizer's ids for the decoder text, special tokens included.
 */
function encoderDecoderSnippet(result: SnippetSource): string {
  const { model, generation } = result;
  const args = fromPretrainedArgs(result);
  // Continue and Show Attention: the decoder ran over its start token and the generated ids.
  const decoderInputs = generation
    ? [
        `decoder_ids = ${JSON.stringify([generation.decoderStartId, ...generation.newIds])}  # the start token, then what the panel generated greedily`,
        `# (the same ids as model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=${generation.requested})${generation.settings.length ? `, with generation_config.json's ${generation.settings.join(', ')}` : ''})`,
        'with torch.no_grad():',
        '    outputs = model(**inputs, decoder_input_ids=torch.tensor([decoder_ids]), output_attentions=True)',
      ]
    : [
        `target = ${pythonString(result.target ?? '')}  # the decoder text`,
        'labels = tokenizer(target, return_tensors="pt")["input_ids"]  # shifted right by the model',
        'with torch.no_grad():',
        '    outputs = model(**inputs, labels=labels, output_attentions=True)',
      ];
  return [
    '# Reproduces the attentions Attention Inspector showed (transformers, float32, eager attention).',
    'import torch',
    'from transformers import AutoTokenizer, AutoModelForSeq2SeqLM',
    '',
    `tokenizer = AutoTokenizer.from_pretrained(${args})`,
    `model = AutoModelForSeq2SeqLM.from_pretrained(${args}, attn_implementation="eager", dtype=torch.float32).eval()`,
    `text = ${pythonString(result.text)}`,
    'inputs = tokenizer(text, return_tensors="pt")',
    ...decoderInputs,
    `encoder = torch.stack(outputs.encoder_attentions)[:, 0]  # [${model.numLayers}, ${model.numHeads}, n_enc, n_enc]`,
    `decoder = torch.stack(outputs.decoder_attentions)[:, 0]  # [${model.decoder?.numLayers}, ${model.decoder?.numHeads}, n_dec, n_dec]`,
    `cross = torch.stack(outputs.cross_attentions)[:, 0]  # [${model.decoder?.numLayers}, ${model.decoder?.numHeads}, n_dec, n_enc]`,
    'print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))',
    'print(encoder.shape, decoder.shape, cross.shape)',
    '',
  ].join('\n');
}

export function pythonSnippet(result: SnippetSource, view?: SnippetView, textPair?: string): string {
  const { model, generation } = result;
  if (model.decoder) return encoderDecoderSnippet(result);
  const modelClass = generation ? 'AutoModelForCausalLM' : model.modelType === 't5' ? 'T5EncoderModel' : 'AutoModel';
  const pair = textPair !== undefined ? `, ${pythonString(textPair)}` : '';
  const args = fromPretrainedArgs(result);
  const n = result.tokens.length;
  const cut = result.truncatedFrom !== undefined
    ? [
        `# The panel analyzed the first ${n} of the text's ${result.truncatedFrom} tokens ("Analyze First ${n} Tokens"): the same cut here.`,
        `inputs = {key: value[:, :${n}] for key, value in inputs.items()}`,
      ]
    : [];
  // Continue and Show Attention: the prompt, then the ids the panel generated.
  const continued = generation
    ? [
        `new_ids = ${JSON.stringify(generation.newIds)}  # what the panel generated greedily`,
        `# (the same ids as model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=${generation.requested})${generation.settings.length ? `, with generation_config.json's ${generation.settings.join(', ')}` : ''})`,
        'inputs = {"input_ids": torch.cat([inputs["input_ids"], torch.tensor([new_ids])], dim=1)}',
      ]
    : [];
  const shown = view ? viewLines(view, model.numLayers, model.numHeads) : [];
  return [
    '# Reproduces the attentions Attention Inspector showed (transformers, float32, eager attention).',
    'import torch',
    `from transformers import AutoTokenizer, ${modelClass}`,
    '',
    `tokenizer = AutoTokenizer.from_pretrained(${args})`,
    `model = ${modelClass}.from_pretrained(${args}, attn_implementation="eager", dtype=torch.float32).eval()`,
    ...(result.probe
      ? [
          `# The repeated-random-tokens probe (${result.probe.length} tokens twice, seed ${result.probe.seed}): the ids the panel analyzed, not a text.`,
          `input_ids = torch.tensor([[${result.tokens.map((t) => t.id).join(', ')}]])`,
          'inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}',
        ]
      : [`text = ${pythonString(result.text)}`, `inputs = tokenizer(text${pair}, return_tensors="pt")`, ...cut, ...continued]),
    'with torch.no_grad():',
    '    outputs = model(**inputs, output_attentions=True)',
    `attentions = torch.stack(outputs.attentions)[:, 0]  # [layers, heads, n, n] = [${model.numLayers}, ${model.numHeads}, ${n}, ${n}]`,
    'print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))',
    'print(attentions.shape)',
    ...(shown.length ? ['', ...shown, '# (Hidden special tokens and merged words, if the panel shows them so, are display options not applied here.)', 'print(view)'] : []),
    '',
  ].join('\n');
}
