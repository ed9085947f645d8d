/**
 * Headless use of the engine, with the extension's model specs and the panel's head scores:
 *   node dist/cli.js [--model <spec>] (--text "…" | --file <path>) [--pair "…"] [--offline]
 *                    [--first <N>] [--heads] [--target "…"] [--json out.json] [--npy out.npy] [--hidden]
 *                    [--select L:H[,L:H…]] [--generate <N> [--plain-greedy]] [--memory-limit-gb <GB>] [--weight-cache <folder>|none] [--quiet]
 * Prints the tokens with their ranges and a per-layer (or per-head) summary of the attention, then the timings
 * (load, analyze, first result since the process started) and the process's peak RSS. For an
 * encoder-decoder, `--target` is the decoder text; the JSON then has `encoderAttentions`,
 * `decoderAttentions`, `crossAttentions` and `decoderTokens`. `--generate N` continues the text
 * greedily for N tokens first (as "Continue and Show Attention" does): the JSON then has
 * `generatedTokens` and attentions over prompt + generated tokens; for an encoder-decoder the
 * generated decoder sequence (start token first) is `decoderTokens`, with `decoderAttentions` and
 * `crossAttentions` over it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { AttentionStack, tensorToFloat32 } from '../analysis/tensor';
import { allHeadScores, type HeadScores } from '../analysis/patterns';
import * as os from 'os';
import { defaultMemoryLimitGB, EngineError } from '../engine';
import { WEIGHT_CACHE_ENV } from '../engine/budget';
import { disableOnnxruntimeTelemetry } from '../engine/telemetry';
import { encodeNpy } from '../export/npy';
import { formatBytes, isModelSourceError, resolveModel, findToken } from '../hub';
import { loadModel } from '../models';
import { attentionBlocks, type AttentionBlock, type TokenInfo } from '../protocol/types';

const USAGE = `Usage: node dist/cli.js [--model <spec>] (--text "<text>" | --file <path>) [options]

  --model <spec>   what the extension's attentionInspector.model setting takes: a Hugging Face model id
                   with an optional @revision (openai-community/gpt2, gpt2@<commit>), a folder path
                   (absolute or ./, ../, ~/), or builtin (the default). Hub models come from the Hugging
                   Face cache (HF_HUB_CACHE, HF_HOME) or are downloaded into it from HF_ENDPOINT
                   (default https://huggingface.co) with HF_TOKEN or the token file.
  --offline        never use the network (like HF_HUB_OFFLINE=1): cached models only
  --pair <text>    second text of a sentence pair
  --target <text>  the decoder text of an encoder-decoder (T5, BART, Marian, mBART): a translation, a summary
  --first <N>      analyze only the first N tokens (as "Analyze First N Tokens" does)
  --heads          one line per head instead of per layer
  --json <file>    write tokens, attentions, value norms and head scores as JSON
  --npy <file>     write the attentions [layers, heads, n, n] as a float32 NumPy array
  --select L:H[,L:H…]
                   write only these heads' matrices (layer:head, from 0) to --json and --npy: attentions
                   then has shape [k, n, n] and "select" lists the heads in order (default: every head,
                   when they fit a JSON file; long texts need --select)
  --file <path>    read the text from a file (long texts; UTF-8)
  --hidden         also compute hidden states (written into --json)
  --generate <N>   first continue the text greedily for N tokens with the model's LM head (causal LMs), or
                   generate the decoder text (encoder-decoders); attentions then cover prompt + generated tokens
  --plain-greedy   with --generate: the plain argmax chain, as transformers' references record it (no stop at
                   the end-of-sequence token, no forced_bos/forced_eos tokens from generation_config.json)
  --memory-limit-gb <GB>
                   what the engine may hold (default: half this machine's memory, ${defaultMemoryLimitGB()} GB);
                   larger models stream layer groups
  --weight-cache <folder>|none
                   where models over 2 GB of float32 layer weights keep them converted, so that later
                   loads map them instead of converting (default: $ATTENTION_INSPECTOR_WEIGHT_CACHE or
                   ${defaultWeightCache()}; safe to delete); none: convert at each load
  --quiet          print only the timings and peak RSS`;

/** The CLI's weight cache when neither --weight-cache nor the environment names one (XDG cache folder). */
function defaultWeightCache(): string {
  return process.env[WEIGHT_CACHE_ENV] ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'attention-inspector', 'weights');
}

/** The built-in model ships beside the bundle: dist/cli.js → media/builtin-model. */
const BUILTIN_FOLDER = path.resolve(__dirname, '..', 'media', 'builtin-model');

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : '  —  ';
}

function scoreLine(s: Omit<HeadScores, 'layer' | 'head'>): string {
  return `previous ${fixed(s.previousToken)}  first ${fixed(s.firstToken)}  self ${fixed(s.self)}  entropy ${fixed(s.entropy)} (${fixed(s.entropyBits)} bits)  induction ${fixed(s.induction)}  duplicate ${fixed(s.duplicateToken)}`;
}

/** Mean of each score over one layer's heads (the panel's scores are per head). */
function layerMeans(scores: HeadScores[], layer: number): Omit<HeadScores, 'layer' | 'head'> {
  const heads = scores.filter((s) => s.layer === layer);
  const mean = (key: keyof Omit<HeadScores, 'layer' | 'head'>) => heads.reduce((sum, s) => sum + s[key], 0) / heads.length;
  return { previousToken: mean('previousToken'), firstToken: mean('firstToken'), self: mean('self'), entropy: mean('entropy'), entropyBits: mean('entropyBits'), induction: mean('induction'), duplicateToken: mean('duplicateToken') };
}

async function main(): Promise<number> {
  // Before the first onnxruntime session of this process (README, Privacy).
  disableOnnxruntimeTelemetry();
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'builtin' },
      text: { type: 'string' },
      file: { type: 'string' },
      pair: { type: 'string' },
      offline: { type: 'boolean', default: false },
      target: { type: 'string' },
      first: { type: 'string' },
      heads: { type: 'boolean', default: false },
      json: { type: 'string' },
      npy: { type: 'string' },
      select: { type: 'string' },
      hidden: { type: 'boolean', default: false },
      generate: { type: 'string' },
      'plain-greedy': { type: 'boolean', default: false },
      'memory-limit-gb': { type: 'string' },
      'weight-cache': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || (values.text === undefined && !values.file)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const first = values.first === undefined ? undefined : Number(values.first);
  if (first !== undefined && !(Number.isInteger(first) && first > 0)) {
    console.error(`--first takes a positive whole number of tokens, not "${values.first}".`);
    return 2;
  }
  const generate = values.generate === undefined ? undefined : Number(values.generate);
  if (generate !== undefined && !(Number.isInteger(generate) && generate > 0)) {
    console.error(`--generate takes a positive whole number of tokens, not "${values.generate}".`);
    return 2;
  }
  if (generate !== undefined && (values.target !== undefined || values.pair !== undefined || first !== undefined || values.hidden)) {
    console.error('--generate continues one text: it does not combine with --target (the decoder text is generated), --pair, --first or --hidden.');
    return 2;
  }
  if (values['plain-greedy'] && generate === undefined) {
    console.error('--plain-greedy applies to --generate <N>.');
    return 2;
  }
  const select = values.select === undefined ? undefined : parseSelect(values.select);
  if (select === null) {
    console.error(`--select takes layer:head pairs separated by commas (e.g. 0:3,5:1), not "${values.select}".`);
    return 2;
  }
  if (select && values.target !== undefined) {
    console.error('--select picks heads of a single attention stack; an encoder-decoder (--target) writes its three blocks whole.');
    return 2;
  }
  const text = values.text ?? fs.readFileSync(values.file!, 'utf8');

  let lastProgress = 0;
  const resolved = await resolveModel(values.model!, {
    builtinFolder: BUILTIN_FOLDER,
    offline: values.offline || undefined,
    token: (await findToken())?.token,
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastProgress < 1000 && p.filesDone < p.filesTotal) return;
      lastProgress = now;
      console.error(`Downloading ${p.file}: ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${p.filesDone}/${p.filesTotal} files)`);
    },
  });
  const t0 = performance.now();
  const memoryLimitGB = values['memory-limit-gb'] === undefined ? undefined : Number(values['memory-limit-gb']);
  const quiet = values.quiet;
  const cacheOption = values['weight-cache'] ?? defaultWeightCache();
  const weightCacheDir = cacheOption === 'none' ? '' : path.resolve(cacheOption);
  const cpu0 = process.cpuUsage();
  const model = await loadModel(
    resolved.folder,
    { name: resolved.name, source: resolved.kind === 'builtin' ? resolved.folder : resolved.source, memoryLimitGB, weightCacheDir },
    quiet ? undefined : (message) => process.stderr.write(`${message}\n`),
  );
  const loadMs = performance.now() - t0;
  const loadCpu = process.cpuUsage(cpu0);
  try {
    const t1 = performance.now();
    const progress = quiet ? undefined : (message: string) => process.stderr.write(`${message}\n`);
    const plain = values['plain-greedy'];
    const result =
      generate !== undefined
        ? await model.generate(text, { maxNewTokens: generate, stopAtEos: !plain, processors: !plain }, undefined, progress)
        : await model.analyze(text, { textPair: values.pair, target: values.target, hiddenStates: values.hidden, truncateTo: first });
    const analyzeMs = performance.now() - t1;
    const firstResultMs = performance.now(); // since the process started (performance.timeOrigin)
    if (!result.decoderTokens && values.target !== undefined) {
      console.error(`--target is the decoder text of an encoder-decoder model (T5, BART, Marian, mBART); ${result.model.name} (${result.model.modelType}) has no decoder stack.`);
      return 2;
    }
    const blocks = attentionBlocks(result);
    const block = (kind: AttentionBlock['kind']) => {
      const t = blocks.find((b) => b.kind === kind)!.attentions;
      return { shape: t.shape, data: Array.from(tensorToFloat32(t)) };
    };
    const { numLayers, numHeads, causal } = result.model;
    const n = result.tokens.length;
    const { groups, warm, limitBytes } = model.memory;
    const awaiting = model.groupsAwaitingCache;
    const cached = !model.weightCache ? '' : awaiting > 0 ? `, ${awaiting} of ${warm} warm groups at stored precision until converted into ${model.weightCache.dir}` : `, float32 weights mapped from ${model.weightCache.dir}`;
    const streaming = (warm < groups.length ? `, ${groups.length - warm} of ${groups.length} layer groups streamed` : '') + cached;
    const timings = `load ${loadMs.toFixed(0)} ms (CPU ${((loadCpu.user + loadCpu.system) / 1e6).toFixed(1)} s), ${result.generation ? 'generate' : 'analyze'} ${analyzeMs.toFixed(0)} ms (compute ${result.timings.computeMs.toFixed(1)} ms), first result ${firstResultMs.toFixed(0)} ms after start (process CPU ${processCpuS().toFixed(1)} s), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (memory limit ${(limitBytes / 1e9).toFixed(1)} GB${streaming})`;
    if (quiet) {
      console.log(`${result.model.name} (${result.model.modelType}), ${n} tokens: ${timings}`);
      return 0;
    }
    const stack = new AttentionStack(result.attentions);
    const scores = allHeadScores(stack, causal, result.tokens.map((t) => t.id));
    console.log(`${result.model.name} (${result.model.modelType}) from ${resolved.source}: ${numLayers} layers × ${numHeads} heads, ${n} tokens; ${timings}`);
    console.log('\nTokens:');
    result.tokens.forEach((t, i) => console.log(tokenLine(t, i)));
    if (result.generation) {
      const g = result.generation;
      console.log(`\nGenerated ${g.newIds.length} of ${g.requested} tokens greedily (${g.stoppedBy === 'eos' ? 'stopped at the end-of-sequence token' : g.stoppedBy === 'max-positions' ? "stopped at the model's longest sequence" : 'as asked'}${g.settings.length > 0 ? `; generation_config.json: ${g.settings.join(', ')}` : ''}): ${JSON.stringify(g.text)}`);
    }
    if (result.decoderTokens) {
      if (values.target === undefined && !result.generation) console.log(`\n${result.model.name} is an encoder-decoder: pass the decoder text with --target "<text>" (it ran over an empty decoder text).`);
      console.log(result.generation ? '\nDecoder tokens (the start token, then the generated ones):' : '\nDecoder tokens (shifted right: the start token first):');
      result.decoderTokens.forEach((t, i) => console.log(tokenLine(t, i)));
      console.log(`\nBlocks: ${blocks.map((b) => `${b.label} ${JSON.stringify(b.attentions.shape)}`).join('; ')}. The scores below are the encoder's.`);
    }
    console.log(
      `\nHead scores as the panel's model view computes them (src/analysis/patterns.ts): mean attention to the previous token,` +
        ` to the first token (queries after the first), to itself; entropy relative to its maximum (0 focused, 1 uniform) and in bits.`,
    );
    if (values.heads) {
      for (const s of scores) console.log(`  L${s.layer} H${s.head}: ${scoreLine(s)}`);
    } else {
      console.log('Per layer, mean over its heads:');
      for (let l = 0; l < numLayers; l++) console.log(`  layer ${String(l).padStart(2)}: ${scoreLine(layerMeans(scores, l))}`);
    }
    // The matrices written: every head, or the selected ones [k, n, n].
    const [layerCount, headCount, rows, cols] = result.attentions.shape;
    for (const [l, hd] of select ?? []) {
      if (l >= layerCount || hd >= headCount) {
        console.error(`--select ${l}:${hd}: ${result.model.name} has ${layerCount} layers (0–${layerCount - 1}) of ${headCount} heads (0–${headCount - 1}).`);
        return 2;
      }
    }
    const written = select
      ? { shape: [select.length, rows, cols], data: selectedHeads(tensorToFloat32(result.attentions), select, headCount, rows * cols) }
      : { shape: result.attentions.shape, data: tensorToFloat32(result.attentions) };
    if (values.json && !select && written.data.length > JSON_ALL_LIMIT) {
      console.error(`Every head's matrix at ${n} tokens is ${written.data.length.toLocaleString('en')} numbers, too many for one JSON file: pick the heads to write with --select L:H[,L:H…] (or use --npy).`);
      return 2;
    }
    if (values.npy) {
      fs.writeFileSync(values.npy, encodeNpy(written.data, written.shape));
      console.log(`\nWrote ${values.npy} (float32 ${JSON.stringify(written.shape)}${select ? `, heads ${select.map(([l, hd]) => `${l}:${hd}`).join(', ')}` : ''})`);
    }
    if (values.json) {
      const out = {
        model: result.model,
        text,
        tokens: result.tokens,
        attentions: { shape: written.shape, data: Array.from(written.data) },
        ...(select ? { select: select.map(([layer, head]) => ({ layer, head })) } : {}),
        valueNorms: { shape: result.valueNorms.shape, data: Array.from(tensorToFloat32(result.valueNorms)) },
        headScores: scores,
        ...(result.generation ? { generation: result.generation, generatedTokens: (result.decoderTokens ?? result.tokens).filter((t) => t.generated) } : {}),
        ...(result.decoderTokens
          ? { target: result.target, decoderTokens: result.decoderTokens, encoderAttentions: block('encoder'), decoderAttentions: block('decoder'), crossAttentions: block('cross') }
          : {}),
        ...(result.hiddenStates ? { hiddenStates: { shape: result.hiddenStates.shape, data: Array.from(tensorToFloat32(result.hiddenStates)) } } : {}),
      };
      fs.writeFileSync(values.json, JSON.stringify(out));
      console.log(`\nWrote ${values.json}`);
    }
    return 0;
  } finally {
    // As the extension does when idle: later runs of this model map float32 weights from the cache.
    const awaiting = model.groupsAwaitingCache;
    if (awaiting > 0) {
      const t = performance.now();
      process.stderr.write(`Converting ${awaiting} layer groups into the weight cache for later runs…\n`);
      await model.convertWaitingGroups();
      process.stderr.write(`Converted in ${((performance.now() - t) / 1000).toFixed(1)} s.\n`);
    }
    await model.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof EngineError) console.error(`Error (${err.code}): ${err.message}`);
    else if (isModelSourceError(err)) console.error(`Error (${err.code}): ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);

function tokenLine(t: TokenInfo, i: number): string {
  const where = t.generated ? ' (generated)' : t.special ? ' (special)' : ` [${t.start}, ${t.end})`;
  return `  ${String(i).padStart(4)}  ${JSON.stringify(t.display).padEnd(18)} id=${t.id}${where}`;
}

/** More numbers than this make a JSON text too long for one string (--select then picks heads). */
const JSON_ALL_LIMIT = 40_000_000;

/** `0:3,5:1` → [[0, 3], [5, 1]]; null when malformed. */
function parseSelect(spec: string): [number, number][] | null {
  const pairs = spec.split(',').map((part) => /^\s*(\d+):(\d+)\s*$/.exec(part));
  if (pairs.length === 0 || pairs.some((m) => m === null)) return null;
  return pairs.map((m) => [Number(m![1]), Number(m![2])]);
}

/** The selected heads' matrices of `[layers, heads, n, n]`, one after another. */
function selectedHeads(all: Float32Array, select: [number, number][], heads: number, size: number): Float32Array {
  const out = new Float32Array(select.length * size);
  select.forEach(([l, hd], i) => out.set(all.subarray((l * heads + hd) * size, (l * heads + hd + 1) * size), i * size));
  return out;
}

/** CPU seconds this process has used, all threads (on a busy machine, wall times alone mislead). */
function processCpuS(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
