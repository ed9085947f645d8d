/**
 * Headless use of the engine: `node dist/cli.js --model <folder> --text "…" [--pair "…"] [--json out.json]`.
 * Prints the tokens with their ranges and a per-layer summary of the attention, then the timings
 * (load, analyze, first result since the process started) and the process's peak RSS.
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { defaultMemoryLimitGB, EngineError } from '../engine';
import { loadModel } from '../models';
import { decodeHalfArray } from '../protocol/float16';

const USAGE = `Usage: node dist/cli.js --model <folder> (--text "<text>" | --file <path>) [--pair "<second text>"] [--json <out.json>] [--hidden] [--memory-limit-gb <GB>] [--tokens <n>] [--quiet]
  --memory-limit-gb  what the engine may hold (default: half this machine's memory, ${defaultMemoryLimitGB()} GB); larger models stream layer groups
  --tokens           analyze only the first n tokens
  --quiet            print only the timings and peak RSS`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      pair: { type: 'string' },
      json: { type: 'string' },
      hidden: { type: 'boolean', default: false },
      'memory-limit-gb': { type: 'string' },
      tokens: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.model || (values.text === undefined && !values.file)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const text = values.text ?? fs.readFileSync(values.file!, 'utf8');
  const t0 = performance.now();
  const memoryLimitGB = values['memory-limit-gb'] === undefined ? undefined : Number(values['memory-limit-gb']);
  const quiet = values.quiet;
  const cpu0 = process.cpuUsage();
  const model = await loadModel(values.model, { memoryLimitGB }, quiet ? undefined : (message) => process.stderr.write(`${message}\n`));
  const loadMs = performance.now() - t0;
  const loadCpu = process.cpuUsage(cpu0);
  try {
    const t1 = performance.now();
    const truncateTo = values.tokens === undefined ? undefined : Number(values.tokens);
    const result = await model.analyze(text, { textPair: values.pair, hiddenStates: values.hidden, truncateTo });
    const analyzeMs = performance.now() - t1;
    const firstResultMs = performance.now(); // since the process started (performance.timeOrigin)
    const { numLayers, numHeads } = result.model;
    const n = result.tokens.length;
    const { groups, warm, limitBytes } = model.memory;
    const streaming = warm < groups.length ? `, ${groups.length - warm} of ${groups.length} layer groups streamed` : '';
    const timings = `load ${loadMs.toFixed(0)} ms (CPU ${((loadCpu.user + loadCpu.system) / 1e6).toFixed(1)} s), analyze ${analyzeMs.toFixed(0)} ms (compute ${result.timings.computeMs.toFixed(1)} ms), first result ${firstResultMs.toFixed(0)} ms after start (process CPU ${processCpuS().toFixed(1)} s), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (memory limit ${(limitBytes / 1e9).toFixed(1)} GB${streaming})`;
    if (quiet) {
      console.log(`${result.model.name} (${result.model.modelType}), ${n} tokens: ${timings}`);
      return 0;
    }
    const attn = result.attentions.dtype === 'float16' ? decodeHalfArray(new Uint16Array(result.attentions.buffer)) : new Float32Array(result.attentions.buffer);
    console.log(`${result.model.name} (${result.model.modelType}): ${numLayers} layers × ${numHeads} heads, ${n} tokens; ${timings}`);
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

/** CPU seconds this process has used, all threads (on a busy machine, wall times alone mislead). */
function processCpuS(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
