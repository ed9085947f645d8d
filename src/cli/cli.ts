/**
 * Headless use of the engine: `node dist/cli.js --model <folder> --text "…" [--pair "…"] [--json out.json]`.
 * Prints the tokens with their ranges and a per-layer summary of the attention.
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { EngineError } from '../engine';
import { loadModel } from '../models';
import { decodeHalfArray } from '../protocol/float16';

const USAGE = `Usage: node dist/cli.js --model <folder> (--text "<text>" | --file <path>) [--pair "<second text>"] [--json <out.json>] [--hidden]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      pair: { type: 'string' },
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
    const result = await model.analyze(text, { textPair: values.pair, hiddenStates: values.hidden });
    const { numLayers, numHeads } = result.model;
    const n = result.tokens.length;
    const attn = result.attentions.dtype === 'float16' ? decodeHalfArray(new Uint16Array(result.attentions.buffer)) : new Float32Array(result.attentions.buffer);
    console.log(`${result.model.name} (${result.model.modelType}): ${numLayers} layers × ${numHeads} heads, ${n} tokens; load ${loadMs.toFixed(0)} ms, analyze ${result.timings.computeMs.toFixed(1)} ms`);
    console.log('\nTokens:');
    result.tokens.forEach((t, i) => console.log(`  ${String(i).padStart(4)}  ${JSON.stringify(t.display).padEnd(18)} id=${t.id}${t.special ? ' (special)' : ` [${t.start}, ${t.end})`}`));
    console.log('\nPer layer (mean over heads): entropy in nats, attention to previous token, to first token, to self');
    for (let l = 0; l < numLayers; l++) {
      let entropy = 0, previous = 0, first = 0, self = 0;
      for (let h = 0; h < numHeads; h++) {
        const base = (l * numHeads + h) * n * n;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const p = attn[base + i * n + j];
            if (p > 0) entropy -= p * Math.log(p);
          }
          if (i > 0) previous += attn[base + i * n + i - 1];
          first += attn[base + i * n];
          self += attn[base + i * n + i];
        }
      }
      const rows = numHeads * n;
      console.log(`  layer ${String(l).padStart(2)}: entropy ${(entropy / rows).toFixed(3)}  previous ${(previous / rows).toFixed(3)}  first ${(first / rows).toFixed(3)}  self ${(self / rows).toFixed(3)}`);
    }
    if (values.json) {
      const out = {
        model: result.model,
        text,
        tokens: result.tokens,
        attentions: { shape: result.attentions.shape, data: Array.from(attn) },
        valueNorms: { shape: result.valueNorms.shape, data: Array.from(new Float32Array(result.valueNorms.buffer)) },
      };
      fs.writeFileSync(values.json, JSON.stringify(out));
      console.log(`\nWrote ${values.json}`);
    }
    return 0;
  } finally {
    await model.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof EngineError ? `Error (${err.code}): ${err.message}` : err);
    process.exit(1);
  },
);
