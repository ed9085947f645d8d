/**
 * Headless use of the engine: `node dist/cli.js --model <folder> --text "…" [--pair "…"] [--target "…"] [--json out.json]`.
 * Prints the tokens with their ranges and a per-layer summary of each attention block. For an
 * encoder-decoder, `--target` is the decoder text (a translation, a summary); the JSON then has
 * `encoderAttentions`, `decoderAttentions`, `crossAttentions` and `decoderTokens`.
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { EngineError } from '../engine';
import { loadModel } from '../models';
import { decodeHalfArray } from '../protocol/float16';
import { attentionBlocks, type AttentionBlock, type TensorData } from '../protocol/types';

const USAGE = `Usage: node dist/cli.js --model <folder> (--text "<text>" | --file <path>) [--pair "<second text>"] [--target "<decoder text>"] [--json <out.json>] [--hidden]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      pair: { type: 'string' },
      target: { type: 'string' },
      json: { type: 'string' },
      hidden: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.model || (values.text === undefined && !values.file)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const text = values.text ?? fs.readFileSync(values.file!, 'utf8');
  const t0 = performance.now();
  const model = await loadModel(values.model);
  const loadMs = performance.now() - t0;
  try {
    const result = await model.analyze(text, { textPair: values.pair, target: values.target, hiddenStates: values.hidden });
    const blocks = attentionBlocks(result);
    if (!result.decoderTokens && values.target !== undefined) {
      console.error(`--target is the decoder text of an encoder-decoder model (T5, BART, Marian, mBART); ${result.model.name} (${result.model.modelType}) has no decoder stack.`);
      return 2;
    }
    if (result.decoderTokens && values.target === undefined) {
      console.log(`${result.model.name} is an encoder-decoder: pass the decoder text with --target "<text>" (it ran over an empty decoder text).`);
    }
    console.log(`${result.model.name} (${result.model.modelType}): ${blocks.map((b) => `${b.label} ${b.attentions.shape[0]} layers × ${b.attentions.shape[1]} heads`).join('; ')}; ${result.tokens.length} tokens; load ${loadMs.toFixed(0)} ms, analyze ${result.timings.computeMs.toFixed(1)} ms`);
    printTokens('Tokens', result.tokens);
    if (result.decoderTokens) printTokens('Decoder tokens (shifted right: the start token first)', result.decoderTokens);
    for (const block of blocks) printBlockSummary(block);
    if (values.json) {
      const json = (t: TensorData) => ({ shape: t.shape, data: Array.from(floats(t)) });
      const byKind = (kind: AttentionBlock['kind']) => blocks.find((b) => b.kind === kind);
      const out = {
        model: result.model,
        text,
        tokens: result.tokens,
        ...(result.decoderTokens ? { target: result.target, decoderTokens: result.decoderTokens } : {}),
        attentions: json(result.attentions),
        valueNorms: json(result.valueNorms),
        ...(result.decoderTokens
          ? { encoderAttentions: json(byKind('encoder')!.attentions), decoderAttentions: json(byKind('decoder')!.attentions), crossAttentions: json(byKind('cross')!.attentions) }
          : {}),
      };
      fs.writeFileSync(values.json, JSON.stringify(out));
      console.log(`\nWrote ${values.json}`);
    }
    return 0;
  } finally {
    await model.dispose();
  }
}

function floats(t: TensorData): Float32Array {
  return t.dtype === 'float16' ? decodeHalfArray(new Uint16Array(t.buffer)) : new Float32Array(t.buffer);
}

function printTokens(title: string, tokens: AttentionBlock['queryTokens']): void {
  console.log(`\n${title}:`);
  tokens.forEach((t, i) => console.log(`  ${String(i).padStart(4)}  ${JSON.stringify(t.display).padEnd(18)} id=${t.id}${t.special ? ' (special)' : ` [${t.start}, ${t.end})`}`));
}

/** Per layer, mean over heads and queries: entropy, weight on the previous, first and same-position key. */
function printBlockSummary(block: AttentionBlock): void {
  const [layers, heads, rows, cols] = block.attentions.shape;
  const attn = floats(block.attentions);
  console.log(`\n${block.label}, per layer (mean over heads): entropy in nats, attention to previous position, to first key, to same position`);
  for (let l = 0; l < layers; l++) {
    let entropy = 0, previous = 0, first = 0, self = 0;
    for (let h = 0; h < heads; h++) {
      const base = (l * heads + h) * rows * cols;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const p = attn[base + i * cols + j];
          if (p > 0) entropy -= p * Math.log(p);
        }
        if (i > 0 && i - 1 < cols) previous += attn[base + i * cols + i - 1];
        first += attn[base + i * cols];
        if (i < cols) self += attn[base + i * cols + i];
      }
    }
    const n = heads * rows;
    console.log(`  layer ${String(l).padStart(2)}: entropy ${(entropy / n).toFixed(3)}  previous ${(previous / n).toFixed(3)}  first ${(first / n).toFixed(3)}  self ${(self / n).toFixed(3)}`);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof EngineError ? `Error (${err.code}): ${err.message}` : err);
    process.exit(1);
  },
);
