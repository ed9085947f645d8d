/**
 * The runner for encoder-decoders (T5, BART, Marian, mBART): two stacks of onnxruntime sessions.
 * The encoder runs over the text; its output (after its final norm) is fed to every decoder layer
 * as `encoder_output`, the key/value source of the cross sites, while the decoder runs over the
 * decoder text shifted right as the model shifts it. The result has three named blocks: encoder
 * self `[L_enc, H, n_enc, n_enc]`, decoder self `[L_dec, H, n_dec, n_dec]` and cross
 * `[L_dec, H, n_dec, n_enc]`. Kept apart from the single-stack runner in model.ts so that each can
 * change (weight loading, streaming) without the other; tensors stay opaque here, as there.
 */
import * as ort from 'onnxruntime-node';
import type { AnalyzeOptions, AttentionBlock, AttentionBlockKind, AttentionResult, HeadVectors, ModelSummary, TensorData, TokenInfo } from '../protocol/types';
import { encodeHalfArray } from '../protocol/float16';
import { ENCODER_OUTPUT, type Architecture, type AttentionSite, type DecoderLayerOutputs, type DecoderStack, type EncoderDecoderArchitecture, type LayerOutputs, type PositionInput } from './architecture';
import { EngineError } from './errors';
import { GraphBuilder } from './onnx/graph';
import { Nn } from './onnx/layers';
import type { TextTokenizer } from './tokenizer';

/** Limits shared with the single-stack runner (model.ts passes them, to keep one definition). */
export interface RunnerLimits {
  chunkBytes: number;
  maxLayersPerChunk: number;
  float16ThresholdBytes: number;
  attentionBudgetBytes: number;
  sessionOptions: (externalFolder: string | undefined) => ort.InferenceSession.SessionOptions;
}

type ProgressFn = (message: string, fraction?: number) => void;

interface StackChunk {
  session: ort.InferenceSession;
  layers: number[];
  inputs: PositionInput[];
}

type StackName = 'encoder' | 'decoder';

interface Stack {
  name: StackName;
  arch: Architecture | DecoderStack;
  chunks: StackChunk[];
  cross: boolean;
}

/** One stack's run over one text: per-layer values and what headVectors needs to rerun a chunk. */
interface StackRun {
  n: number;
  probs: Float32Array[];
  valueNorms: Float32Array[];
  crossProbs: Float32Array[];
  crossNorms: Float32Array[];
  /** hidden_states[0..L] as transformers returns them (the last after the final norm), when asked for. */
  hiddenStates?: Float32Array[];
  /** The stack's output: after the final norm where the stack has one. */
  output: Float32Array;
  chunkInputs: Float32Array[];
  positions: Map<PositionInput, { data: Float32Array; dims: number[] }>;
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'The analysis was cancelled.');
}

/** Builds one stack's layers into sessions, a few layers per session. */
async function buildStack(name: StackName, arch: Architecture | DecoderStack, cross: boolean, limits: RunnerLimits, sessions: ort.InferenceSession[], onProgress?: ProgressFn, signal?: AbortSignal): Promise<Stack> {
  const { numLayers, numHeads, hiddenSize, headDim } = arch.summary;
  const perChunk = Math.max(1, Math.min(limits.maxLayersPerChunk, Math.floor(limits.chunkBytes / Math.max(1, arch.layerBytes))));
  const chunks: StackChunk[] = [];
  for (let first = 0; first < numLayers; first += perChunk) {
    onProgress?.(`Building ${name} layers ${first + 1}–${Math.min(numLayers, first + perChunk)} of ${numLayers}`);
    throwIfCancelled(signal);
    const g = new GraphBuilder();
    const nn = new Nn(g);
    const declared = new Map<string, PositionInput>();
    const use = (input: PositionInput) => {
      const known = declared.get(input.name);
      if (known && known !== input && input.name !== ENCODER_OUTPUT) throw new Error(`two position inputs are called ${input.name}`);
      if (!known) {
        if (input.name !== ENCODER_OUTPUT && input.dims.includes('m')) throw new Error(`${input.name}: only the encoder output may have the encoder axis`);
        g.input(input.name, [...input.dims]);
        declared.set(input.name, input);
      }
      return input.name;
    };
    let hidden = g.input('hidden', ['n', hiddenSize]);
    const layers: number[] = [];
    for (let layer = first; layer < Math.min(numLayers, first + perChunk); layer++) {
      const out = arch.buildLayer(nn, layer, hidden, use);
      const outputs = (prefix: string, values: Omit<LayerOutputs, 'hidden'>, keys: 'n' | 'm') => {
        g.output(`${prefix}probs_${layer}`, values.probs, [numHeads, 'n', keys]);
        g.output(`${prefix}logits_${layer}`, values.logits, [numHeads, 'n', keys]);
        g.output(`${prefix}value_norms_${layer}`, values.valueNorms, [numHeads, keys]);
        g.output(`${prefix}q_${layer}`, values.q, [numHeads, 'n', headDim]);
        g.output(`${prefix}k_${layer}`, values.k, [numHeads, keys, headDim]);
        g.output(`${prefix}v_${layer}`, values.v, [numHeads, keys, headDim]);
      };
      const layerOutput = g.output(`hidden_${layer}`, out.hidden, ['n', hiddenSize]);
      outputs('', out, 'n');
      if (cross) {
        if (!('cross' in out)) throw new Error(`decoder layer ${layer} has no cross-attention outputs`);
        outputs('cross_', (out as DecoderLayerOutputs).cross, 'm');
      }
      layers.push(layer);
      hidden = layerOutput;
    }
    if (layers[layers.length - 1] === numLayers - 1 && arch.buildFinal) g.output('final', arch.buildFinal(nn, hidden), ['n', hiddenSize]);
    // Weights stay in the checkpoint's files: onnxruntime reads them as external data.
    const built = g.build(`${arch.summary.modelType}_${name}_${first}`);
    const session = await ort.InferenceSession.create(built.bytes, limits.sessionOptions(built.externalFolder));
    sessions.push(session);
    chunks.push({ session, layers, inputs: [...declared.values()] });
  }
  return { name, arch, chunks, cross };
}

function feeds(stack: Stack, chunk: StackChunk, hidden: Float32Array, n: number, positions: StackRun['positions']): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [n, stack.arch.summary.hiddenSize]) };
  for (const input of chunk.inputs) {
    const value = positions.get(input);
    if (!value) throw new Error(`no position input ${input.name}`);
    out[input.name] = new ort.Tensor('float32', value.data, value.dims);
  }
  return out;
}

/** Runs a stack over `n` tokens; `encoder` (the encoder's output, `m` rows) feeds the cross sites. */
async function runStack(stack: Stack, embedded: Float32Array, n: number, encoder: { output: Float32Array; m: number } | undefined, wantHidden: boolean, signal?: AbortSignal, onProgress?: ProgressFn): Promise<StackRun> {
  const { numLayers, hiddenSize } = stack.arch.summary;
  const m = encoder?.m ?? 0;
  const positions: StackRun['positions'] = new Map();
  for (const input of new Set(stack.chunks.flatMap((ch) => ch.inputs))) {
    if (input.name === ENCODER_OUTPUT) {
      if (!encoder) throw new Error('the encoder output is missing');
      positions.set(input, { data: encoder.output, dims: [m, hiddenSize] });
      continue;
    }
    positions.set(input, { data: input.compute(n), dims: input.dims.map((d) => (d === 'n' ? n : d === 'm' ? m : d)) });
  }
  const run: StackRun = { n, probs: [], valueNorms: [], crossProbs: [], crossNorms: [], hiddenStates: wantHidden ? [embedded] : undefined, output: embedded, chunkInputs: [], positions };
  let hidden = embedded;
  for (const chunk of stack.chunks) {
    const last = chunk.layers[chunk.layers.length - 1];
    onProgress?.(`${stack.name === 'encoder' ? 'Encoder' : 'Decoder'} layers ${chunk.layers[0] + 1}–${last + 1} of ${numLayers}`);
    throwIfCancelled(signal);
    run.chunkInputs.push(hidden);
    const fetches = [`hidden_${last}`];
    for (const l of chunk.layers) {
      fetches.push(`probs_${l}`, `value_norms_${l}`);
      if (stack.cross) fetches.push(`cross_probs_${l}`, `cross_value_norms_${l}`);
      if (wantHidden) fetches.push(`hidden_${l}`);
    }
    const hasFinal = last === numLayers - 1 && stack.arch.buildFinal !== undefined;
    if (hasFinal) fetches.push('final');
    const out = await chunk.session.run(feeds(stack, chunk, hidden, n, positions), [...new Set(fetches)]);
    const copy = (name: string) => new Float32Array(out[name].data as Float32Array);
    for (const l of chunk.layers) {
      run.probs.push(copy(`probs_${l}`));
      run.valueNorms.push(copy(`value_norms_${l}`));
      if (stack.cross) {
        run.crossProbs.push(copy(`cross_probs_${l}`));
        run.crossNorms.push(copy(`cross_value_norms_${l}`));
      }
      if (run.hiddenStates) run.hiddenStates.push(copy(l === numLayers - 1 && hasFinal ? 'final' : `hidden_${l}`));
    }
    hidden = copy(`hidden_${last}`);
    if (hasFinal) run.output = copy('final');
    else if (last === numLayers - 1) run.output = hidden;
    Object.values(out).forEach((t) => t.dispose?.());
  }
  return run;
}

/** Concatenates per-layer arrays into one tensor, as float16 when `half`. */
export function stacked(parts: Float32Array[], shape: number[], half: boolean): TensorData {
  const size = parts.reduce((s, p) => s + p.length, 0);
  const data = half ? new Uint16Array(size) : new Float32Array(size);
  let offset = 0;
  for (const p of parts) {
    if (data instanceof Uint16Array) encodeHalfArray(p, data.subarray(offset, offset + p.length));
    else data.set(p, offset);
    offset += p.length;
  }
  return { dtype: half ? 'float16' : 'float32', shape, buffer: data.buffer as ArrayBuffer };
}

/** One named block of an encoder-decoder's result from its per-layer probabilities and value norms. */
export function attentionBlock(kind: AttentionBlockKind, label: string, queries: TokenInfo[], keys: TokenInfo[], probs: Float32Array[], norms: Float32Array[], shape: { numLayers: number; numHeads: number }, half: boolean): AttentionBlock {
  return {
    kind,
    label,
    querySide: kind === 'encoder' ? 'input' : 'target',
    keySide: kind === 'decoder' ? 'target' : 'input',
    queryTokens: queries,
    keyTokens: keys,
    causal: kind === 'decoder',
    attentions: stacked(probs, [shape.numLayers, shape.numHeads, queries.length, keys.length], half),
    valueNorms: stacked(norms, [shape.numLayers, shape.numHeads, keys.length], false),
  };
}

/** The summary of an encoder-decoder: the encoder's shape, and the decoder's under `decoder`. */
export function encoderDecoderSummary(arch: EncoderDecoderArchitecture): Omit<ModelSummary, 'name' | 'source'> {
  const d = arch.decoder.summary;
  return { ...arch.encoder.summary, decoder: { numLayers: d.numLayers, numHeads: d.numHeads, headDim: d.headDim, maxTokens: d.maxTokens } };
}

export class EncoderDecoderRunner {
  private last: { encoder: StackRun; decoder: StackRun } | undefined;

  private constructor(
    private readonly summary: ModelSummary,
    private readonly arch: EncoderDecoderArchitecture,
    private readonly tokenizer: TextTokenizer,
    private readonly encoder: Stack,
    private readonly decoder: Stack,
    private readonly limits: RunnerLimits,
  ) {}

  static async load(arch: EncoderDecoderArchitecture, summary: ModelSummary, tokenizer: TextTokenizer, limits: RunnerLimits, onProgress?: ProgressFn, signal?: AbortSignal): Promise<EncoderDecoderRunner> {
    const sessions: ort.InferenceSession[] = [];
    try {
      const encoder = await buildStack('encoder', arch.encoder, false, limits, sessions, onProgress, signal);
      const decoder = await buildStack('decoder', arch.decoder, true, limits, sessions, onProgress, signal);
      return new EncoderDecoderRunner(summary, arch, tokenizer, encoder, decoder, limits);
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      throw err;
    }
  }

  /** The longest text (encoder) and decoder text in tokens: the position tables, or what the attention budget allows. */
  limitsFor(): { encoder: number; decoder: number } {
    const e = this.arch.encoder.summary;
    const d = this.arch.decoder.summary;
    // Budget shared by the three blocks, assuming equal lengths: L_e·H_e·n² + L_d·H_d·2n² (float16).
    const perSquare = e.numLayers * e.numHeads + 2 * d.numLayers * d.numHeads;
    const byMemory = Math.floor(Math.sqrt(this.limits.attentionBudgetBytes / 2 / perSquare));
    return { encoder: Math.min(e.maxTokens ?? Infinity, byMemory), decoder: Math.min(d.maxTokens ?? Infinity, byMemory) };
  }

  /** `decoderAsIs`: the decoder's tokens as they are (a generation's), instead of the decoder text's shifted right. */
  async analyze(text: string, options: AnalyzeOptions, signal?: AbortSignal, onProgress?: ProgressFn, decoderAsIs?: TokenInfo[]): Promise<AttentionResult> {
    if (text.trim().length === 0 && !options.textPair?.trim()) {
      throw new EngineError('empty-text', 'There is no text to analyze: select some text (or put the cursor on a non-empty line).');
    }
    const t0 = performance.now();
    const limits = this.limitsFor();
    const source = await this.tokenizer.encode(text, options.textPair);
    let { ids, typeIds, tokens } = source;
    if (options.truncateTo !== undefined && ids.length > options.truncateTo) {
      const keep = Math.max(1, Math.min(options.truncateTo, limits.encoder));
      [ids, typeIds, tokens] = [ids.slice(0, keep), typeIds.slice(0, keep), tokens.slice(0, keep)];
    }
    if (ids.length > limits.encoder) {
      throw new EngineError('too-long', `The text is ${ids.length} tokens long; ${this.summary.name} handles at most ${limits.encoder} tokens here. Select less text or analyze the first ${limits.encoder} tokens.`, { limit: limits.encoder, length: ids.length });
    }
    const target = options.target ?? '';
    const decoderTokens = decoderAsIs ?? (await this.decoderTokens(target));
    if (decoderTokens.length > limits.decoder) {
      throw new EngineError('too-long', `The decoder text is ${decoderTokens.length} tokens long; ${this.summary.name}'s decoder handles at most ${limits.decoder} tokens here. Shorten the decoder text.`, { limit: limits.decoder, length: decoderTokens.length });
    }
    const t1 = performance.now();
    const n = ids.length;
    const nDec = decoderTokens.length;
    onProgress?.(`${n} + ${nDec} tokens`, 0);
    throwIfCancelled(signal);
    const wantHidden = options.hiddenStates === true;
    const encoder = await runStack(this.encoder, this.arch.encoder.embed(ids, typeIds), n, undefined, wantHidden, signal, onProgress);
    const decoderIds = decoderTokens.map((t) => t.id);
    const decoder = await runStack(this.decoder, this.arch.decoder.embed(decoderIds, decoderIds.map(() => 0)), nDec, { output: encoder.output, m: n }, wantHidden, signal, onProgress);
    this.last = { encoder, decoder };
    const t2 = performance.now();

    const e = this.arch.encoder.summary;
    const d = this.arch.decoder.summary;
    const bytes = 4 * (e.numLayers * e.numHeads * n * n + d.numLayers * d.numHeads * (nDec * nDec + nDec * n));
    const half = bytes > this.limits.float16ThresholdBytes;
    const block = (kind: AttentionBlockKind, label: string, q: TokenInfo[], k: TokenInfo[], run: StackRun, cross: boolean, shape: { numLayers: number; numHeads: number }): AttentionBlock =>
      attentionBlock(kind, label, q, k, cross ? run.crossProbs : run.probs, cross ? run.crossNorms : run.valueNorms, shape, half);
    const blocks = [
      block('encoder', 'Encoder self-attention', tokens, tokens, encoder, false, e),
      block('decoder', 'Decoder self-attention', decoderTokens, decoderTokens, decoder, false, d),
      block('cross', 'Cross-attention', decoderTokens, tokens, decoder, true, d),
    ];
    const states = (run: StackRun, layers: number, rows: number) => (run.hiddenStates ? stacked(run.hiddenStates, [layers + 1, rows, e.hiddenSize], false) : undefined);
    return {
      model: this.summary,
      text,
      tokens,
      attentions: blocks[0].attentions,
      valueNorms: blocks[0].valueNorms,
      hiddenStates: states(encoder, e.numLayers, n),
      blocks,
      target,
      decoderTokens,
      decoderHiddenStates: states(decoder, d.numLayers, nDec),
      timings: { tokenizeMs: t1 - t0, computeMs: t2 - t1 },
    };
  }

  /**
   * The decoder's tokens: the tokenizer's tokens for the decoder text (the labels, special tokens
   * included), shifted right as the model shifts them: its start token first, the last label dropped.
   */
  private async decoderTokens(target: string): Promise<TokenInfo[]> {
    const labels = await this.tokenizer.encode(target);
    const ids = this.arch.decoder.decoderInputIds(labels.ids);
    const shifted = ids.length === labels.ids.length && ids.every((id, i) => i === 0 || id === labels.ids[i - 1]);
    if (!shifted) throw new EngineError('internal', `${this.summary.modelType}: decoder inputs are not the labels shifted right by one`);
    const raw = this.tokenizer.idToToken(ids[0]) ?? `<${ids[0]}>`;
    const start: TokenInfo = { id: ids[0], raw, display: raw, start: -1, end: -1, special: true, segment: 0 };
    return [start, ...labels.tokens.slice(0, -1)];
  }

  async headVectors(layer: number, head: number, kind: AttentionBlockKind = 'encoder'): Promise<HeadVectors> {
    const last = this.last;
    if (!last) throw new EngineError('not-loaded', 'Analyze a text first.');
    const isEncoder = kind === 'encoder' || kind === 'self';
    const stack = isEncoder ? this.encoder : this.decoder;
    const run = isEncoder ? last.encoder : last.decoder;
    const { numLayers, numHeads, headDim } = stack.arch.summary;
    if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads) throw new EngineError('internal', `No layer ${layer} head ${head} in the ${stack.name}.`);
    const c = stack.chunks.findIndex((ch) => ch.layers.includes(layer));
    const chunk = stack.chunks[c];
    const prefix = kind === 'cross' ? 'cross_' : '';
    const names = ['q', 'k', 'v', 'logits'].map((v) => `${prefix}${v}_${layer}`);
    const out = await chunk.session.run(feeds(stack, chunk, run.chunkInputs[c], run.n, run.positions), names);
    const rows = run.n;
    const keys = kind === 'cross' ? last.encoder.n : rows;
    const slice = (name: string, count: number, width: number): TensorData => {
      const size = count * width;
      return { dtype: 'float32', shape: [count, width], buffer: (out[name].data as Float32Array).slice(head * size, (head + 1) * size).buffer };
    };
    const site: AttentionSite = kind === 'cross' ? (stack.arch as DecoderStack).crossSite(layer) : stack.arch.site(layer);
    const vectors: HeadVectors = {
      block: isEncoder ? 'encoder' : kind,
      layer,
      head,
      scale: site.scale,
      softcap: site.softcap,
      q: slice(names[0], rows, headDim),
      k: slice(names[1], keys, headDim),
      v: slice(names[2], keys, headDim),
      bias: siteBias(site, run.positions, head, rows, keys),
      logits: slice(names[3], rows, keys),
    };
    Object.values(out).forEach((t) => t.dispose?.());
    return vectors;
  }

  async dispose(): Promise<void> {
    this.last = undefined;
    await Promise.all([...this.encoder.chunks, ...this.decoder.chunks].map((c) => c.session.release()));
  }
}

/** The site's additive terms for one head, summed `[rows, keys]`: what the model adds to q·k·scale. */
function siteBias(site: AttentionSite, positions: StackRun['positions'], head: number, rows: number, keys: number): TensorData | null {
  if (site.terms.length === 0) return null;
  const size = rows * keys;
  const sum = new Float32Array(size);
  for (const term of site.terms) {
    const value = positions.get(term);
    if (!value) throw new Error(`no position input ${term.name}`);
    const part = value.dims.length === 3 ? value.data.subarray(head * size, (head + 1) * size) : value.data;
    for (let i = 0; i < size; i++) sum[i] += part[i];
  }
  return { dtype: 'float32', shape: [rows, keys], buffer: sum.buffer };
}
