/**
 * The generic runner: loads a checkpoint folder, groups its layers into onnxruntime sessions, and
 * analyzes texts. Layers run chunk by chunk so that cancellation and progress happen between
 * chunks, no single ONNX model nears protobuf's 2 GB limit, and loading never holds more than one
 * chunk's serialized weights at a time.
 */
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AnalyzeOptions, AttentionBlockKind, AttentionResult, HeadVectors, ModelSummary, TensorData } from '../protocol/types';
import { isEncoderDecoder, type Architecture, type FamilyRegistry, type PositionInput } from './architecture';
import { Checkpoint } from './checkpoint';
import { EncoderDecoderRunner, encoderDecoderSummary } from './encoderDecoder';
import { EngineError } from './errors';
import { encodeHalfArray } from '../protocol/float16';
import { GraphBuilder } from './onnx/graph';
import { Nn } from './onnx/layers';
import { TextTokenizer } from './tokenizer';

/**
 * Float32 weights per session. Small groups bound the transient memory of building each session
 * (weights, their protobuf encoding and onnxruntime's copy); measured on bert-base they cost no
 * speed once idle sessions stop spinning (see sessionOptions).
 */
const CHUNK_BYTES = 64 * 1024 * 1024;
const MAX_LAYERS_PER_CHUNK = 6;
/** Attentions above this many bytes as float32 are kept as float16 (half the memory). */
export const FLOAT16_THRESHOLD_BYTES = 256 * 1024 * 1024;
/** Attentions are never kept above this size (as float16); longer texts are refused with the limit. */
export const ATTENTION_BUDGET_BYTES = 2 * 1024 * 1024 * 1024;

/** Progress callback; called between steps, right before the engine checks for cancellation. */
export type ProgressFn = (message: string, fraction?: number) => void;

interface Chunk {
  session: ort.InferenceSession;
  layers: number[];
  /** The position inputs this chunk's graph declares. */
  inputs: PositionInput[];
}

interface LastRun {
  ids: number[];
  n: number;
  /** Input hidden state of every chunk (to recompute one layer's q, k, v on request). */
  chunkInputs: Float32Array[];
  positions: Map<PositionInput, { data: Float32Array; dims: number[] }>;
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'The analysis was cancelled.');
}

export function sessionOptions(): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    interOpNumThreads: 1,
    // Layers run session after session: a finished session's threads must sleep at once rather
    // than spin, or they take the cores from the next one (measured: 1.9× slower with spinning).
    extra: { session: { 'intra_op.allow_spinning': '0' } },
    // Every layer group is its own session; per-session arenas would each keep their largest
    // activations (≈300 MB more on bert-base at 512 tokens) for no measurable speed.
    enableCpuMemArena: false,
    enableMemPattern: false,
  };
}

export class AttentionModel {
  private last: LastRun | undefined;

  private constructor(
    readonly summary: ModelSummary,
    private readonly arch: Architecture,
    private readonly checkpoint: Checkpoint,
    private readonly tokenizer: TextTokenizer,
    private readonly chunks: Chunk[],
    /** Encoder-decoders run in their own two-stack runner (./encoderDecoder.ts). */
    private readonly seq2seq?: EncoderDecoderRunner,
  ) {}

  /** Loads `folder` with the family that `families` registers for its model_type. */
  static async load(folder: string, meta: { families: FamilyRegistry; name?: string; source?: string }, onProgress?: ProgressFn, signal?: AbortSignal): Promise<AttentionModel> {
    const checkpoint = Checkpoint.open(folder);
    const sessions: ort.InferenceSession[] = [];
    try {
      const created = meta.families.create(checkpoint);
      const tokenizer = TextTokenizer.load(folder);
      if (isEncoderDecoder(created)) {
        const summary: ModelSummary = { ...encoderDecoderSummary(created), name: meta.name ?? path.basename(folder), source: meta.source ?? folder };
        const limits = { chunkBytes: CHUNK_BYTES, maxLayersPerChunk: MAX_LAYERS_PER_CHUNK, float16ThresholdBytes: FLOAT16_THRESHOLD_BYTES, attentionBudgetBytes: ATTENTION_BUDGET_BYTES, sessionOptions };
        const runner = await EncoderDecoderRunner.load(created, summary, tokenizer, limits, onProgress, signal);
        onProgress?.('Model ready', 1);
        return new AttentionModel(summary, created.encoder, checkpoint, tokenizer, [], runner);
      }
      const arch = created;
      const { numLayers, numHeads, hiddenSize } = arch.summary;
      const perChunk = Math.max(1, Math.min(MAX_LAYERS_PER_CHUNK, Math.floor(CHUNK_BYTES / Math.max(1, arch.layerBytes))));
      const chunks: Chunk[] = [];
      for (let first = 0; first < numLayers; first += perChunk) {
        onProgress?.(`Building layers ${first + 1}–${Math.min(numLayers, first + perChunk)} of ${numLayers}`, first / numLayers);
        throwIfCancelled(signal);
        const g = new GraphBuilder();
        const nn = new Nn(g);
        const declared = new Map<string, PositionInput>();
        const use = (input: PositionInput) => {
          const known = declared.get(input.name);
          if (known && known !== input) throw new Error(`two position inputs are called ${input.name}`);
          if (!known) {
            g.input(input.name, [...input.dims]);
            declared.set(input.name, input);
          }
          return input.name;
        };
        let hidden = g.input('hidden', ['n', hiddenSize]);
        const layers: number[] = [];
        for (let layer = first; layer < Math.min(numLayers, first + perChunk); layer++) {
          const out = arch.buildLayer(nn, layer, hidden, use);
          const headDims = [numHeads, 'n', arch.summary.headDim];
          const layerOutput = g.output(`hidden_${layer}`, out.hidden, ['n', hiddenSize]);
          g.output(`probs_${layer}`, out.probs, [numHeads, 'n', 'n']);
          g.output(`logits_${layer}`, out.logits, [numHeads, 'n', 'n']);
          if (out.terms) g.output(`terms_${layer}`, out.terms, [numHeads, 'n', 'n']);
          g.output(`value_norms_${layer}`, out.valueNorms, [numHeads, 'n']);
          g.output(`q_${layer}`, out.q, headDims);
          g.output(`k_${layer}`, out.k, headDims);
          g.output(`v_${layer}`, out.v, headDims);
          layers.push(layer);
          hidden = layerOutput;
        }
        if (layers[layers.length - 1] === numLayers - 1 && arch.buildFinal) g.output('final', arch.buildFinal(nn, hidden), ['n', hiddenSize]);
        const bytes = g.toBytes(`${arch.summary.modelType}_layers_${first}`);
        const session = await ort.InferenceSession.create(bytes, sessionOptions());
        sessions.push(session);
        chunks.push({ session, layers, inputs: [...declared.values()] });
      }
      onProgress?.('Model ready', 1);
      const summary: ModelSummary = { ...arch.summary, name: meta.name ?? path.basename(folder), source: meta.source ?? folder };
      return new AttentionModel(summary, arch, checkpoint, tokenizer, chunks);
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      checkpoint.close();
      throw err;
    }
  }

  /** The longest text in tokens this model accepts: its positions, or what the attention memory budget allows. */
  get maxTokens(): number {
    if (this.seq2seq) return this.seq2seq.limitsFor().encoder;
    const { numLayers, numHeads } = this.summary;
    const byMemory = Math.floor(Math.sqrt(ATTENTION_BUDGET_BYTES / 2 / (numLayers * numHeads)));
    return Math.min(this.summary.maxTokens ?? Infinity, byMemory);
  }

  tokenize(text: string, textPair?: string) {
    return this.tokenizer.encode(text, textPair);
  }

  async analyze(text: string, options: AnalyzeOptions = {}, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    if (this.seq2seq) return this.seq2seq.analyze(text, options, signal, onProgress);
    if (text.trim().length === 0 && !options.textPair?.trim()) {
      throw new EngineError('empty-text', 'There is no text to analyze: select some text (or put the cursor on a non-empty line).');
    }
    const t0 = performance.now();
    const encoded = await this.tokenizer.encode(text, options.textPair);
    let { ids, typeIds, tokens } = encoded;
    const limit = this.maxTokens;
    if (options.truncateTo !== undefined && ids.length > options.truncateTo) {
      const keep = Math.max(1, Math.min(options.truncateTo, limit));
      ids = ids.slice(0, keep);
      typeIds = typeIds.slice(0, keep);
      tokens = tokens.slice(0, keep);
    }
    if (ids.length > limit) {
      const why = this.summary.maxTokens !== null && limit === this.summary.maxTokens ? `${this.summary.name} handles at most ${limit} tokens` : `attention for more than ${limit} tokens would not fit in memory`;
      throw new EngineError('too-long', `The text is ${ids.length} tokens long; ${why}. Select less text or analyze the first ${limit} tokens.`, { limit, length: ids.length });
    }
    const t1 = performance.now();
    onProgress?.(`${ids.length} tokens`, 0);
    throwIfCancelled(signal);
    const n = ids.length;
    const { numLayers, numHeads, hiddenSize } = this.summary;
    const layerSize = numHeads * n * n;
    const useHalf = numLayers * layerSize * 4 > FLOAT16_THRESHOLD_BYTES;
    const attentions = useHalf ? new Uint16Array(numLayers * layerSize) : new Float32Array(numLayers * layerSize);
    const valueNorms = new Float32Array(numLayers * numHeads * n);
    const hiddenStates = options.hiddenStates ? new Float32Array((numLayers + 1) * n * hiddenSize) : undefined;

    let hidden = this.arch.embed(ids, typeIds);
    hiddenStates?.set(hidden, 0);
    const positions: LastRun['positions'] = new Map();
    for (const input of new Set(this.chunks.flatMap((ch) => ch.inputs))) {
      const dims = input.dims.map((d) => {
        if (d === 'm') throw new EngineError('internal', `${input.name} has an encoder axis; encoder-decoder models are not built yet`);
        return d === 'n' ? n : d;
      });
      positions.set(input, { data: input.compute(n), dims });
    }
    const chunkInputs: Float32Array[] = [];
    for (const [c, chunk] of this.chunks.entries()) {
      onProgress?.(`Layers ${chunk.layers[0] + 1}–${chunk.layers[chunk.layers.length - 1] + 1} of ${numLayers}`, c / this.chunks.length);
      throwIfCancelled(signal);
      chunkInputs.push(hidden);
      const isLast = c === this.chunks.length - 1;
      const fetches = chunk.layers.flatMap((l) => [`probs_${l}`, `value_norms_${l}`]);
      fetches.push(`hidden_${chunk.layers[chunk.layers.length - 1]}`);
      if (hiddenStates) fetches.push(...chunk.layers.map((l) => `hidden_${l}`));
      if (isLast && hiddenStates && this.arch.buildFinal) fetches.push('final');
      const out = await chunk.session.run(this.feeds(chunk, hidden, n, positions), [...new Set(fetches)]);
      for (const layer of chunk.layers) {
        const probs = out[`probs_${layer}`].data as Float32Array;
        if (attentions instanceof Uint16Array) encodeHalfArray(probs, attentions.subarray(layer * layerSize, (layer + 1) * layerSize));
        else attentions.set(probs, layer * layerSize);
        valueNorms.set(out[`value_norms_${layer}`].data as Float32Array, layer * numHeads * n);
        if (hiddenStates) {
          const isFinalLayer = layer === numLayers - 1;
          const state = isFinalLayer && out.final ? out.final : out[`hidden_${layer}`];
          hiddenStates.set(state.data as Float32Array, (layer + 1) * n * hiddenSize);
        }
      }
      hidden = new Float32Array(out[`hidden_${chunk.layers[chunk.layers.length - 1]}`].data as Float32Array);
      Object.values(out).forEach((t) => t.dispose?.());
    }
    this.last = { ids, n, chunkInputs, positions };
    const t2 = performance.now();
    const tensor = (data: Float32Array | Uint16Array, shape: number[]): TensorData => ({
      dtype: data instanceof Uint16Array ? 'float16' : 'float32',
      shape,
      buffer: data.buffer as ArrayBuffer,
    });
    return {
      model: this.summary,
      text,
      tokens,
      attentions: tensor(attentions, [numLayers, numHeads, n, n]),
      valueNorms: tensor(valueNorms, [numLayers, numHeads, n]),
      hiddenStates: hiddenStates ? tensor(hiddenStates, [numLayers + 1, n, hiddenSize]) : undefined,
      ...(n < encoded.ids.length ? { truncatedFrom: encoded.ids.length } : {}),
      timings: { tokenizeMs: t1 - t0, computeMs: t2 - t1 },
    };
  }

  private feeds(chunk: Chunk, hidden: Float32Array, n: number, positions: LastRun['positions']): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [n, this.summary.hiddenSize]) };
    for (const input of chunk.inputs) {
      const value = positions.get(input);
      if (!value) throw new Error(`no position input ${input.name}`);
      feeds[input.name] = new ort.Tensor('float32', value.data, value.dims);
    }
    return feeds;
  }

  /** q, k, v of one layer and head (of `block`, for an encoder-decoder) for the last analyzed text. */
  async headVectors(layer: number, head: number, block?: AttentionBlockKind): Promise<HeadVectors> {
    if (this.seq2seq) return this.seq2seq.headVectors(layer, head, block);
    const last = this.last;
    if (!last) throw new EngineError('not-loaded', 'Analyze a text first.');
    const { numLayers, numHeads, headDim } = this.summary;
    if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads) throw new EngineError('internal', `No layer ${layer} head ${head} in this model.`);
    const c = this.chunks.findIndex((ch) => ch.layers.includes(layer));
    const chunk = this.chunks[c];
    const site = this.arch.site(layer);
    // Graph-computed terms (DeBERTa's c2p/p2c, BERT's relative_key_query) come summed from the graph.
    const graphTerms = site.graphTerms.length > 0;
    const fetches = [`q_${layer}`, `k_${layer}`, `v_${layer}`, `logits_${layer}`, ...(graphTerms ? [`terms_${layer}`] : [])];
    const out = await chunk.session.run(this.feeds(chunk, last.chunkInputs[c], last.n, last.positions), fetches);
    const slice = (name: string): TensorData => {
      const data = out[name].data as Float32Array;
      const size = last.n * headDim;
      return { dtype: 'float32', shape: [last.n, headDim], buffer: data.slice(head * size, (head + 1) * size).buffer };
    };
    // The site's additive terms, summed: what the model adds to softcap(q·k·scale).
    const size = last.n * last.n;
    let bias: TensorData | null = null;
    if (graphTerms) {
      bias = { dtype: 'float32', shape: [last.n, last.n], buffer: (out[`terms_${layer}`].data as Float32Array).slice(head * size, (head + 1) * size).buffer };
    } else if (site.terms.length > 0) {
      const sum = new Float32Array(size);
      for (const term of site.terms) {
        const value = last.positions.get(term);
        if (!value) throw new Error(`no position input ${term.name}`);
        const part = value.dims.length === 3 ? value.data.subarray(head * size, (head + 1) * size) : value.data;
        for (let i = 0; i < size; i++) sum[i] += part[i];
      }
      bias = { dtype: 'float32', shape: [last.n, last.n], buffer: sum.buffer };
    }
    const logits = (out[`logits_${layer}`].data as Float32Array).slice(head * size, (head + 1) * size);
    return {
      layer,
      head,
      scale: site.scale,
      softcap: site.softcap,
      q: slice(`q_${layer}`),
      k: slice(`k_${layer}`),
      v: slice(`v_${layer}`),
      bias,
      ...(graphTerms ? { biasTerms: [...site.terms.map((t) => t.name), ...site.graphTerms] } : {}),
      logits: { dtype: 'float32', shape: [last.n, last.n], buffer: logits.buffer },
    };
  }

  async dispose(): Promise<void> {
    this.last = undefined;
    await this.seq2seq?.dispose();
    await Promise.all(this.chunks.map((c) => c.session.release()));
    this.checkpoint.close();
  }
}
