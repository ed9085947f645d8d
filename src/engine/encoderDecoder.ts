/**
 * The runner for encoder-decoders (T5, BART, Marian, mBART): two stacks of onnxruntime sessions.
 * The encoder runs over the text; its output (after its final norm) is fed to every decoder layer
 * as `encoder_output`, the key/value source of the cross sites, while the decoder runs over the
 * decoder text shifted right as the model shifts it. Three named blocks: encoder self
 * `[L_enc, H, n_enc, n_enc]`, decoder self `[L_dec, H, n_dec, n_dec]` and cross
 * `[L_dec, H, n_dec, n_enc]`.
 *
 * As the single-stack pass does (./kept.ts), each layer's graph hands out its q and k (self and
 * cross) and value norms, never its probabilities: those are formed from q and k by the weightless
 * scores graph, head group by head group, with the site's additive terms summed once per stack
 * (T5's relative position bias is one `[heads, n, n]` term of the stack, shared by every layer).
 * The full-tensor `analyze` copies them into `[layers, heads, q, k]` tensors; `analyzeKept`
 * summarises them on the spot and keeps only q/k (./keptSeq2seq.ts). Kept apart from the
 * single-stack runner in model.ts so that each can change (weight loading, streaming) without the
 * other; tensors stay opaque here, as there.
 */
import * as ort from 'onnxruntime-node';
import type { AnalyzeOptions, AttentionBlock, AttentionBlockKind, AttentionResult, HeadVectors, ModelSummary, TensorData, TokenInfo } from '../protocol/types';
import { encodeHalfArray } from '../protocol/float16';
import { ENCODER_OUTPUT, type Architecture, type AttentionSite, type DecoderLayerOutputs, type DecoderStack, type EncoderDecoderArchitecture, type LayerOutputs, type PositionInput } from './architecture';
import { EngineError } from './errors';
import { AttentionSessions, defaultHeadScorers, emptySummaries, forHeadGroups, layerProbabilities, runKeptPass, sharedCopy, siteBias, summarizeHeads, type KeptOptions, type LayerQk, type LayerSummaries, type Positions } from './kept';
import { KeptSeq2seqAnalysis, keptSeq2seqFits, type Seq2seqBlock, type Seq2seqShape, type StackState } from './keptSeq2seq';
import { GraphBuilder } from './onnx/graph';
import { Nn } from './onnx/layers';
import type { TextTokenizer } from './tokenizer';

/** Limits shared with the single-stack runner (model.ts passes them, to keep one definition). */
export interface RunnerLimits {
  chunkBytes: number;
  maxLayersPerChunk: number;
  float16ThresholdBytes: number;
  attentionBudgetBytes: number;
  /** Heads whose attention a layer's graph computes at once (model.ts headsPerChunkFor). */
  headsPerChunk: number;
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

/** One stack's run over one text: what step by step needs to run a chunk again, and the stack's output. */
interface StackRun extends StackState {
  /** hidden_states[0..L] as transformers returns them (the last after the final norm), when asked for. */
  hiddenStates?: Float32Array[];
  /** The stack's output: after the final norm where the stack has one. */
  output: Float32Array;
}

/** One layer of a stack's pass: q/k of its self site (and of its cross site), with their additive terms, and value norms. */
interface StackLayer {
  self: LayerQk;
  selfNorms: Float32Array;
  cross?: LayerQk;
  crossNorms?: Float32Array;
}

/** What a stack's pass hands on. Its arrays are onnxruntime's outputs, valid during the call only: copy what is kept. */
interface StackSink {
  /** The run's state, before its first chunk (so step by step can be served while the pass goes on). */
  started?(stack: StackName, run: StackRun): void;
  layer(stack: StackName, layer: number, values: StackLayer): Promise<void>;
  /** After each chunk of layers. */
  chunkDone?(stack: StackName, layers: number[]): Promise<void>;
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
    // Long texts: the attention inside a layer is computed a few heads at a time.
    const nn = new Nn(g, limits.headsPerChunk);
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
      // No probabilities or logits leave the graph (the scores graph forms them from q and k): no n² output per layer.
      const outputs = (prefix: string, values: Omit<LayerOutputs, 'hidden'>, keys: 'n' | 'm') => {
        g.output(outputName(`${prefix}value_norms`, layer), values.valueNorms, [numHeads, keys]);
        g.output(outputName(`${prefix}q`, layer), values.q, [numHeads, 'n', headDim]);
        g.output(outputName(`${prefix}k`, layer), values.k, [numHeads, keys, headDim]);
        g.output(outputName(`${prefix}v`, layer), values.v, [numHeads, keys, headDim]);
      };
      const layerOutput = g.output(outputName('hidden', layer), out.hidden, ['n', hiddenSize]);
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

/**
 * A stack graph's output for one layer: `q@3`, `cross_value_norms@3`. Never one of the builder's fresh
 * names (`value_norms_1`), which a decoder layer may already have given its cross site's value.
 */
function outputName(what: string, layer: number): string {
  return `${what}@${layer}`;
}

function feeds(stack: Stack, chunk: StackChunk, hidden: Float32Array, n: number, positions: Positions): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [n, stack.arch.summary.hiddenSize]) };
  for (const input of chunk.inputs) {
    const value = positions.get(input);
    if (!value) throw new Error(`no position input ${input.name}`);
    out[input.name] = new ort.Tensor('float32', value.data, value.dims);
  }
  return out;
}

/** The site's additive terms summed once per run of a stack (T5's `[heads, n, n]` bias is the stack's, not each layer's). */
function runBias(run: StackState, site: AttentionSite, heads: number, keys: number): LayerQk['bias'] {
  if (!run.biases.has(site)) run.biases.set(site, siteBias(site, run.positions, heads, run.n, keys, true));
  return run.biases.get(site);
}

/** Runs a stack over `n` tokens; `encoder` (the encoder's output, `m` rows) feeds the cross sites. */
async function runStack(stack: Stack, embedded: Float32Array, n: number, encoder: { output: Float32Array; m: number } | undefined, wantHidden: boolean, sink: StackSink, signal?: AbortSignal, onProgress?: ProgressFn): Promise<StackRun> {
  const { numLayers, numHeads, hiddenSize } = stack.arch.summary;
  const m = encoder?.m ?? 0;
  const positions: Positions = new Map();
  for (const input of new Set(stack.chunks.flatMap((ch) => ch.inputs))) {
    if (input.name === ENCODER_OUTPUT) {
      if (!encoder) throw new Error('the encoder output is missing');
      positions.set(input, { data: encoder.output, dims: [m, hiddenSize] });
      continue;
    }
    positions.set(input, { data: input.compute(n), dims: input.dims.map((d) => (d === 'n' ? n : d === 'm' ? m : d)) });
  }
  const run: StackRun = { n, keys: m, hiddenStates: wantHidden ? [embedded] : undefined, output: embedded, chunkInputs: [], positions, biases: new Map() };
  sink.started?.(stack.name, run);
  let hidden = embedded;
  for (const chunk of stack.chunks) {
    const last = chunk.layers[chunk.layers.length - 1];
    onProgress?.(`${stack.name === 'encoder' ? 'Encoder' : 'Decoder'} layers ${chunk.layers[0] + 1}–${last + 1} of ${numLayers}`);
    throwIfCancelled(signal);
    run.chunkInputs.push(hidden);
    const fetches = [outputName('hidden', last)];
    for (const l of chunk.layers) {
      fetches.push(...['q', 'k', 'value_norms'].map((what) => outputName(what, l)));
      if (stack.cross) fetches.push(...['cross_q', 'cross_k', 'cross_value_norms'].map((what) => outputName(what, l)));
      if (wantHidden) fetches.push(outputName('hidden', l));
    }
    const hasFinal = last === numLayers - 1 && stack.arch.buildFinal !== undefined;
    if (hasFinal) fetches.push('final');
    const out = await chunk.session.run(feeds(stack, chunk, hidden, n, positions), [...new Set(fetches)]);
    try {
      const copy = (name: string) => new Float32Array(out[name].data as Float32Array);
      for (const l of chunk.layers) {
        const data = (what: string) => out[outputName(what, l)].data as Float32Array;
        const values: StackLayer = {
          self: { q: data('q'), k: data('k'), bias: runBias(run, stack.arch.site(l), numHeads, n) },
          selfNorms: data('value_norms'),
        };
        if (stack.cross) {
          values.cross = { q: data('cross_q'), k: data('cross_k'), keys: m, bias: runBias(run, (stack.arch as DecoderStack).crossSite(l), numHeads, m) };
          values.crossNorms = data('cross_value_norms');
        }
        await sink.layer(stack.name, l, values);
        if (run.hiddenStates) run.hiddenStates.push(copy(l === numLayers - 1 && hasFinal ? 'final' : outputName('hidden', l)));
      }
      hidden = copy(outputName('hidden', last));
      if (hasFinal) run.output = copy('final');
      else if (last === numLayers - 1) run.output = hidden;
    } finally {
      Object.values(out).forEach((t) => t.dispose?.());
    }
    await sink.chunkDone?.(stack.name, chunk.layers);
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

/** Which side each block's queries and keys come from, and its causality. */
function blockSides(kind: AttentionBlockKind, label: string, queries: TokenInfo[], keys: TokenInfo[]): Omit<AttentionBlock, 'attentions' | 'valueNorms'> {
  return {
    kind,
    label,
    querySide: kind === 'encoder' ? 'input' : 'target',
    keySide: kind === 'decoder' ? 'target' : 'input',
    queryTokens: queries,
    keyTokens: keys,
    causal: kind === 'decoder',
  };
}

/** One named block of an encoder-decoder's result from its per-layer probabilities and value norms. */
export function attentionBlock(kind: AttentionBlockKind, label: string, queries: TokenInfo[], keys: TokenInfo[], probs: Float32Array[], norms: Float32Array[], shape: { numLayers: number; numHeads: number }, half: boolean): AttentionBlock {
  return {
    ...blockSides(kind, label, queries, keys),
    attentions: stacked(probs, [shape.numLayers, shape.numHeads, queries.length, keys.length], half),
    valueNorms: stacked(norms, [shape.numLayers, shape.numHeads, keys.length], false),
  };
}

const BLOCK_LABELS: Record<Seq2seqBlock, string> = { encoder: 'Encoder self-attention', decoder: 'Decoder self-attention', cross: 'Cross-attention' };

/** The summary of an encoder-decoder: the encoder's shape, and the decoder's under `decoder`. */
export function encoderDecoderSummary(arch: EncoderDecoderArchitecture): Omit<ModelSummary, 'name' | 'source'> {
  const d = arch.decoder.summary;
  return { ...arch.encoder.summary, decoder: { numLayers: d.numLayers, numHeads: d.numHeads, headDim: d.headDim, maxTokens: d.maxTokens } };
}

export class EncoderDecoderRunner {
  private last: { encoder: StackRun; decoder: StackRun } | undefined;
  private scoreSessions: AttentionSessions | undefined;

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

  /** The weightless scores graphs (one per site shape); no layer sessions: q and k come from the stacks' own graphs. */
  private get sessions(): AttentionSessions {
    this.scoreSessions ??= new AttentionSessions(this.arch.encoder, 0, this.limits.sessionOptions);
    return this.scoreSessions;
  }

  /** What the scores helpers (./kept.ts forHeadGroups) need for a block: its head size and the scores sessions. */
  private scoresRunner(block: AttentionBlockKind) {
    return { summary: (block === 'encoder' || block === 'self' ? this.arch.encoder : this.arch.decoder).summary, sessions: this.sessions };
  }

  /** The attention site of a block's layer. */
  site(block: AttentionBlockKind, layer: number): AttentionSite {
    if (block === 'cross') return this.arch.decoder.crossSite(layer);
    return block === 'decoder' ? this.arch.decoder.site(layer) : this.arch.encoder.site(layer);
  }

  /** The longest text (encoder) and decoder text in tokens `analyze` takes: the position tables, or what the n² attention budget allows. */
  limitsFor(): { encoder: number; decoder: number } {
    const e = this.arch.encoder.summary;
    const d = this.arch.decoder.summary;
    // Budget shared by the three blocks, assuming equal lengths: L_e·H_e·n² + L_d·H_d·2n² (float16).
    const perSquare = e.numLayers * e.numHeads + 2 * d.numLayers * d.numHeads;
    const byMemory = Math.floor(Math.sqrt(this.limits.attentionBudgetBytes / 2 / perSquare));
    return { encoder: Math.min(e.maxTokens ?? Infinity, byMemory), decoder: Math.min(d.maxTokens ?? Infinity, byMemory) };
  }

  /** The shape the kept analysis's memory is counted from (./keptSeq2seq.ts keptSeq2seqBytes). */
  private get keptShape(): Seq2seqShape {
    return {
      encoder: this.arch.encoder.summary,
      decoder: this.arch.decoder.summary,
      encoderInputs: [...new Set(this.encoder.chunks.flatMap((c) => c.inputs))],
      decoderInputs: [...new Set(this.decoder.chunks.flatMap((c) => c.inputs))],
      encoderSites: [...new Set(Array.from({ length: this.arch.encoder.summary.numLayers }, (_, l) => this.arch.encoder.site(l)))],
      decoderSites: [...new Set(Array.from({ length: this.arch.decoder.summary.numLayers }, (_, l) => [this.arch.decoder.site(l), this.arch.decoder.crossSite(l)]).flat())],
      encoderChunks: this.encoder.chunks.length,
      decoderChunks: this.decoder.chunks.length,
      layersPerChunk: Math.max(...[...this.encoder.chunks, ...this.decoder.chunks].map((c) => c.layers.length)),
      headsPerChunk: this.limits.headsPerChunk,
    };
  }

  /**
   * The texts' tokens: the text's (cut to `truncateTo`) and the decoder's, checked against
   * `limits` (for a decoder text of `t` tokens: the longest text, and why; the longest decoder text, and why).
   */
  private async encodeTexts(text: string, options: AnalyzeOptions, decoderAsIs: TokenInfo[] | undefined, limits: (t: number) => { encoder: number; encoderWhy: string; decoder: number; decoderWhy: string }) {
    if (text.trim().length === 0 && !options.textPair?.trim()) {
      throw new EngineError('empty-text', 'There is no text to analyze: select some text (or put the cursor on a non-empty line).');
    }
    const source = await this.tokenizer.encode(text, options.textPair);
    const target = options.target ?? '';
    const decoderTokens = decoderAsIs ?? (await this.decoderTokens(target));
    const limit = limits(decoderTokens.length);
    if (decoderTokens.length > limit.decoder) {
      throw new EngineError('too-long', `The decoder text is ${decoderTokens.length} tokens long; ${limit.decoderWhy}. Shorten the decoder text.`, { limit: limit.decoder, length: decoderTokens.length });
    }
    let { ids, typeIds, tokens } = source;
    if (options.truncateTo !== undefined && ids.length > options.truncateTo) {
      const keep = Math.max(1, Math.min(options.truncateTo, limit.encoder));
      [ids, typeIds, tokens] = [ids.slice(0, keep), typeIds.slice(0, keep), tokens.slice(0, keep)];
    }
    if (ids.length > limit.encoder) {
      throw new EngineError('too-long', `The text is ${ids.length} tokens long; ${limit.encoderWhy}. Select less text or analyze the first ${limit.encoder} tokens.`, { limit: limit.encoder, length: ids.length });
    }
    return { ids, typeIds, tokens, target, decoderTokens, fullLength: source.ids.length };
  }

  /** Runs both stacks over the texts, handing each layer's q/k to `sink`. */
  private async runStacks(ids: number[], typeIds: number[], decoderTokens: TokenInfo[], wantHidden: boolean, sink: StackSink, signal?: AbortSignal, onProgress?: ProgressFn): Promise<{ encoder: StackRun; decoder: StackRun }> {
    onProgress?.(`${ids.length} + ${decoderTokens.length} tokens`, 0);
    throwIfCancelled(signal);
    const encoder = await runStack(this.encoder, this.arch.encoder.embed(ids, typeIds), ids.length, undefined, wantHidden, sink, signal, onProgress);
    const decoderIds = decoderTokens.map((t) => t.id);
    const decoder = await runStack(this.decoder, this.arch.decoder.embed(decoderIds, decoderIds.map(() => 0)), decoderTokens.length, { output: encoder.output, m: ids.length }, wantHidden, sink, signal, onProgress);
    return { encoder, decoder };
  }

  /** `decoderAsIs`: the decoder's tokens as they are (a generation's), instead of the decoder text's shifted right. */
  async analyze(text: string, options: AnalyzeOptions, signal?: AbortSignal, onProgress?: ProgressFn, decoderAsIs?: TokenInfo[]): Promise<AttentionResult> {
    const t0 = performance.now();
    const limits = this.limitsFor();
    const name = this.summary.name;
    const { ids, typeIds, tokens, target, decoderTokens } = await this.encodeTexts(text, options, decoderAsIs, () => ({
      encoder: limits.encoder,
      encoderWhy: `${name} handles at most ${limits.encoder} tokens here`,
      decoder: limits.decoder,
      decoderWhy: `${name}'s decoder handles at most ${limits.decoder} tokens here`,
    }));
    const t1 = performance.now();
    const n = ids.length;
    const nDec = decoderTokens.length;
    const probs: Record<Seq2seqBlock, Float32Array[]> = { encoder: [], decoder: [], cross: [] };
    const norms: Record<Seq2seqBlock, Float32Array[]> = { encoder: [], decoder: [], cross: [] };
    const keep = async (block: Seq2seqBlock, layer: number, qk: LayerQk, valueNorms: Float32Array, rows: number) => {
      const heads = (block === 'encoder' ? this.arch.encoder : this.arch.decoder).summary.numHeads;
      probs[block][layer] = await layerProbabilities(this.scoresRunner(block), this.site(block, layer), qk, rows, { from: 0, to: heads }, signal);
      norms[block][layer] = new Float32Array(valueNorms);
    };
    const runs = await this.runStacks(ids, typeIds, decoderTokens, options.hiddenStates === true, {
      layer: async (stack, layer, v) => {
        if (stack === 'encoder') return keep('encoder', layer, v.self, v.selfNorms, n);
        await keep('decoder', layer, v.self, v.selfNorms, nDec);
        await keep('cross', layer, v.cross!, v.crossNorms!, nDec);
      },
    }, signal, onProgress);
    this.last = runs;
    const t2 = performance.now();

    const e = this.arch.encoder.summary;
    const d = this.arch.decoder.summary;
    const bytes = 4 * (e.numLayers * e.numHeads * n * n + d.numLayers * d.numHeads * (nDec * nDec + nDec * n));
    const half = bytes > this.limits.float16ThresholdBytes;
    const block = (kind: Seq2seqBlock, q: TokenInfo[], k: TokenInfo[], shape: { numLayers: number; numHeads: number }): AttentionBlock => attentionBlock(kind, BLOCK_LABELS[kind], q, k, probs[kind], norms[kind], shape, half);
    const blocks = [block('encoder', tokens, tokens, e), block('decoder', decoderTokens, decoderTokens, d), block('cross', decoderTokens, tokens, d)];
    const states = (run: StackRun, layers: number, rows: number) => (run.hiddenStates ? stacked(run.hiddenStates, [layers + 1, rows, e.hiddenSize], false) : undefined);
    return {
      model: this.summary,
      text,
      tokens,
      attentions: blocks[0].attentions,
      valueNorms: blocks[0].valueNorms,
      hiddenStates: states(runs.encoder, e.numLayers, n),
      blocks,
      target,
      decoderTokens,
      decoderHiddenStates: states(runs.decoder, d.numLayers, nDec),
      timings: { tokenizeMs: t1 - t0, computeMs: t2 - t1 },
    };
  }

  /**
   * Analyzes the texts keeping per layer only q and k (self and cross) and the stacks' shared
   * additive terms, never probabilities: each layer is summarised during the pass from the scores
   * graph and its summaries handed to `onSummaries` stack chunk by stack chunk. The lengths are
   * bounded by the positions and by `budgetBytes` (what the kept analysis holds at its peak), not by n².
   */
  async analyzeKept(text: string, options: AnalyzeOptions, budgetBytes: number, signal?: AbortSignal, onProgress?: ProgressFn, onSummaries?: (summaries: LayerSummaries[]) => void, kept: KeptOptions = {}): Promise<KeptSeq2seqAnalysis> {
    const t0 = performance.now();
    const scorers = kept.scorers ?? defaultHeadScorers();
    const e = this.arch.encoder.summary;
    const d = this.arch.decoder.summary;
    const shape = this.keptShape;
    const name = this.summary.name;
    const memoryWhy = (limit: number, what: string) => `what an analysis keeps for more than ${limit} ${what} would not fit in the memory limit (attentionInspector.memoryLimitGB)`;
    const { ids, typeIds, tokens, target, decoderTokens, fullLength } = await this.encodeTexts(text, options, undefined, (t) => {
      // The longest text that fits with this decoder text (1 when none does: the decoder text is then the one too long).
      const byMemory = longestFitting((n) => keptSeq2seqFits(shape, n, t, budgetBytes));
      const decoderByMemory = longestFitting((m) => keptSeq2seqFits(shape, 1, m, budgetBytes));
      const positions = e.maxTokens ?? Infinity;
      const decoderPositions = d.maxTokens ?? Infinity;
      return {
        encoder: Math.min(positions, byMemory),
        encoderWhy: byMemory < positions ? memoryWhy(byMemory, `tokens with a ${t}-token decoder text`) : `${name} handles at most ${positions} tokens`,
        decoder: Math.min(decoderPositions, decoderByMemory),
        decoderWhy: decoderByMemory < decoderPositions ? memoryWhy(decoderByMemory, 'decoder tokens') : `${name}'s decoder handles at most ${decoderPositions} tokens`,
      };
    });
    const t1 = performance.now();
    const n = ids.length;
    const nDec = decoderTokens.length;
    const analysis = new KeptSeq2seqAnalysis(this.keptRunner, this.summary, text, tokens, target, decoderTokens, [
      { ...blockSides('encoder', BLOCK_LABELS.encoder, tokens, tokens), layers: e.numLayers, heads: e.numHeads },
      { ...blockSides('decoder', BLOCK_LABELS.decoder, decoderTokens, decoderTokens), layers: d.numLayers, heads: d.numHeads },
      { ...blockSides('cross', BLOCK_LABELS.cross, decoderTokens, tokens), layers: d.numLayers, heads: d.numHeads },
    ]);
    kept.onStart?.(analysis);
    const encoderIds = ids;
    const decoderIds = decoderTokens.map((t) => t.id);
    let pending: LayerSummaries[] = [];
    const keep = async (block: Seq2seqBlock, layer: number, qk: LayerQk, valueNorms: Float32Array, rows: number, queryIds: number[], keyIds: number[]) => {
      const { numHeads } = (block === 'encoder' ? e : d);
      const keys = qk.keys ?? rows;
      const summary = emptySummaries(block, layer, numHeads, rows, keys, new Float32Array(valueNorms), scorers);
      await forHeadGroups(this.scoresRunner(block), this.site(block, layer), qk, rows, { from: 0, to: numHeads }, 'summary', signal, (first, count, out) => {
        summarizeHeads(summary, scorers, first, count, out.probs.data as Float32Array, out.entropy.data as Float32Array, block === 'decoder', queryIds, keyIds);
      });
      // The bias is the stack's (one for every layer), not a copy of onnxruntime's output.
      // In shared memory: the view thread's mirror reads them as they are (src/engine/keptMirror.ts).
      analysis.keepLayer(block, layer, { q: sharedCopy(qk.q), k: sharedCopy(qk.k), ...(qk.keys !== undefined ? { keys: qk.keys } : {}), bias: qk.bias });
      pending.push(summary);
    };
    const sink: StackSink = {
      started: (stack, run) => analysis.started(stack, run),
      layer: async (stack, layer, v) => {
        if (stack === 'encoder') return keep('encoder', layer, v.self, v.selfNorms, n, encoderIds, encoderIds);
        await keep('decoder', layer, v.self, v.selfNorms, nDec, decoderIds, decoderIds);
        await keep('cross', layer, v.cross!, v.crossNorms!, nDec, decoderIds, encoderIds);
      },
      chunkDone: async (_stack, layers) => {
        const done = pending;
        pending = [];
        analysis.summariesAdded(done);
        onSummaries?.(done);
        await kept.testHoldAfterGroup?.(layers);
      },
    };
    return runKeptPass(analysis, () => this.runStacks(ids, typeIds, decoderTokens, false, sink, signal, onProgress), { n, fullLength }, { t0, t1 });
  }

  /** What a kept analysis borrows from this runner: sites, scores sessions, and step by step from its own stack runs. */
  private get keptRunner() {
    return {
      site: (block: AttentionBlockKind, layer: number) => this.site(block, layer),
      scores: (block: AttentionBlockKind) => this.scoresRunner(block),
      headVectors: (runs: { encoder?: StackState; decoder?: StackState }, block: AttentionBlockKind, layer: number, head: number) => this.vectorsOf(runs, layer, head, block),
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

  /** q, k, v of one head of the text `analyze` ran last. */
  async headVectors(layer: number, head: number, kind: AttentionBlockKind = 'encoder'): Promise<HeadVectors> {
    if (!this.last) throw new EngineError('not-loaded', 'Analyze a text first.');
    return this.vectorsOf(this.last, layer, head, kind);
  }

  /** q, k, v of one head from a run's own chunk input (the chunk runs again), and the model's logits from the scores graph. */
  private async vectorsOf(runs: { encoder?: StackState; decoder?: StackState }, layer: number, head: number, kind: AttentionBlockKind): Promise<HeadVectors> {
    const isEncoder = kind === 'encoder' || kind === 'self';
    const stack = isEncoder ? this.encoder : this.decoder;
    const run = isEncoder ? runs.encoder : runs.decoder;
    const { numLayers, numHeads, headDim } = stack.arch.summary;
    if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads) throw new EngineError('internal', `No layer ${layer} head ${head} in the ${stack.name}.`);
    const c = stack.chunks.findIndex((ch) => ch.layers.includes(layer));
    if (!run || run.chunkInputs[c] === undefined) throw new EngineError('internal', `The ${stack.name}'s layer ${layer + 1} has not been computed yet.`);
    const chunk = stack.chunks[c];
    const prefix = kind === 'cross' ? 'cross_' : '';
    const names = ['q', 'k', 'v'].map((v) => outputName(`${prefix}${v}`, layer));
    const out = await chunk.session.run(feeds(stack, chunk, run.chunkInputs[c], run.n, run.positions), names);
    try {
      const rows = run.n;
      const keys = kind === 'cross' ? run.keys : rows;
      const site = this.site(isEncoder ? 'encoder' : kind, layer);
      const qk: LayerQk = { q: out[names[0]].data as Float32Array, k: out[names[1]].data as Float32Array, keys, bias: runBias(run, site, numHeads, keys) };
      let logits: Float32Array | undefined;
      await forHeadGroups(this.scoresRunner(kind), site, qk, rows, { from: head, to: head + 1 }, 'logits', undefined, (_first, _count, scores) => {
        logits = new Float32Array(scores.logits.data as Float32Array);
      });
      const slice = (data: Float32Array, count: number, width: number): TensorData => {
        const size = count * width;
        return { dtype: 'float32', shape: [count, width], buffer: data.slice(head * size, (head + 1) * size).buffer };
      };
      const size = rows * keys;
      const bias = qk.bias && (qk.bias.dims.length === 3 ? qk.bias.data.slice(head * size, (head + 1) * size) : qk.bias.data.slice());
      return {
        block: isEncoder ? 'encoder' : kind,
        layer,
        head,
        scale: site.scale,
        softcap: site.softcap,
        q: slice(qk.q, rows, headDim),
        k: slice(qk.k, keys, headDim),
        v: slice(out[names[2]].data as Float32Array, keys, headDim),
        bias: bias ? { dtype: 'float32', shape: [rows, keys], buffer: bias.buffer as ArrayBuffer } : null,
        logits: { dtype: 'float32', shape: [rows, keys], buffer: logits!.buffer as ArrayBuffer },
      };
    } finally {
      Object.values(out).forEach((t) => t.dispose?.());
    }
  }

  async dispose(): Promise<void> {
    this.last = undefined;
    await this.scoreSessions?.dispose();
    await Promise.all([...this.encoder.chunks, ...this.decoder.chunks].map((c) => c.session.release()));
  }
}

/** The largest n ≥ 0 for which `fits(n)` holds (fits is monotone; at most 2²⁴). */
function longestFitting(fits: (n: number) => boolean): number {
  let lo = 0;
  let hi = 1 << 24;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
