/**
 * The long fuzz run (`npm run fuzz`): seeded mutations of the reference checkpoints, each loaded
 * and analyzed by the real engine in its supervised child process, with a time and a memory
 * limit per case. Prints outcome counts and writes test-results/fuzz/report.json with examples of
 * every outcome that is a defect.
 *
 * Usage: node out/test/fuzz/fuzz.js [--seconds 300] [--cases N] [--seed 1] [--time-limit 15] [--memory-limit-mb 2048]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { decodeHalfArray } from '../../src/protocol/float16';
import type { AttentionResult } from '../../src/protocol/types';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { makeCase, type FuzzCase } from './mutations';

const root = path.resolve(__dirname, '../../..');
const fixturesRoot = path.resolve(root, '../shared/fixtures/hf-tiny');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    cases: { type: 'string' },
    seed: { type: 'string', default: '1' },
    first: { type: 'string', default: '0' },
    'time-limit': { type: 'string', default: '15' },
    'memory-limit-mb': { type: 'string', default: '2048' },
  },
});

/** Outcomes; the last four are defects. */
type Outcome = 'result' | 'engine-error' | 'contained-crash' | 'plain-exception' | 'bad-output' | 'hang' | 'over-memory';
const DEFECTS: Outcome[] = ['contained-crash', 'plain-exception', 'bad-output', 'hang', 'over-memory'];

function rssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Why a returned result is not a valid attention result, or undefined. */
function checkResult(r: AttentionResult, c: FuzzCase): string | undefined {
  const n = r.tokens.length;
  const [layers, heads, rows, cols] = r.attentions.shape;
  if (rows !== n || cols !== n || layers !== r.model.numLayers || heads !== r.model.numHeads) return `shape ${r.attentions.shape} for ${n} tokens`;
  const values = r.attentions.dtype === 'float16' ? decodeHalfArray(new Uint16Array(r.attentions.buffer)) : new Float32Array(r.attentions.buffer);
  if (values.length !== layers * heads * n * n) return 'attention buffer size';
  const tolerance = r.attentions.dtype === 'float16' ? 2e-2 : 1e-3;
  for (let row = 0; row < layers * heads * n; row++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const v = values[row * n + j];
      if (!Number.isFinite(v) || v < 0) return `non-finite or negative attention at row ${row}`;
      sum += v;
    }
    if (Math.abs(sum - 1) > tolerance) return `row ${row} sums to ${sum}`;
  }
  if (!new Float32Array(r.valueNorms.buffer).every(Number.isFinite)) return 'non-finite value norms';
  for (const t of r.tokens) {
    if (t.start === -1 && t.end === -1) continue;
    const text = t.segment === 1 && c.textPair !== undefined ? c.textPair : c.text;
    if (!(t.start >= 0 && t.start <= t.end && t.end <= Math.max(text.length, (c.textPair ?? '').length))) return `token range ${t.start}-${t.end} outside the text`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const fixtures = fs.readdirSync(fixturesRoot).filter((d) => fs.existsSync(path.join(fixturesRoot, d, 'config.json'))).sort();
  const deadline = Date.now() + Number(args.seconds) * 1000;
  const maxCases = args.cases ? Number(args.cases) : Infinity;
  const timeLimit = Number(args['time-limit']) * 1000;
  const memoryLimit = Number(args['memory-limit-mb']) * 1024 * 1024;
  const log: string[] = [];
  const client = new EngineClient(path.join(root, 'dist', 'worker.js'), (line) => log.push(line));
  const counts: Record<Outcome, number> = { result: 0, 'engine-error': 0, 'contained-crash': 0, 'plain-exception': 0, 'bad-output': 0, hang: 0, 'over-memory': 0 };
  const byFamily: Record<string, Partial<Record<Outcome, number>>> = {};
  const errorCodes: Record<string, number> = {};
  const examples: Record<string, { case: FuzzCase; detail: string }[]> = {};
  const started = Date.now();
  let done = 0;
  for (let i = Number(args.first); i < Number(args.first) + maxCases && Date.now() < deadline; i++) {
    const seed = Number(args.seed) * 1_000_003 + i;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-fuzz-'));
    let outcome: Outcome;
    let detail = '';
    let fuzzCase: FuzzCase | undefined;
    const controller = new AbortController();
    let overMemory = false;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeLimit);
    const watch = setInterval(() => {
      const pid = client.pid;
      if (pid && rssBytes(pid) > memoryLimit) {
        overMemory = true;
        process.kill(pid, 'SIGKILL');
      }
    }, 100);
    try {
      fuzzCase = makeCase(seed, fixturesRoot, fixtures, dir);
      if (process.env.FUZZ_TRACE) console.log(seed, Math.round(process.memoryUsage().rss / 1e6), fuzzCase.fixture, fuzzCase.mutations.join("; "));
      await client.load(dir, { name: `fuzz-${seed}`, source: dir }, { signal: controller.signal });
      const result = await client.analyze(fuzzCase.text, { textPair: fuzzCase.textPair }, { signal: controller.signal });
      const problem = checkResult(result, fuzzCase);
      outcome = problem ? 'bad-output' : 'result';
      detail = problem ?? '';
    } catch (err) {
      const info = err instanceof EngineRequestError ? err.info : undefined;
      detail = info ? `${info.code}: ${info.message}` : String((err as Error)?.stack ?? err);
      if (overMemory) outcome = 'over-memory';
      else if (timedOut) outcome = 'hang';
      else if (info?.code === 'engine-crashed') outcome = 'contained-crash';
      else if (!info || info.code === 'internal') outcome = 'plain-exception';
      else {
        outcome = 'engine-error';
        errorCodes[info.code] = (errorCodes[info.code] ?? 0) + 1;
      }
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // The model of this case is gone: a fresh load every case (a crash has already replaced the engine).
    if (outcome === 'hang' || outcome === 'over-memory') await client.dispose();
    counts[outcome]++;
    const family = fuzzCase?.family ?? 'setup';
    byFamily[family] ??= {};
    byFamily[family][outcome] = (byFamily[family][outcome] ?? 0) + 1;
    if (DEFECTS.includes(outcome) && fuzzCase) {
      examples[outcome] ??= [];
      if (examples[outcome].length < 25) examples[outcome].push({ case: { ...fuzzCase, text: fuzzCase.text.slice(0, 80) }, detail: detail.slice(0, 400) });
    }
    done++;
    if (done % 200 === 0) console.log(`${done} cases, ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(counts)}`);
  }
  await client.dispose();
  const seconds = Math.round((Date.now() - started) / 1000);
  const report = { cases: done, seconds, seed: Number(args.seed), counts, engineErrorCodes: errorCodes, byFamily, examples };
  const out = path.join(root, 'test-results', 'fuzz');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 2));
  console.log(`\n${done} cases in ${seconds} s (seed ${args.seed})`);
  for (const [k, v] of Object.entries(counts)) console.log(`  ${k.padEnd(16)} ${v}${DEFECTS.includes(k as Outcome) && v > 0 ? '  <- defect' : ''}`);
  console.log(`  engine errors by code: ${JSON.stringify(errorCodes)}`);
  console.log(`report: ${path.relative(root, path.join(out, 'report.json'))}`);
  const defects = DEFECTS.filter((d) => d !== 'contained-crash').reduce((s, d) => s + counts[d], 0);
  process.exit(defects > 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
