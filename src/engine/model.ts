/**
 * The generic runner: loads a checkpoint folder, groups its layers into onnxruntime sessions, and
 * analyzes texts. Layers run group by group so that cancellation and progress happen between
 * groups; onnxruntime reads each group's weights from the checkpoint files itself. Within the
 * memory limit groups stay loaded; beyond it they are streamed (built, run and released per
 * request) with the hidden state carried from group to group.
 */
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AnalyzeOptions, AttentionBlockKind, GenerateOptions, AttentionResult, HeadVectors, ModelSummary, TensorData } from '../protocol/types';
import { isEncoderDecoder, type Architecture, type FamilyRegistry, type PositionInput } from './architecture';
import { ANALYSIS_BUDGET_BYTES, maxTokensByMemory, WEIGHT_CACHE_ENV, WEIGHT_CACHE_MIN_BYTES_ENV } from './budget';
export { WEIGHT_CACHE_ENV } from './budget';
import { Checkpoint } from './checkpoint';
import { EncoderDecoderRunner, encoderDecoderSummary } from './encoderDecoder';
import { checkSummary } from './config';
import { EngineError } from './errors';
import { Generator, type GenerationSource } from './generate';
import { checkEmbedding, firstNonFinite, nonFiniteError } from './finite';
import { encodeHalfArray } from '../protocol/float16';
import { GraphBuilder, type BuiltGraph } from './onnx/graph';
import { Nn } from './onnx/layers';
import { cacheEntry, convertIntoCache, openCached, type WeightCache } from './onnx/weightCache';
import { repeatedRandomTokens } from './probe';
import { disableOnnxruntimeTelemetry } from './telemetry';
import { TextTokenizer, type Encoded } from './tokenizer';
import { AttentionSessions, defaultHeadScorers, distinctKeyHeads, emptySummaries, KEPT_HEAD_BYTES, KEPT_QK_BYTES, keptTokensByMemory, KeptSelfAnalysis, runKeptPass, runPass, sharedCopy, summarizeHeads, type KeptAnalysis, type KeptOptions, type KeptRunner, type LayerSummaries, type Positions } from './kept';

/**
 * Float32 weights per session. Small groups bound the transient memory of building each session
 * (onnxruntime reads the stored weights, casts 16-bit ones to float32 and pre-packs them); measured
 * on bert-base they cost no speed once idle sessions stop spinning (see sessionOptions).
 */
const CHUNK_BYTES = 64 * 1024 * 1024;
const MAX_LAYERS_PER_CHUNK = 6;
/**
 * Building one session holds, for a moment, the stored weights, their float32 cast and the
 * pre-packed copy: this many times the group's float32 bytes (measured on the Llama shapes). The
 * memory limit leaves room for one such build beside the warm groups.
 */
const BUILD_OVERHEAD = 1.5;
/**
 * Models with at least this many float32 bytes of layer weights keep their layer groups converted
 * in the weight cache (onnx/weightCache.ts) when one is given: measured on the Llama-3.2-1B shape,
 * a load from the cache takes 0.3 s instead of 17 s. Smaller models convert and pre-pack at each
 * load (Qwen2.5-0.5B: a few seconds), which keeps their analyses about 12% faster.
 */
export const WEIGHT_CACHE_MIN_BYTES = 2e9;
/** Attentions above this many bytes as float32 are kept as float16 (half the memory). */
export const FLOAT16_THRESHOLD_BYTES = 256 * 1024 * 1024;
/** What an analysis may hold in memory, attentions and transient n² buffers together (budget.ts); longer texts are refused with the limit. */
export const ATTENTION_BUDGET_BYTES = ANALYSIS_BUDGET_BYTES;

/** Progress callback; called between steps, right before the engine checks for cancellation. */
export type ProgressFn = (message: string, fraction?: number) => void;

export interface LoadOptions {
  /** The families the engine may build (src/models registers them all). */
  families: FamilyRegistry;
  name?: string;
  source?: string;
  /** What the engine may hold, in GB (10⁹ bytes); default `defaultMemoryLimitGB()`. */
  memoryLimitGB?: number;
  /**
   * Folder of the float32 weight cache (default: $ATTENTION_INSPECTOR_WEIGHT_CACHE; none: convert at
   * each load). Used for models whose layer weights reach `weightCacheMinBytes` (default WEIGHT_CACHE_MIN_BYTES).
   */
  weightCacheDir?: string;
  weightCacheMinBytes?: number;
  /** Heads whose attention a layer computes at once (default headsPerChunkFor(summary); tests set 1 to check the chunked path on small models). */
  attentionHeadsPerChunk?: number;
  /**
   * Encoder-decoders: layers per stack session at most (default MAX_LAYERS_PER_CHUNK), and for every
   * model the layers per generation session; tests set 1 to run small models in several sessions, as large ones run.
   */
  stackLayersPerChunk?: number;
}

/**
 * Heads per attention chunk inside a layer for models that take long texts: a long text's scores
 * exist for this many heads at a time (4,096 tokens: 2 × 67 MB per copy instead of 32 × 67 MB on a
 * 32-head model).
 */
export const HEADS_PER_CHUNK = 2;
/** Scores of every head at the model's longest text below this many bytes: no chunking (no extra nodes for short-context models). */
const UNCHUNKED_SCORES_BYTES = 256 * 1024 * 1024;

/** All heads at once where the model's positions keep the scores small (BERT, GPT-2), HEADS_PER_CHUNK otherwise. */
export function headsPerChunkFor(summary: Pick<ModelSummary, 'numHeads' | 'maxTokens'>): number {
  const n = summary.maxTokens ?? Infinity;
  return 3 * 4 * summary.numHeads * n * n <= UNCHUNKED_SCORES_BYTES ? summary.numHeads : HEADS_PER_CHUNK;
}

const GB = 1e9;

/** Half the machine's memory, in whole GB (at least 1): the rest is left to the editor and everything else. */
export function defaultMemoryLimitGB(): number {
  return Math.max(1, Math.floor(os.totalmem() / GB / 2));
}

function size(bytes: number): string {
  return bytes >= 0.1 * GB ? `${(bytes / GB).toFixed(1)} GB` : `${Math.max(0.1, bytes / 1e6).toFixed(1)} MB`;
}

/** How the layers are grouped into sessions and which groups stay loaded. */
export interface MemoryPlan {
  /** Layer indices of each session, in order. */
  groups: number[][];
  /** The first `warm` groups stay loaded; the others are built, run and released on each request. */
  warm: number;
  limitBytes: number;
  /** Float32 bytes of one layer's weights. */
  layerBytes: number;
}

/**
 * Groups layers under the memory limit. If the whole model fits, every group stays warm. Otherwise
 * groups are streamed: the leading groups that fit stay warm, leaving room to build one streamed
 * group at a time. A model whose single layer cannot be built within the limit is refused with the
 * limit that would do.
 */
export function planMemory(numLayers: number, layerBytes: number, limitBytes: number): MemoryPlan {
  const oneLayer = layerBytes * BUILD_OVERHEAD;
  if (oneLayer > limitBytes) {
    const need = Math.ceil((oneLayer + 0.5 * GB) / GB);
    throw new EngineError(
      'memory-limit',
      `One layer of this model needs about ${size(oneLayer)} to load, more than the memory limit of ${size(limitBytes)}. ` +
        `Raise attentionInspector.memoryLimitGB to at least ${need} (or use a smaller model).`,
      { limit: need },
    );
  }
  const perGroup = Math.max(1, Math.min(MAX_LAYERS_PER_CHUNK, Math.floor(CHUNK_BYTES / Math.max(1, layerBytes)), Math.floor(limitBytes / oneLayer)));
  const groups: number[][] = [];
  for (let first = 0; first < numLayers; first += perGroup) groups.push(Array.from({ length: Math.min(perGroup, numLayers - first) }, (_, i) => first + i));
  const groupBytes = (g: number[]) => g.length * layerBytes;
  // Everything fits: all groups held, plus the build overhead of the last one while it loads.
  if (numLayers * layerBytes + perGroup * layerBytes * (BUILD_OVERHEAD - 1) <= limitBytes) return { groups, warm: groups.length, limitBytes, layerBytes };
  // Streaming: keep room for building the largest group beside the warm ones.
  const room = limitBytes - perGroup * oneLayer;
  let warm = 0;
  for (let held = 0; warm < groups.length && held + groupBytes(groups[warm]) <= room; warm++) held += groupBytes(groups[warm]);
  return { groups, warm, limitBytes, layerBytes };
}

interface Chunk {
  layers: number[];
  /** Loaded for the whole model's life (warm), or undefined when the group is streamed. */
  session: ort.InferenceSession | undefined;
  /** A warm group running at stored precision until it is converted into the weight cache (convertNextGroup). */
  awaitingCache?: boolean;
  /** The position inputs this group's graph declares. */
  inputs: PositionInput[];
}


function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'The analysis was cancelled.');
}

/**
 * How a session holds a group's weights.
 * - `float32`: onnxruntime folds each 16-bit weight's Cast to float32 and pre-packs the result when
 *   the session is built (or maps both from the weight cache). Costly to build, fastest to run.
 * - `stored`: no graph optimization at all, so the weights stay as stored (bf16 takes half the
 *   memory) and each layer casts them when it runs; building the session costs next to nothing.
 *   Measured on the Llama-3.2-1B shape at 128 tokens (2 cores): load 0.2 s instead of 9.2 s, an
 *   analysis 3.5 s instead of 1.2 s, peak RSS 2.4 GB instead of 4.1 GB. A streamed group is built
 *   for one run, so it is always `stored`: at a 2 GB limit the first 1B result came 3.1× sooner, and
 *   the Llama-3.1-8B shape's first result took 42 s instead of more than 40 min of conversion.
 *   Our graphs are written with the fused operators already (FusedMatMul, LayerNormalization,
 *   Gelu), so skipping optimization changes no arithmetic beyond what folding would have done.
 */
export type WeightPrecision = 'float32' | 'stored';

export function sessionOptions(externalFolder: string | undefined, precision: WeightPrecision = 'float32'): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = {
    // Layers run session after session: a finished session's threads must sleep at once rather
    // than spin, or they take the cores from the next one (measured: 1.9× slower with spinning).
    'intra_op.allow_spinning': '0',
  };
  // The graph comes as bytes; its external data lies in the checkpoint's (canonical) folder.
  if (externalFolder) session.model_external_initializers_file_folder_path = externalFolder;
  return {
    graphOptimizationLevel: precision === 'stored' ? 'disabled' : 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    interOpNumThreads: 1,
    extra: { session },
    // Every layer group is its own session; per-session arenas would each keep their largest
    // activations (≈300 MB more on bert-base at 512 tokens) for no measurable speed.
    enableCpuMemArena: false,
    enableMemPattern: false,
  };
}

export class AttentionModel {
  /** What `analyze` last analyzed, kept for `headVectors`. */
  private last: KeptSelfAnalysis | undefined;
  private attentionSessions: AttentionSessions | undefined;
  private headsPerChunk = HEADS_PER_CHUNK;
  /** What "Continue and Show Attention" builds its sessions from (src/engine/generate.ts), and the sessions once built. */
  private generationSource?: GenerationSource;
  private generator?: Promise<Generator>;

  private constructor(
    readonly summary: ModelSummary,
    private readonly arch: Architecture,
    private readonly checkpoint: Checkpoint,
    private readonly tokenizer: TextTokenizer,
    private readonly chunks: Chunk[],
    /** How layers are grouped and which groups stream (tests, CLI). */
    readonly memory: MemoryPlan,
    /** The longest text whose analysis fits the memory budget (see budget.ts). */
    private readonly tokensByMemory: number,
    /** Encoder-decoders run in their own two-stack runner (./encoderDecoder.ts). */
    private readonly seq2seq?: EncoderDecoderRunner,
    /** Where this model's layer groups are kept converted to float32; undefined: built from the checkpoint. */
    readonly weightCache?: WeightCache,
  ) {}

  /** Loads `folder` with the family that `options.families` registers for its model_type, within the memory limit. */
  static async load(folder: string, options: LoadOptions, onProgress?: ProgressFn, signal?: AbortSignal): Promise<AttentionModel> {
    // The engine used as a library (a script, a test run by hand with mocha) gets the extension's
    // privacy too: on the main thread this comes before the process's first session (telemetry.ts).
    disableOnnxruntimeTelemetry();
    const checkpoint = Checkpoint.open(folder);
    const chunks: Chunk[] = [];
    try {
      const created = options.families.create(checkpoint);
      if (isEncoderDecoder(created)) {
        const { encoder, decoder } = created;
        for (const stack of [encoder, decoder]) {
          checkSummary(stack.summary);
          checkEmbedding(checkpoint, (ids, typeIds) => stack.embed(ids, typeIds), stack.summary.hiddenSize);
        }
        const tokenizer = TextTokenizer.load(folder);
        const limitGB = options.memoryLimitGB ?? defaultMemoryLimitGB();
        if (!(limitGB > 0)) throw new EngineError('memory-limit', `The memory limit must be a positive number of GB (attentionInspector.memoryLimitGB is ${limitGB}).`);
        const plan = planMemory(encoder.summary.numLayers + decoder.summary.numLayers, Math.max(encoder.layerBytes, decoder.layerBytes), limitGB * GB);
        if (plan.warm < plan.groups.length) {
          throw new EngineError('memory-limit', `This encoder-decoder needs more than the memory limit (${limitGB} GB) and its layers do not stream yet: raise attentionInspector.memoryLimitGB or pick a smaller model.`);
        }
        const summary: ModelSummary = { ...encoderDecoderSummary(created), name: options.name ?? path.basename(folder), source: options.source ?? folder };
        const headsPerChunk = options.attentionHeadsPerChunk ?? Math.min(headsPerChunkFor(encoder.summary), headsPerChunkFor(decoder.summary));
        const limits = { chunkBytes: CHUNK_BYTES, maxLayersPerChunk: options.stackLayersPerChunk ?? MAX_LAYERS_PER_CHUNK, float16ThresholdBytes: FLOAT16_THRESHOLD_BYTES, attentionBudgetBytes: ATTENTION_BUDGET_BYTES, headsPerChunk, sessionOptions };
        const runner = await EncoderDecoderRunner.load(created, summary, tokenizer, limits, onProgress, signal);
        onProgress?.('Model ready', 1);
        return new AttentionModel(summary, encoder, checkpoint, tokenizer, [], plan, runner.limitsFor().encoder, runner).withGeneration(created, options.stackLayersPerChunk);
      }
      const arch = created;
      checkSummary(arch.summary);
      checkEmbedding(checkpoint, (ids, typeIds) => arch.embed(ids, typeIds), arch.summary.hiddenSize);
      const tokenizer = TextTokenizer.load(folder);
      const { numLayers } = arch.summary;
      const limitGB = options.memoryLimitGB ?? defaultMemoryLimitGB();
      if (!(limitGB > 0)) throw new EngineError('memory-limit', `The memory limit must be a positive number of GB (attentionInspector.memoryLimitGB is ${limitGB}).`);
      const plan = planMemory(numLayers, arch.layerBytes, limitGB * GB);
      const cacheDir = options.weightCacheDir ?? process.env[WEIGHT_CACHE_ENV];
      const envMinBytes = process.env[WEIGHT_CACHE_MIN_BYTES_ENV];
      const minBytes = options.weightCacheMinBytes ?? (envMinBytes !== undefined && envMinBytes !== '' && Number.isFinite(Number(envMinBytes)) ? Number(envMinBytes) : WEIGHT_CACHE_MIN_BYTES);
      const weightCache = cacheDir && numLayers * arch.layerBytes >= minBytes ? { dir: cacheDir } : undefined;
      const headsPerChunk = options.attentionHeadsPerChunk ?? headsPerChunkFor(arch.summary);
      for (const [c, layers] of plan.groups.entries()) {
        if (c >= plan.warm) {
          // Streamed groups are built on each request; building the graph alone says which inputs it takes.
          chunks.push({ layers, session: undefined, inputs: buildGraph(arch, layers, headsPerChunk).inputs });
          continue;
        }
        onProgress?.(`Building layers ${layers[0] + 1}–${layers[layers.length - 1] + 1} of ${numLayers}`, c / plan.groups.length);
        throwIfCancelled(signal);
        const built = buildGraph(arch, layers, headsPerChunk);
        const cached = weightCache && (await openCached(cacheEntry(built, weightCache), sessionOptions(built.externalFolder)));
        if (cached) chunks.push({ layers, session: cached, inputs: built.inputs });
        // Converting now would hold back the first result (the Llama-3.1-8B shape: about 12 CPU-s per
        // layer): a cached model's groups run at stored precision until converted when idle.
        else if (weightCache) chunks.push({ layers, session: await storedSession(built), inputs: built.inputs, awaitingCache: true });
        else chunks.push({ layers, session: await float32Session(built), inputs: built.inputs });
      }
      const streamed = plan.groups.length - plan.warm;
      onProgress?.(streamed > 0 ? `Model ready; ${streamed} of ${plan.groups.length} layer groups stream on each request (the model is larger than the memory limit)` : 'Model ready', 1);
      const summary: ModelSummary = { ...arch.summary, name: options.name ?? path.basename(folder), source: options.source ?? folder };
      const positionShapes = Object.fromEntries(chunks.flatMap((ch) => ch.inputs).map((input) => [input.name, input.dims]));
      const layersPerChunk = Math.max(...plan.groups.map((layers) => layers.length));
      const tokensByMemory = maxTokensByMemory({ summary, positionShapes, layersPerChunk, float16ThresholdBytes: FLOAT16_THRESHOLD_BYTES });
      const model = new AttentionModel(summary, arch, checkpoint, tokenizer, chunks, plan, tokensByMemory, undefined, weightCache);
      model.headsPerChunk = headsPerChunk;
      return model.withGeneration(arch, options.stackLayersPerChunk);
    } catch (err) {
      await Promise.all(chunks.map((c) => c.session?.release()));
      checkpoint.close();
      throw err;
    }
  }

  private withGeneration(arch: GenerationSource['arch'], maxLayersPerGroup: number | undefined): this {
    const held = this.seq2seq ? this.memory.groups.flat().length * this.memory.layerBytes : this.summary.numLayers * this.arch.layerBytes;
    this.generationSource = {
      arch,
      checkpoint: this.checkpoint,
      tokenizer: this.tokenizer,
      summary: this.summary,
      sessionOptions,
      limits: () => ({ input: this.maxTokens, decoder: this.seq2seq?.limitsFor().decoder ?? this.maxTokens }),
      memory: { limitBytes: this.memory.limitBytes, heldBytes: held },
      float16ThresholdBytes: FLOAT16_THRESHOLD_BYTES,
      ...(maxLayersPerGroup !== undefined ? { maxLayersPerGroup } : {}),
    };
    return this;
  }

  /**
   * "Continue and Show Attention": greedy continuation of `text` with the model's LM head (key/value
   * cache), then the attention over prompt + generated tokens (src/engine/generate.ts).
   */
  async generate(text: string, options: GenerateOptions, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    if (!this.generationSource) throw new EngineError('not-loaded', 'The model is not loaded.');
    this.generator ??= Generator.create(this.generationSource, onProgress, signal);
    let generator: Generator;
    try {
      generator = await this.generator;
    } catch (err) {
      this.generator = undefined;
      throw err;
    }
    return generator.run(text, options, signal, onProgress);
  }

  /**
   * Makes a generation's sequence the engine's last run, so that step by step reads its q, k, v:
   * prompt and generated tokens analyzed again by their ids (generated tokens are not re-tokenized
   * from the decoded text, which may split differently). Generation itself runs its own sessions.
   */
  async rerunGenerated(result: AttentionResult, signal?: AbortSignal): Promise<void> {
    if (this.seq2seq) {
      if (!result.decoderTokens) throw new EngineError('internal', 'A generation of an encoder-decoder has decoder tokens.');
      await this.seq2seq.analyze(result.text, {}, signal, undefined, result.decoderTokens);
      return;
    }
    const ids = result.tokens.map((t) => t.id);
    await this.run(result.text, { ids, typeIds: ids.map(() => 0), tokens: result.tokens }, {}, signal);
  }

  /** The longest text in tokens this model accepts: its positions, or what the attention memory budget allows. */
  get maxTokens(): number {
    if (this.seq2seq) return this.seq2seq.limitsFor().encoder;
    return Math.min(this.summary.maxTokens ?? Infinity, this.tokensByMemory);
  }

  /** The longest text in tokens `analyzeKept` accepts on single-stack models: the model's positions and what the kept state may hold (not n²). */
  get maxKeptTokens(): number {
    return Math.min(this.summary.maxTokens ?? Infinity, keptTokensByMemory(this.summary, this.chunks.flatMap((c) => c.inputs), this.headsPerChunk, this.keptBudgetBytes()));
  }

  tokenize(text: string, textPair?: string) {
    return this.tokenizer.encode(text, textPair);
  }

  /** Tokens of `text` for an analysis, cut to `truncateTo` and checked against `limit` (why: the message's reason). */
  private async encodeFor(text: string, options: AnalyzeOptions, limit: number, why: string) {
    if (text.trim().length === 0 && !options.textPair?.trim()) {
      throw new EngineError('empty-text', 'There is no text to analyze: select some text (or put the cursor on a non-empty line).');
    }
    const encoded = await this.tokenizer.encode(text, options.textPair);
    let { ids, typeIds, tokens } = encoded;
    if (options.truncateTo !== undefined && ids.length > options.truncateTo) {
      const keep = Math.max(1, Math.min(options.truncateTo, limit));
      ids = ids.slice(0, keep);
      typeIds = typeIds.slice(0, keep);
      tokens = tokens.slice(0, keep);
    }
    if (ids.length > limit) {
      throw new EngineError('too-long', `The text is ${ids.length} tokens long; ${why}. Select less text or analyze the first ${limit} tokens.`, { limit, length: ids.length });
    }
    return { ids, typeIds, tokens, fullLength: encoded.ids.length };
  }

  /** The embedding and every position input of an n-token text. */
  private prepare(ids: number[], typeIds: number[]): { hidden: Float32Array; positions: Positions } {
    const hidden = this.arch.embed(ids, typeIds);
    if (firstNonFinite(hidden) >= 0) throw nonFiniteError(this.checkpoint, 'The embedding of this text', -1);
    const n = ids.length;
    const positions: Positions = new Map();
    for (const input of new Set(this.chunks.flatMap((ch) => ch.inputs))) {
      const dims = input.dims.map((d) => {
        if (d === 'm') throw new EngineError('internal', `${input.name} has an encoder axis; encoder-decoder models are not built yet`);
        return d === 'n' ? n : d;
      });
      positions.set(input, { data: input.compute(n), dims });
    }
    return { hidden, positions };
  }

  /** What the kept pass (./kept.ts) borrows from this runner. */
  private get runner(): KeptRunner {
    this.attentionSessions ??= new AttentionSessions(this.arch, Math.min(GB / 2, this.memory.limitBytes / 16), sessionOptions);
    return {
      summary: this.summary,
      arch: this.arch,
      checkpoint: this.checkpoint,
      groups: this.chunks,
      runGroup: (c, hidden, n, positions, fetches) => this.runChunk(this.chunks[c], hidden, n, positions, fetches),
      sessions: this.attentionSessions,
    };
  }

  async analyze(text: string, options: AnalyzeOptions = {}, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    if (this.seq2seq) {
      return this.seq2seq.analyze(text, options, signal, onProgress);
    }
    const t0 = performance.now();
    const limit = this.maxTokens;
    const why = this.summary.maxTokens !== null && limit === this.summary.maxTokens ? `${this.summary.name} handles at most ${limit} tokens` : `attention for more than ${limit} tokens would not fit in memory`;
    const { ids, typeIds, tokens, fullLength } = await this.encodeFor(text, options, limit, why);
    const t1 = performance.now();
    const result = await this.run(text, { ids, typeIds, tokens }, options, signal, onProgress);
    return { ...result, ...(ids.length < fullLength ? { truncatedFrom: fullLength } : {}), timings: { tokenizeMs: t1 - t0, computeMs: result.timings.computeMs } };
  }

  /**
   * The repeated-random-tokens probe (./probe.ts): `length` distinct ordinary tokens drawn with
   * `seed`, twice, inside the special tokens the tokenizer adds to a text; analyzed from the ids.
   */
  async analyzeProbe(length: number, seed: number, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    if (this.seq2seq) throw new EngineError('unsupported-architecture', `The repeated-token probe runs on single-stack models; ${this.summary.name} is an encoder-decoder.`);
    const frame = await this.tokenizer.specialFrame();
    const { ids, info } = repeatedRandomTokens(this.tokenizer.ordinaryIds(), frame, length, seed, this.maxTokens);
    const { text, tokens } = this.tokenizer.tokensForIds(ids, new Set([...frame.prefix, ...frame.suffix]));
    const result = await this.run(text, { ids, typeIds: ids.map(() => 0), tokens }, {}, signal, onProgress);
    return { ...result, probe: info };
  }

  /** Runs the layers over tokens already made (a text's, or the probe's). */
  private async run(text: string, encoded: Encoded, options: AnalyzeOptions, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    const { ids, typeIds, tokens } = encoded;
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
    const prepared = this.prepare(ids, typeIds);
    hiddenStates?.set(prepared.hidden, 0);
    const layerInputs: Float32Array[] = [];
    const runner = this.runner;
    await runPass(
      runner,
      prepared.hidden,
      n,
      prepared.positions,
      {
        want: 'probs',
        heads(layer, first, count, probs) {
          const at = layer * layerSize + first * n * n;
          const part = probs.subarray(0, count * n * n);
          if (attentions instanceof Uint16Array) encodeHalfArray(part, attentions.subarray(at, at + part.length));
          else attentions.set(part, at);
        },
        layerDone: ({ layer, input, valueNorms: norms }, out) => {
          layerInputs[layer] = input === prepared.hidden ? input : new Float32Array(input);
          valueNorms.set(norms, layer * numHeads * n);
          if (hiddenStates) {
            const state = layer === numLayers - 1 && out.final ? out.final : out[`hidden_${layer}`];
            hiddenStates.set(state.data as Float32Array, (layer + 1) * n * hiddenSize);
          }
        },
      },
      (layers) => [...(hiddenStates ? layers.map((l) => `hidden_${l}`) : []), ...(hiddenStates && layers.includes(numLayers - 1) && this.arch.buildFinal ? ['final'] : [])],
      signal,
      onProgress,
    );
    this.last?.dispose();
    this.last = new KeptSelfAnalysis(runner, this.summary, text, tokens, layerInputs, prepared.positions);
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
      timings: { tokenizeMs: 0, computeMs: t2 - t1 },
    };
  }

  /**
   * Analyzes `text` keeping only each layer's input hidden state and per-head summaries (handed to
   * `onSummaries` layer group by layer group); exact matrices are recomputed on request. The
   * length is bounded by the model's positions and by the memory of what is kept, not by n².
   * Encoder-decoders keep each layer's q/k in their runner (./encoderDecoder.ts, ./keptSeq2seq.ts).
   */
  async analyzeKept(text: string, options: AnalyzeOptions = {}, signal?: AbortSignal, onProgress?: ProgressFn, onSummaries?: (summaries: LayerSummaries[]) => void, kept: KeptOptions = {}): Promise<KeptAnalysis> {
    // Encoder-decoders keep q/k per layer too, in their own runner; step by step reruns a chunk from the analysis's own inputs.
    if (this.seq2seq) return this.seq2seq.analyzeKept(text, options, this.keptBudgetBytes(), signal, onProgress, onSummaries, kept);
    const scorers = kept.scorers ?? defaultHeadScorers();
    const t0 = performance.now();
    const { numHeads } = this.summary;
    const positionsLimit = this.summary.maxTokens ?? Infinity;
    const limit = this.maxKeptTokens;
    const why = limit === positionsLimit ? `${this.summary.name} handles at most ${limit} tokens` : `what an analysis keeps for more than ${limit} tokens would not fit in the memory limit (attentionInspector.memoryLimitGB)`;
    const { ids, typeIds, tokens, fullLength } = await this.encodeFor(text, options, limit, why);
    const t1 = performance.now();
    onProgress?.(`${ids.length} tokens`, 0);
    throwIfCancelled(signal);
    const n = ids.length;
    const prepared = this.prepare(ids, typeIds);
    const layerInputs: Float32Array[] = [];
    const runner = this.runner;
    const analysis = new KeptSelfAnalysis(runner, this.summary, text, tokens, layerInputs, prepared.positions);
    const { numLayers, numKeyValueHeads, headDim } = this.summary;
    const groups = numHeads / numKeyValueHeads;
    const noGraphTerms = Array.from({ length: numLayers }, (_, l) => this.arch.site(l).graphTerms.length === 0).every(Boolean);
    const keepQk = kept.keepQueriesAndKeys !== false && noGraphTerms && 4 * numLayers * n * headDim * (numHeads + numKeyValueHeads) <= KEPT_QK_BYTES;
    analysis.keepsQk = keepQk;
    // Its layers can be asked for from now on, each as soon as the pass has computed it.
    kept.onStart?.(analysis);
    const pending = new Map<number, LayerSummaries>();
    const summaryOf = (layer: number) => pending.get(layer) ?? pending.set(layer, emptySummaries('self', layer, numHeads, n, n, new Float32Array(numHeads * n), scorers)).get(layer)!;
    const causal = this.summary.causal;
    return runKeptPass(analysis, () =>
      runPass(
        runner,
        prepared.hidden,
        n,
        prepared.positions,
        {
          want: 'summary',
          heads: (layer, first, count, probs, entropy) => {
            summarizeHeads(summaryOf(layer), scorers, first, count, probs, entropy!, causal, ids, ids);
            const want = kept.keepHead;
            if (want && want.layer === layer && want.head >= first && want.head < first + count && 4 * n * n <= KEPT_HEAD_BYTES) {
              const at = (want.head - first) * n * n;
              analysis.shownHead = { layer, head: want.head, probs: sharedCopy(probs.subarray(at, at + n * n)) };
            }
          },
          layerDone: ({ layer, input, valueNorms, qk }) => {
            layerInputs[layer] = input === prepared.hidden ? input : new Float32Array(input);
            summaryOf(layer).valueNorms.set(valueNorms);
            // In shared memory: the engine's view thread serves this layer's heads from them without a copy.
            if (keepQk) analysis.keptQk[layer] = { q: sharedCopy(qk.q), ...distinctKeyHeads(qk.k, numHeads, groups, n * headDim) };
          },
          groupDone: (layers) => {
            const done = layers.map((l) => pending.get(l)!);
            layers.forEach((l) => pending.delete(l));
            analysis.summaries.push(...done);
            analysis.layersAdded();
            onSummaries?.(done);
          },
          ...(kept.testHoldAfterGroup ? { testHold: kept.testHoldAfterGroup } : {}),
        },
        () => [],
        signal,
        onProgress,
      ), { n, fullLength }, { t0, t1 });
  }

  /** What kept analyses may hold: the memory limit less the weights of the warm groups (at least the n² budget of `analyze`). */
  private keptBudgetBytes(): number {
    const warmLayers = this.memory.groups.slice(0, this.memory.warm).reduce((a, g) => a + g.length, 0);
    return Math.max(ATTENTION_BUDGET_BYTES, this.memory.limitBytes - warmLayers * this.memory.layerBytes * BUILD_OVERHEAD);
  }

  /** Runs one group: its warm session, or (streamed) a session built for this run and released at once. */
  private async runChunk(chunk: Chunk, hidden: Float32Array, n: number, positions: Positions, fetches: string[]): Promise<ort.InferenceSession.ReturnType> {
    const session = chunk.session ?? (await storedSession(buildGraph(this.arch, chunk.layers, this.headsPerChunk)));
    try {
      const feeds: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [n, this.summary.hiddenSize]) };
      for (const input of chunk.inputs) {
        const value = positions.get(input);
        if (!value) throw new Error(`no position input ${input.name}`);
        feeds[input.name] = new ort.Tensor('float32', value.data, value.dims);
      }
      return await session.run(feeds, fetches);
    } finally {
      if (!chunk.session) await session.release();
    }
  }

  /** Warm layer groups still at stored precision, waiting to be converted into the weight cache. */
  get groupsAwaitingCache(): number {
    return this.chunks.filter((c) => c.awaitingCache).length;
  }

  /**
   * Idle work: converts the next warm group that waits for the weight cache, on the conversion
   * thread (nothing of the model changes meanwhile, so analyses may run), and returns `install`,
   * which swaps the group's stored-precision session for the float32 one mapped from the cache
   * (later analyses run about 3× faster on those layers). Call `install` when no analysis runs.
   * Undefined when no group waits.
   */
  async convertNextGroup(): Promise<{ install: () => Promise<void>; description: string; converted: boolean } | undefined> {
    const chunk = this.chunks.find((c) => c.awaitingCache);
    const cache = this.weightCache;
    if (!chunk || !cache) return undefined;
    chunk.awaitingCache = false;
    const built = buildGraph(this.arch, chunk.layers, this.headsPerChunk);
    const options = sessionOptions(built.externalFolder);
    const entry = cacheEntry(built, cache);
    const converted = await convertIntoCache(built, entry, options);
    return {
      description: `layers ${chunk.layers[0] + 1}–${chunk.layers[chunk.layers.length - 1] + 1} of ${this.summary.numLayers}`,
      converted,
      install: async () => {
        // An unwritable cache leaves the group at stored precision: slower, never wrong.
        const session = converted && (await openCached(entry, options));
        if (!session) return;
        const old = chunk.session;
        chunk.session = session;
        await old?.release();
      },
    };
  }

  /** Converts and installs every warm group that waits for the cache, one after another (CLI, benchmark, tests: nothing else runs). Returns how many. */
  async convertWaitingGroups(): Promise<number> {
    let count = 0;
    for (let next = await this.convertNextGroup(); next; next = await this.convertNextGroup(), count++) await next.install();
    return count;
  }

  /** q, k, v of one layer and head for the last text `analyze` analyzed (kept analyses have their own). */
  async headVectors(layer: number, head: number, block?: AttentionBlockKind): Promise<HeadVectors> {
    if (this.seq2seq) return this.seq2seq.headVectors(layer, head, block);
    const last = this.last;
    if (!last) throw new EngineError('not-loaded', 'Analyze a text first.');
    const { numLayers, numHeads } = this.summary;
    if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads) throw new EngineError('internal', `No layer ${layer} head ${head} in this model.`);
    return last.headVectors('self', layer, head);
  }

  async dispose(): Promise<void> {
    this.last?.dispose();
    this.last = undefined;
    const generator = this.generator;
    this.generator = undefined;
    await generator?.then((g) => g.dispose(), () => undefined);
    await this.attentionSessions?.dispose();
    await this.seq2seq?.dispose();
    await Promise.all(this.chunks.map((c) => c.session?.release()));
    this.checkpoint.close();
  }
}

/** One group's graph (layers in order, the hidden state carried between them) and the position inputs it declares. */
function buildGraph(arch: Architecture, layers: number[], headsPerChunk: number): BuiltGraph & { inputs: PositionInput[] } {
  const { numLayers, numHeads, hiddenSize, headDim } = arch.summary;
  const g = new GraphBuilder();
  const nn = new Nn(g, headsPerChunk);
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
  for (const layer of layers) {
    const out = arch.buildLayer(nn, layer, hidden, use);
    const headDims = [numHeads, 'n', headDim];
    const layerOutput = g.output(`hidden_${layer}`, out.hidden, ['n', hiddenSize]);
    if (out.terms) g.output(`terms_${layer}`, out.terms, [numHeads, 'n', 'n']);
    g.output(`value_norms_${layer}`, out.valueNorms, [numHeads, 'n']);
    g.output(`q_${layer}`, out.q, headDims);
    g.output(`k_${layer}`, out.k, headDims);
    hidden = layerOutput;
  }
  if (layers[layers.length - 1] === numLayers - 1 && arch.buildFinal) g.output('final', arch.buildFinal(nn, hidden), ['n', hiddenSize]);
  return { ...g.build(`${arch.summary.modelType}_layers_${layers[0]}`), inputs: [...declared.values()] };
}

/** A group's session at stored precision (see WeightPrecision), read from the checkpoint. */
function storedSession(built: BuiltGraph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(built.bytes, sessionOptions(built.externalFolder, 'stored'));
}

/** A group's float32 session built from the checkpoint: onnxruntime folds the casts and pre-packs. */
function float32Session(built: BuiltGraph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(built.bytes, sessionOptions(built.externalFolder));
}
