/**
 * Property-based tests of the parsers and the loader (fast-check, seeded and bounded so they take
 * a few seconds): whatever bytes or JSON values a model folder holds, loading either succeeds or
 * fails with an EngineError — never another exception — and what the safetensors reader accepts
 * lies exactly inside the file. `npm run fuzz` runs the whole engine on far more cases.
 */
import * as assert from 'assert';
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { FAMILIES } from '../../src/models/registry';
import { ENCODER_OUTPUT, isEncoderDecoder, type Architecture, type PositionInput } from '../../src/engine/architecture';
import { Checkpoint } from '../../src/engine/checkpoint';
import { checkSummary } from '../../src/engine/config';
import { EngineError } from '../../src/engine/errors';
import { checkEmbedding } from '../../src/engine/finite';
import { GraphBuilder } from '../../src/engine/onnx/graph';
import { Nn } from '../../src/engine/onnx/layers';
import { SafetensorsFile } from '../../src/engine/safetensors';
import { fixtureNames } from '../helpers/fixtures';
import { readJson, TempFolders, writeSafetensorsRaw } from '../helpers/modelFolders';

/** Fixed for CI; PROPERTY_SEED and PROPERTY_RUNS (a multiplier) explore further. */
const SEED = Number(process.env.PROPERTY_SEED ?? 1414);
const runs = (n: number) => Math.round(n * Number(process.env.PROPERTY_RUNS ?? 1));

/** Runs `work`; an EngineError is an accepted outcome, anything else fails the property. */
function onlyEngineErrors<T>(work: () => T): T | EngineError {
  try {
    return work();
  } catch (err) {
    if (err instanceof EngineError) return err;
    throw new Error(`not an EngineError: ${(err as Error)?.stack ?? err}`);
  }
}

/** Everything the loader does in JavaScript before onnxruntime: open, parse the config, embed, build layer 0's graph, compute its position inputs. */
function loadWithoutOnnxruntime(dir: string): void {
  const ckpt = Checkpoint.open(dir);
  try {
    const created = FAMILIES.create(ckpt);
    // An encoder-decoder: both stacks, each as the runner builds it (the encoder output is fed, not computed).
    const stacks: Pick<Architecture, 'summary' | 'embed' | 'buildLayer'>[] = isEncoderDecoder(created) ? [created.encoder, created.decoder] : [created];
    const g = new GraphBuilder();
    for (const arch of stacks) {
      checkSummary(arch.summary);
      checkEmbedding(ckpt, (ids, types) => arch.embed(ids, types), arch.summary.hiddenSize);
      const declared = new Map<string, PositionInput>();
      const use = (input: PositionInput) => {
        if (!declared.has(input.name)) g.input(input.name, [...input.dims]);
        declared.set(input.name, input);
        return input.name;
      };
      arch.buildLayer(new Nn(g), 0, g.input(`hidden_${stacks.indexOf(arch)}`, ['n', arch.summary.hiddenSize]), use);
      for (const input of declared.values()) if (input.name !== ENCODER_OUTPUT) input.compute(3);
    }
    g.build('property');
  } finally {
    ckpt.close();
  }
}

const DTYPES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, U8: 1, BOOL: 1, F64: 8, I32: 4 };

const tensorSpec = fc.record({
  dtype: fc.constantFrom(...Object.keys(DTYPES)),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
});

/** A valid safetensors file: tensors stored in a random order, contiguous from byte 0. */
function buildFile(specs: Record<string, { dtype: string; shape: number[] }>, order: string[]) {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const name of order) {
    const { dtype, shape } = specs[name];
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return { header, data: Buffer.alloc(offset, 7) };
}

describe('property-based: parsers and loader', function () {
  this.timeout(60000);
  const temp = new TempFolders();
  after(() => temp.removeAll());

  it('safetensors: every valid file is read back exactly; each rule-breaking change is refused', () => {
    const dir = temp.empty('ai-prop-st-');
    const file = path.join(dir, 'x.safetensors');
    const corruption = fc.constantFrom('trailing', 'gap', 'overlap', 'duplicate', 'leading-space', 'bad-metadata', 'size', 'none');
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__metadata__'), tensorSpec, { minKeys: 1, maxKeys: 6 }), fc.nat(), corruption, (specs, shuffle, change) => {
        const names = Object.keys(specs);
        const order = names.map((_, i) => names[(i + shuffle) % names.length]);
        const { header, data } = buildFile(specs, order);
        const entries = order.map((n) => header[n] as { dtype: string; shape: number[]; data_offsets: number[] });
        const nonEmpty = entries.filter((e) => e.data_offsets[1] > e.data_offsets[0]);
        let text = JSON.stringify(header);
        let body = data;
        let expectRefusal = true;
        switch (change) {
          case 'trailing': body = Buffer.concat([data, Buffer.alloc(3)]); break;
          case 'gap':
            if (nonEmpty.length === 0) { expectRefusal = false; break; }
            for (const e of entries) e.data_offsets = e.data_offsets.map((o) => o + 2);
            text = JSON.stringify(header);
            body = Buffer.concat([Buffer.alloc(2), data]);
            break;
          case 'overlap': {
            if (nonEmpty.length < 2) { expectRefusal = false; break; }
            nonEmpty[1].data_offsets = nonEmpty[1].data_offsets.map((o) => o - 1);
            text = JSON.stringify(header);
            body = data.subarray(0, data.length - 1);
            // The later tensors still end where they did: the data is one byte longer than they cover.
            break;
          }
          case 'duplicate': text = `{${JSON.stringify(order[0])}:${JSON.stringify(header[order[0]])},${text.slice(1)}`; break;
          case 'leading-space': text = ` ${text}`; break;
          case 'bad-metadata': text = JSON.stringify({ ...header, __metadata__: { format: 1 } }); break;
          case 'size': {
            const victim = nonEmpty[0] ?? entries[0];
            victim.shape = [...victim.shape, 2];
            text = JSON.stringify(header);
            if (victim.shape.includes(0)) expectRefusal = false;
            break;
          }
          case 'none': expectRefusal = false; break;
        }
        writeSafetensorsRaw(file, text, body);
        const outcome = onlyEngineErrors(() => new SafetensorsFile(file));
        if (expectRefusal) {
          assert.ok(outcome instanceof EngineError, `${change} accepted`);
          assert.strictEqual(outcome.code, 'bad-checkpoint');
          return;
        }
        if (change !== 'none') return; // a change that happened to keep the file valid
        assert.ok(outcome instanceof SafetensorsFile, `refused a valid file: ${(outcome as Error).message}`);
        const read: SafetensorsFile = outcome;
        for (const name of names) {
          const entry = read.tensors.get(name)!;
          assert.deepStrictEqual(entry.shape, specs[name].shape);
          assert.strictEqual(entry.offset, 8 + Buffer.byteLength(text) + (header[name] as { data_offsets: number[] }).data_offsets[0]);
        }
        read.close();
      }),
      { seed: SEED, numRuns: runs(150) },
    );
  });

  it('safetensors: random byte damage to a real checkpoint is read within the file or refused with an EngineError', () => {
    const source = fs.readFileSync(path.join(copyFixtureOnce(temp, 'gpt2'), 'model.safetensors'));
    const headerEnd = 8 + Number(source.readBigUInt64LE(0));
    const dir = temp.empty('ai-prop-bytes-');
    const file = path.join(dir, 'model.safetensors');
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.integer({ min: 0, max: headerEnd + 64 }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.integer({ min: 0, max: source.length }), value: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.integer({ min: 0, max: headerEnd + 64 }), value: fc.integer({ min: 0, max: 255 }) }),
    );
    fc.assert(
      fc.property(fc.array(damage, { minLength: 1, maxLength: 4 }), (changes) => {
        let bytes = Buffer.from(source);
        for (const c of changes) {
          if (c.kind === 'flip' && c.at < bytes.length) bytes[c.at] = c.value;
          if (c.kind === 'cut') bytes = bytes.subarray(0, Math.min(c.at, bytes.length));
          if (c.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, c.at), Buffer.from([c.value]), bytes.subarray(c.at)]);
        }
        fs.writeFileSync(file, bytes);
        const outcome = onlyEngineErrors(() => new SafetensorsFile(file));
        if (outcome instanceof SafetensorsFile) {
          let covered = 0;
          for (const e of outcome.tensors.values()) covered += e.byteLength;
          assert.ok([...outcome.tensors.values()].every((e) => e.offset + e.byteLength <= bytes.length));
          assert.strictEqual(covered, bytes.length - 8 - Number(bytes.readBigUInt64LE(0)), 'tensors cover the data exactly');
          outcome.close();
        }
      }),
      { seed: SEED, numRuns: runs(150) },
    );
  });

  it('config.json: any JSON value under any key loads (without onnxruntime) or fails with an EngineError', () => {
    const names = fixtureNames();
    const folders = new Map(names.map((n) => [n, copyFixtureOnce(temp, n)]));
    const knownKeys = [...new Set(names.flatMap((n) => Object.keys(readJson(folders.get(n)!, 'config.json'))))];
    const numbers = fc.oneof(fc.constantFrom(0, -1, 1, 2, 3, 0.5, -0.5, 1e9, 2 ** 31, 2 ** 53, 1e308, -1e-9, 1e-300), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
    const value = fc.oneof({ weight: 3, arbitrary: numbers }, { weight: 1, arbitrary: fc.constantFrom(null, true, '', 'constructor', 'toString', [], {}, [1, 2], 'gelu', 'quick_gelu', 'sliding_attention') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
    const edit = fc.record({ key: fc.constantFrom(...knownKeys), value, nested: fc.boolean() });
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(edit, { minLength: 1, maxLength: 3 }), (name, edits) => {
        const dir = folders.get(name)!;
        const original = fs.readFileSync(path.join(dir, 'config.json'));
        const config = JSON.parse(original.toString('utf8'));
        for (const e of edits) {
          const target = e.nested && config.rope_scaling && typeof config.rope_scaling === 'object' ? config.rope_scaling : config;
          target[e.key] = structuredClone(e.value);
        }
        fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
        try {
          onlyEngineErrors(() => loadWithoutOnnxruntime(dir));
        } finally {
          fs.writeFileSync(path.join(dir, 'config.json'), original);
        }
      }),
      { seed: SEED, numRuns: runs(250) },
    );
  });
});

const copies = new Map<string, string>();
/** One writable copy per fixture for the whole run (removed with `temp`). */
function copyFixtureOnce(temp: TempFolders, name: string): string {
  if (!copies.has(name)) copies.set(name, temp.copy(name));
  return copies.get(name)!;
}
