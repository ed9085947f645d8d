/**
 * "Continue and Show Attention": greedy continuation with the model's own LM head, then the
 * attention over prompt + generated tokens.
 *
 * Generation runs its own sessions, built once per model on first use: each layer group's graph
 * takes the past keys and values of its layers as inputs and returns them with the new tokens'
 * appended (src/engine/kvCache.ts), so a step runs one token through the stack. Position inputs
 * (rotary tables, masks, ALiBi, relative biases) are computed for the current length and only the
 * new tokens' query rows are fed. Where a length-dependent position input changes the rows of
 * tokens already cached (dynamic NTK rescales its base past max_position_embeddings; longrope
 * switches to its long factors past original_max_position_embeddings), the cache is dropped and
 * the step recomputes the whole sequence: that is what plain forwards give, what transformers'
 * Phi-3 cache does and what the reference fixtures record (see their README, "Greedy generation").
 * The attentions shown are those of one forward over the whole sequence, as transformers returns
 * them from `model(prompt + generated)`.
 *
 * Encoder-decoders: the encoder runs once over the text; the decoder starts from the model's
 * decoder start token and continues greedily, its self-attention cached, its cross-attention over
 * the encoder output.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AttentionResult, GenerateOptions, GenerationInfo, ModelSummary, TokenInfo } from '../protocol/types';
import { attentionBlock, stacked } from './encoderDecoder';
import { ENCODER_OUTPUT, isEncoderDecoder, type Architecture, type DecoderLayerOutputs, type DecoderStack, type EncoderDecoderArchitecture, type PositionInput } from './architecture';
import type { Checkpoint } from './checkpoint';
import { EngineError } from './errors';
import { firstNonFinite } from './finite';
import { setKvCacheHook } from './kvCache';
import { greedySettings, processLogits } from './logitsProcessors';
import { GraphBuilder, type BuiltGraph } from './onnx/graph';
import { Nn } from './onnx/layers';
import type { TextTokenizer } from './tokenizer';

type ProgressFn = (message: string, fraction?: number) => void;

/** What the generator needs from a loaded model (model.ts hands it over). */
export interface GenerationSource {
  arch: Architecture | EncoderDecoderArchitecture;
  checkpoint: Checkpoint;
  tokenizer: TextTokenizer;
  summary: ModelSummary;
  sessionOptions: (externalFolder: string | undefined) => ort.InferenceSession.SessionOptions;
  /** The longest input and (encoder-decoders) decoder sequence in tokens. */
  limits: () => { input: number; decoder: number };
  /** Bytes the engine may hold, and what the loaded model already holds. */
  memory: { limitBytes: number; heldBytes: number };
  /** Attentions above this many float32 bytes are returned as float16. */
  float16ThresholdBytes: number;
  /** Layers per generation session at most (default MAX_LAYERS_PER_GROUP; tests set 1, as large models run). */
  maxLayersPerGroup?: number;
}

const CHUNK_BYTES = 64 * 1024 * 1024;
const MAX_LAYERS_PER_GROUP = 6;
const MAX_CONFIG_BYTES = 1 << 20;

interface Group {
  session: ort.InferenceSession;
  layers: number[];
  inputs: PositionInput[];
}

/** One stack's generation sessions. */
interface StackGraphs {
  arch: Architecture | DecoderStack;
  groups: Group[];
  /** Self-attention keys and values are cached (causal stacks). */
  cached: boolean;
  cross: boolean;
  /** The logit terms of the stack's sites: their last `n` axis is the key axis. */
  terms: Set<PositionInput>;
}

/** Per-layer keys and values `[heads, t, d]` of the tokens run so far. */
type KvState = Map<number, { k: ort.Tensor; v: ort.Tensor }>;

interface StackRun {
  /** The stack output (after its final norm) of the last row. */
  lastRow: Float32Array;
  /** The full stack output (encoder). */
  output: Float32Array;
  presents: KvState;
  probs: Float32Array[];
  valueNorms: Float32Array[];
  crossProbs: Float32Array[];
  crossNorms: Float32Array[];
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'Generation was cancelled.');
}

/** The values of `data` (`dims`) in the box `ranges` ([start, count] per axis), row-major. */
export function subBlock(data: Float32Array, dims: readonly number[], ranges: readonly [number, number][]): Float32Array {
  const outDims = ranges.map((r) => r[1]);
  const size = outDims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (size === 0) return out;
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const last = dims.length - 1;
  const rowLen = outDims[last];
  for (let r = 0; r < size / rowLen; r++) {
    let rem = r;
    let offset = ranges[last][0];
    for (let a = last - 1; a >= 0; a--) {
      const i = rem % outDims[a];
      rem = Math.floor(rem / outDims[a]);
      offset += (ranges[a][0] + i) * strides[a];
    }
    out.set(data.subarray(offset, offset + rowLen), r * rowLen);
  }
  return out;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** The index of the largest value; the lowest index on an exact tie (torch's argmax). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function groupsOf(numLayers: number, layerBytes: number, maxPerGroup = MAX_LAYERS_PER_GROUP): number[][] {
  const per = Math.max(1, Math.min(maxPerGroup, Math.floor(CHUNK_BYTES / Math.max(1, layerBytes))));
  const groups: number[][] = [];
  for (let first = 0; first < numLayers; first += per) groups.push(Array.from({ length: Math.min(per, numLayers - first) }, (_, i) => first + i));
  return groups;
}

function createSession(built: BuiltGraph, source: GenerationSource): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(built.bytes, source.sessionOptions(built.externalFolder));
}

/** Builds a stack's layer groups with past/present key and value inputs and outputs where `cached`. */
async function buildStack(arch: Architecture | DecoderStack, cached: boolean, cross: boolean, source: GenerationSource, sessions: ort.InferenceSession[], onProgress?: ProgressFn, signal?: AbortSignal): Promise<StackGraphs> {
  const { numLayers, numHeads, hiddenSize, headDim } = arch.summary;
  const terms = new Set<PositionInput>();
  for (let l = 0; l < numLayers; l++) {
    const site = arch.site(l);
    if (site.graphTerms.length > 0) throw new EngineError('unsupported-architecture', `${source.summary.modelType} computes attention terms from all positions inside its layers; generation with a key/value cache is not implemented for it.`);
    site.terms.forEach((t) => terms.add(t));
    if (cross) (arch as DecoderStack).crossSite(l).terms.forEach((t) => terms.add(t));
  }
  // Query axes are `q` (the new tokens), key axes `t` (past + new), the encoder axis `m`.
  const symbolic = (input: PositionInput) => input.dims.map((d, i) => (d === 'n' ? (terms.has(input) && i === input.dims.length - 1 ? 't' : 'q') : d));
  const groups: Group[] = [];
  for (const layers of groupsOf(numLayers, arch.layerBytes, source.maxLayersPerGroup)) {
    onProgress?.(`Preparing generation: layers ${layers[0] + 1}–${layers[layers.length - 1] + 1} of ${numLayers}`);
    throwIfCancelled(signal);
    const g = new GraphBuilder();
    const nn = new Nn(g);
    let current = -1;
    const extended = new Set<number>();
    if (cached) {
      setKvCacheHook(nn, {
        extend(k, v) {
          if (extended.has(current)) throw new Error(`layer ${current} has two self-attention sites`);
          extended.add(current);
          const cat = (name: string, now: string) => g.output(`present_${name}@${current}`, g.op('Concat', [g.input(`past_${name}@${current}`, [numHeads, 'p', headDim]), now], { axis: 1 }), [numHeads, 't', headDim]);
          return { k: cat('k', k), v: cat('v', v) };
        },
      });
    }
    const declared = new Map<string, PositionInput>();
    const use = (input: PositionInput) => {
      const known = declared.get(input.name);
      if (known && known !== input && input.name !== ENCODER_OUTPUT) throw new Error(`two position inputs are called ${input.name}`);
      if (!known) {
        g.input(input.name, symbolic(input));
        declared.set(input.name, input);
      }
      return input.name;
    };
    let hidden = g.input('hidden', ['q', hiddenSize]);
    for (const layer of layers) {
      current = layer;
      const out = arch.buildLayer(nn, layer, hidden, use);
      if (cached && !extended.has(layer)) throw new Error(`layer ${layer} has no self-attention site to cache`);
      hidden = g.output(`hidden@${layer}`, out.hidden, ['q', hiddenSize]);
      g.output(`probs@${layer}`, out.probs, [numHeads, 'q', 't']);
      g.output(`value_norms@${layer}`, out.valueNorms, [numHeads, 't']);
      if (cross) {
        const c = (out as DecoderLayerOutputs).cross;
        g.output(`cross_probs@${layer}`, c.probs, [numHeads, 'q', 'm']);
        g.output(`cross_value_norms@${layer}`, c.valueNorms, [numHeads, 'm']);
      }
    }
    if (layers[layers.length - 1] === numLayers - 1 && arch.buildFinal) g.output('final', arch.buildFinal(nn, hidden), ['q', hiddenSize]);
    const session = await createSession(g.build(`${arch.summary.modelType}_generate_${layers[0]}`), source);
    sessions.push(session);
    groups.push({ session, layers, inputs: [...declared.values()] });
  }
  return { arch, groups, cached, cross, terms };
}

/** The LM head: the last row of the stack output → logits. */
async function buildHead(arch: Architecture | DecoderStack, source: GenerationSource, sessions: ort.InferenceSession[]): Promise<ort.InferenceSession> {
  const head = arch.lmHead!;
  const g = new GraphBuilder();
  const nn = new Nn(g);
  g.output('logits', head.build(nn, g.input('hidden', ['r', arch.summary.hiddenSize])), ['r', head.vocabSize]);
  const session = await createSession(g.build(`${arch.summary.modelType}_lm_head`), source);
  sessions.push(session);
  return session;
}

/** Position inputs of a stack at one length, kept to tell whether the cached rows still hold. */
type Positions = Map<PositionInput, { data: Float32Array; dims: number[] }>;

function computePositions(stack: StackGraphs, t: number, encoder?: { output: Float32Array; m: number }): Positions {
  const positions: Positions = new Map();
  for (const input of new Set(stack.groups.flatMap((g) => g.inputs))) {
    if (input.name === ENCODER_OUTPUT) {
      if (!encoder) throw new Error('the encoder output is missing');
      positions.set(input, { data: encoder.output, dims: [encoder.m, stack.arch.summary.hiddenSize] });
      continue;
    }
    positions.set(input, { data: input.compute(t), dims: input.dims.map((d) => (d === 'n' ? t : d === 'm' ? (encoder?.m ?? 0) : d)) });
  }
  return positions;
}

/** Whether the inputs at the new length agree with the old ones on every position before `tPrev`: then the cached keys and values still hold. */
function cacheStillHolds(now: Positions, before: Positions, tPrev: number): boolean {
  for (const [input, value] of now) {
    if (input.name === ENCODER_OUTPUT) continue;
    const old = before.get(input);
    if (!old) return false;
    const ranges = input.dims.map((d, i): [number, number] => [0, d === 'n' ? tPrev : value.dims[i]]);
    if (!sameValues(subBlock(value.data, value.dims, ranges), old.data)) return false;
  }
  return true;
}

/** The rows of the `q` newest queries: every `n` axis but a logit term's key axis keeps its last `q` entries. */
function queryRows(stack: StackGraphs, input: PositionInput, value: { data: Float32Array; dims: number[] }, q: number): { data: Float32Array; dims: number[] } {
  if (input.name === ENCODER_OUTPUT) return value;
  const last = input.dims.length - 1;
  const ranges = input.dims.map((d, i): [number, number] => (d === 'n' && !(stack.terms.has(input) && i === last) ? [value.dims[i] - q, q] : [0, value.dims[i]]));
  if (ranges.every((r, i) => r[1] === value.dims[i])) return value;
  return { data: subBlock(value.data, value.dims, ranges), dims: ranges.map((r) => r[1]) };
}

/**
 * Runs the tokens `ids[from:]` through a stack, with the keys and values of `ids[:from]` from
 * `past`. `attentions`: also fetch every layer's attention (the one forward shown).
 */
async function runStack(stack: StackGraphs, ids: number[], from: number, past: KvState | undefined, positions: Positions, attentions: boolean, signal?: AbortSignal): Promise<StackRun> {
  const { numHeads, headDim, hiddenSize, numLayers } = stack.arch.summary;
  const q = ids.length - from;
  const embedded = stack.arch.embed(ids, ids.map(() => 0));
  if (firstNonFinite(embedded) >= 0) throw new EngineError('bad-checkpoint', 'The embedding of the sequence has NaN or infinite values: the checkpoint is damaged.');
  let hidden = embedded.slice(from * hiddenSize);
  const run: StackRun = { lastRow: new Float32Array(0), output: new Float32Array(0), presents: new Map(), probs: [], valueNorms: [], crossProbs: [], crossNorms: [] };
  const empty = new ort.Tensor('float32', new Float32Array(0), [numHeads, 0, headDim]);
  for (const group of stack.groups) {
    throwIfCancelled(signal);
    const feeds: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [q, hiddenSize]) };
    for (const input of group.inputs) {
      const value = positions.get(input);
      if (!value) throw new Error(`no position input ${input.name}`);
      const rows = queryRows(stack, input, value, q);
      feeds[input.name] = new ort.Tensor('float32', rows.data, rows.dims);
    }
    const last = group.layers[group.layers.length - 1];
    const isLast = last === numLayers - 1;
    const fetches = [isLast && stack.arch.buildFinal ? 'final' : `hidden@${last}`];
    if (isLast && stack.arch.buildFinal) fetches.push(`hidden@${last}`);
    for (const l of group.layers) {
      if (stack.cached) {
        const kv = from > 0 ? past?.get(l) : undefined;
        feeds[`past_k@${l}`] = kv?.k ?? empty;
        feeds[`past_v@${l}`] = kv?.v ?? empty;
        fetches.push(`present_k@${l}`, `present_v@${l}`);
      }
      if (attentions) {
        fetches.push(`probs@${l}`, `value_norms@${l}`);
        if (stack.cross) fetches.push(`cross_probs@${l}`, `cross_value_norms@${l}`);
      }
    }
    const out = await group.session.run(feeds, fetches);
    const copy = (name: string) => new Float32Array(out[name].data as Float32Array);
    for (const l of group.layers) {
      if (stack.cached) run.presents.set(l, { k: out[`present_k@${l}`], v: out[`present_v@${l}`] });
      if (attentions) {
        run.probs.push(copy(`probs@${l}`));
        run.valueNorms.push(copy(`value_norms@${l}`));
        if (stack.cross) {
          run.crossProbs.push(copy(`cross_probs@${l}`));
          run.crossNorms.push(copy(`cross_value_norms@${l}`));
        }
      }
    }
    hidden = copy(`hidden@${last}`);
    if (isLast) run.output = stack.arch.buildFinal ? copy('final') : hidden;
  }
  run.lastRow = run.output.slice((q - 1) * hiddenSize, q * hiddenSize);
  return run;
}

async function logitsOf(head: ort.InferenceSession, row: Float32Array, hiddenSize: number): Promise<Float32Array> {
  const out = await head.run({ hidden: new ort.Tensor('float32', row, [1, hiddenSize]) }, ['logits']);
  const logits = new Float32Array(out.logits.data as Float32Array);
  out.logits.dispose?.();
  if (logits.some(Number.isNaN)) throw new EngineError('bad-checkpoint', 'The LM head gives NaN logits: the checkpoint is damaged.');
  return logits;
}

/** generation_config.json where the folder has one (small, plain JSON; never executed). */
function readGenerationConfig(checkpoint: Checkpoint): Record<string, unknown> {
  const file = path.join(checkpoint.folder, 'generation_config.json');
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_CONFIG_BYTES) throw new EngineError('bad-checkpoint', `${file} is larger than any generation config.`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof EngineError) throw err;
    return {};
  }
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    throw new EngineError('bad-checkpoint', `${file} is not valid JSON.`);
  }
}

export class Generator {
  private constructor(
    private readonly source: GenerationSource,
    private readonly main: StackGraphs,
    private readonly head: ort.InferenceSession,
    private readonly encoder: StackGraphs | undefined,
    private readonly sessions: ort.InferenceSession[],
  ) {}

  /** Builds the generation sessions; refuses models without an LM head by name. */
  static async create(source: GenerationSource, onProgress?: ProgressFn, signal?: AbortSignal): Promise<Generator> {
    const { arch, summary } = source;
    const stack = isEncoderDecoder(arch) ? arch.decoder : arch;
    if (!stack.lmHead || (!isEncoderDecoder(arch) && !summary.causal)) {
      const what = summary.causal ? `${summary.name} was saved without its language-model head (no output embedding in the checkpoint)` : `${summary.name} (${summary.modelType}) is an encoder: it has no language-model head that continues text`;
      throw new EngineError('unsupported-architecture', `Continue and Show Attention needs a causal language model (GPT-2, Llama, Qwen, …) or an encoder-decoder (T5, BART, Marian, mBART); ${what}. Use Show Attention for this model.`);
    }
    const stacks = isEncoderDecoder(arch) ? [arch.encoder, arch.decoder] : [arch];
    const bytes = stacks.reduce((s, a) => s + a.summary.numLayers * a.layerBytes, 0) + stack.lmHead.bytes;
    if (source.memory.heldBytes + bytes > source.memory.limitBytes) {
      const need = Math.ceil((source.memory.heldBytes + bytes) / 1e9 + 0.5);
      throw new EngineError('memory-limit', `Generating with ${summary.name} needs a second copy of its weights with a key/value cache (about ${(bytes / 1e9).toFixed(1)} GB more), beyond the memory limit: raise attentionInspector.memoryLimitGB to at least ${need}.`, { limit: need });
    }
    const sessions: ort.InferenceSession[] = [];
    try {
      const encoder = isEncoderDecoder(arch) ? await buildStack(arch.encoder, false, false, source, sessions, onProgress, signal) : undefined;
      const main = await buildStack(stack, true, isEncoderDecoder(arch), source, sessions, onProgress, signal);
      const head = await buildHead(stack, source, sessions);
      return new Generator(source, main, head, encoder, sessions);
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      throw err;
    }
  }

  async run(text: string, options: GenerateOptions, signal?: AbortSignal, onProgress?: ProgressFn): Promise<AttentionResult> {
    if (text.trim().length === 0) throw new EngineError('empty-text', 'There is no text to continue: select some text (or put the cursor on a non-empty line).');
    const requested = Math.floor(options.maxNewTokens);
    if (!(requested >= 1)) throw new EngineError('internal', `The number of tokens to generate must be at least 1 (attentionInspector.generateTokens is ${options.maxNewTokens}).`);
    const t0 = performance.now();
    const { tokenizer, checkpoint, summary } = this.source;
    const settings = greedySettings(checkpoint.config, readGenerationConfig(checkpoint));
    const encoded = await tokenizer.encode(text);
    const limits = this.source.limits();
    if (encoded.ids.length > limits.input || (!this.encoder && encoded.ids.length >= limits.input)) {
      throw new EngineError('too-long', `The text is ${encoded.ids.length} tokens long; ${summary.name} handles at most ${limits.input} tokens${this.encoder ? '' : ', prompt and continuation together'}. Select less text.`, { limit: limits.input, length: encoded.ids.length });
    }
    const t1 = performance.now();
    const stopAtEos = options.stopAtEos !== false;
    const processors = options.processors !== false;
    const { hiddenSize } = this.main.arch.summary;

    let encoderRun: StackRun | undefined;
    let encoderOut: { output: Float32Array; m: number } | undefined;
    if (this.encoder) {
      onProgress?.(`Encoding ${encoded.ids.length} tokens`, 0);
      const m = encoded.ids.length;
      encoderRun = await runStack(this.encoder, encoded.ids, 0, undefined, computePositions(this.encoder, m), true, signal);
      encoderOut = { output: encoderRun.output, m };
    }
    const start = settings.decoderStart;
    if (this.encoder && start === undefined) throw new EngineError('bad-checkpoint', `${summary.name}'s config.json and generation_config.json name no decoder_start_token_id (or bos_token_id) to start the decoder with.`);
    const ids = this.encoder ? [start!] : [...encoded.ids];
    const maxLength = this.encoder ? limits.decoder : limits.input;
    const steps = Math.min(requested, maxLength - ids.length);
    let stoppedBy: GenerationInfo['stoppedBy'] = steps < requested ? 'max-positions' : 'count';
    const inputLength = ids.length;
    const newIds: number[] = [];
    let cache: { kv: KvState; t: number; positions: Positions } | undefined;
    for (let k = 0; k < steps; k++) {
      onProgress?.(`Generating token ${k + 1} of ${steps}`, k / (steps + 1));
      throwIfCancelled(signal);
      const t = ids.length;
      const positions = computePositions(this.main, t, encoderOut);
      const from = cache && cacheStillHolds(positions, cache.positions, cache.t) ? cache.t : 0;
      const run = await runStack(this.main, ids, from, cache?.kv, positions, false, signal);
      cache = { kv: run.presents, t, positions };
      const logits = await logitsOf(this.head, run.lastRow, hiddenSize);
      if (processors) processLogits(logits, settings, { ids, inputLength, requested });
      const next = argmax(logits);
      ids.push(next);
      newIds.push(next);
      if (stopAtEos && settings.eos.has(next)) {
        stoppedBy = 'eos';
        break;
      }
    }
    onProgress?.('Attention over the whole sequence', steps / (steps + 1));
    throwIfCancelled(signal);
    const whole = await runStack(this.main, ids, 0, undefined, computePositions(this.main, ids.length, encoderOut), true, signal);
    const t2 = performance.now();

    const generated: TokenInfo[] = newIds.map((id) => this.generatedToken(id, settings.eos));
    const generation: GenerationInfo = {
      method: 'greedy',
      newIds,
      text: await tokenizer.decode(newIds),
      requested,
      stoppedBy,
      settings: processors ? settings.applied : [],
      ...(this.encoder ? { decoderStartId: start } : {}),
    };
    const timings = { tokenizeMs: t1 - t0, computeMs: t2 - t1 };
    const a = this.main.arch.summary;
    const n = ids.length;
    if (!this.encoder || !encoderRun) {
      const half = 4 * a.numLayers * a.numHeads * n * n > this.source.float16ThresholdBytes;
      return {
        model: summary,
        text,
        tokens: [...encoded.tokens, ...generated],
        attentions: stacked(whole.probs, [a.numLayers, a.numHeads, n, n], half),
        valueNorms: stacked(whole.valueNorms, [a.numLayers, a.numHeads, n], false),
        generation,
        timings,
      };
    }
    const e = this.encoder.arch.summary;
    const m = encoded.ids.length;
    const half = 4 * (e.numLayers * e.numHeads * m * m + a.numLayers * a.numHeads * (n * n + n * m)) > this.source.float16ThresholdBytes;
    const startRaw = tokenizer.idToToken(start!) ?? `<${start}>`;
    const decoderTokens: TokenInfo[] = [{ id: start!, raw: startRaw, display: startRaw, start: -1, end: -1, special: true, segment: 0 }, ...generated];
    const blocks = [
      attentionBlock('encoder', 'Encoder self-attention', encoded.tokens, encoded.tokens, encoderRun.probs, encoderRun.valueNorms, e, half),
      attentionBlock('decoder', 'Decoder self-attention (generated)', decoderTokens, decoderTokens, whole.probs, whole.valueNorms, a, half),
      attentionBlock('cross', 'Cross-attention (generated)', decoderTokens, encoded.tokens, whole.crossProbs, whole.crossNorms, a, half),
    ];
    return { model: summary, text, tokens: encoded.tokens, attentions: blocks[0].attentions, valueNorms: blocks[0].valueNorms, blocks, target: generation.text, decoderTokens, generation, timings };
  }

  private generatedToken(id: number, eos: Set<number>): TokenInfo {
    const raw = this.source.tokenizer.idToToken(id);
    const special = eos.has(id);
    // Ids past the tokenizer's vocabulary happen where the embeddings are padded (GPT-J, Phi, OLMo).
    const spelled = raw ?? `<${id}>`;
    return { id, raw: spelled, display: special || raw === undefined ? spelled : this.source.tokenizer.display(spelled), start: -1, end: -1, special, segment: 0, generated: true };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
