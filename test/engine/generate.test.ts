/**
 * Greedy generation against the reference: every fixture of ../shared/fixtures/hf-tiny and
 * hf-tiny-2 that carries expected-generate.json / expected-generate.safetensors, every case. The 8
 * generated ids equal transformers' greedy `new_ids` (at a near-tie the fixture lists, the
 * runner-up is accepted at that step, as its README allows); the attentions over prompt +
 * generated tokens (decoder and cross for encoder-decoders) are within 1e-4 of the stored ones.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from '../../src/engine/errors';
import type { AttentionModel } from '../../src/engine/model';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { loadModel } from '../../src/models';
import type { AttentionResult, TensorData } from '../../src/protocol/types';
import { ATTENTION_TOLERANCE, FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff } from '../helpers/fixtures';

/** The fixtures with generation references, as their READMEs list them. */
const WITH_GENERATE: Record<string, string[]> = {
  [FIXTURES_ROOT]: ['gemma', 'gemma2', 'gpt-neox', 'gpt2', 'gpt2-no-prefix', 'llama', 'llama-sharded', 'llama3-rope-scaled-bf16', 'mistral', 'phi3', 'qwen2'],
  [FIXTURES_2_ROOT]: [
    'bart', 'bloom', 'bloom-no-prefix', 'cohere', 'cohere-qk-norm', 'falcon', 'falcon-mqa', 'falcon-rw-alibi', 'gpt2-scaled', 'gpt_bigcode', 'gptj', 'granite',
    'llama-dynamic', 'llama-yarn', 'marian', 'mbart', 'mistral-sliding', 'mixtral', 'olmo', 'olmo2', 'opt', 'phi', 'phi3-longrope', 'qwen2_moe', 'stablelm',
    'stablelm-qk-parallel', 'starcoder2', 't5', 't5-v1_1',
  ],
};

/** Encoder-only fixtures: nothing to generate with; generation is refused with a clear message. */
const ENCODER_ONLY: Record<string, string[]> = {
  [FIXTURES_ROOT]: ['bert', 'bert-legacy-names', 'distilbert', 'roberta', 'modernbert', 't5-encoder'],
  [FIXTURES_2_ROOT]: ['albert', 'bert-relative-key', 'deberta-v2', 'electra', 'mpnet', 'xlm-roberta'],
};

interface GenerateCase {
  text: string;
  prompt_ids: number[];
  new_ids: number[];
  new_tokens: (string | null)[];
  decoder_start_token_id?: number;
  decoder_ids?: number[];
}

interface GenerateReference {
  cases: GenerateCase[];
  attention_cases: number[];
  near_ties: { case: number; step: number; ids?: number[] }[];
  kind?: string;
}

function foldersWithFiles(root: string): string[] {
  return fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, 'expected-generate.json')) || fs.existsSync(path.join(root, d, 'expected-generate.safetensors')))
    .sort();
}

function checkAttentions(ours: TensorData | undefined, expected: { data: Float32Array; shape: number[] }, what: string): void {
  assert.ok(ours, `${what} returned`);
  assert.deepStrictEqual(ours.shape, expected.shape, `${what} shape`);
  assert.strictEqual(ours.dtype, 'float32');
  const diff = maxAbsDiff(new Float32Array(ours.buffer), expected.data);
  assert.ok(diff <= ATTENTION_TOLERANCE, `${what} differ by ${diff.toExponential(2)} (> ${ATTENTION_TOLERANCE})`);
}

/** `new_ids`, or (at a listed near-tie) the reference up to that step and its runner-up there. */
function checkIds(ours: number[], c: GenerateCase, i: number, ref: GenerateReference, runnerUp: number[] | undefined): void {
  if (ours.every((id, k) => id === c.new_ids[k]) && ours.length === c.new_ids.length) return;
  const step = ours.findIndex((id, k) => id !== c.new_ids[k]);
  const tie = ref.near_ties.find((t) => t.case === i && t.step === step);
  assert.ok(tie && runnerUp && ours[step] === runnerUp[step] && ours.length === c.new_ids.length, `generated ids ${JSON.stringify(ours)}, expected ${JSON.stringify(c.new_ids)} (first difference at step ${step}, not a listed near-tie)`);
}

describe('generate: the fixtures with generation references are exactly those listed', () => {
  for (const [root, names] of Object.entries(WITH_GENERATE)) {
    it(`${path.basename(root)}: every folder with expected-generate.* is tested, and each has both files`, () => {
      assert.deepStrictEqual(foldersWithFiles(root), [...names].sort());
      for (const name of names) for (const file of ['expected-generate.json', 'expected-generate.safetensors']) assert.ok(fs.existsSync(path.join(root, name, file)), `${name}/${file}`);
    });
  }
});

/**
 * Real-sized models run their generation graphs in several sessions (BART-base's decoder: one layer
 * each), which the tiny fixtures never need: these also run one layer per session.
 */
const ONE_LAYER_PER_SESSION: Record<string, string[]> = {
  [FIXTURES_ROOT]: ['llama', 'gpt2'],
  [FIXTURES_2_ROOT]: ['bart', 'marian', 'mbart', 't5'],
};

const sessionsVariants = (root: string, name: string) => [{ label: '', options: {} }, ...(ONE_LAYER_PER_SESSION[root]?.includes(name) ? [{ label: ', one layer per session', options: { stackLayersPerChunk: 1 } }] : [])];

for (const [root, names] of Object.entries(WITH_GENERATE)) {
  for (const name of names) for (const variant of sessionsVariants(root, name)) {
    describe(`generate: ${path.basename(root)}/${name}${variant.label}`, function () {
      this.timeout(300000);
      const folder = path.join(root, name);
      const ref = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8')) as GenerateReference;
      let model: AttentionModel;
      let file: SafetensorsFile;
      before(async () => {
        model = await loadModel(folder, variant.options);
        file = new SafetensorsFile(path.join(folder, 'expected-generate.safetensors'));
      });
      after(async () => {
        file?.close();
        await model?.dispose();
      });
      const expected = (key: string) => {
        const entry = file.tensors.get(key);
        if (!entry) throw new Error(`${name}: expected-generate.safetensors has no ${key}`);
        return { data: readTensor(entry), shape: entry.shape };
      };
      ref.cases.forEach((c, i) => {
        it(`case ${i}: ${c.new_ids.length} greedy ids${ref.attention_cases.includes(i) ? ' and the attentions over prompt + generated' : ''}`, async () => {
          const result: AttentionResult = await model.generate(c.text, { maxNewTokens: c.new_ids.length, stopAtEos: false, processors: false });
          const runnerUp = (c as { runner_up_ids?: number[] }).runner_up_ids;
          assert.ok(result.generation, 'generation info');
          checkIds(result.generation.newIds, c, i, ref, runnerUp);
          assert.strictEqual(result.generation.stoppedBy, 'count');
          if (c.decoder_ids) {
            // Encoder-decoder: the text is the encoder input; the decoder is the start token plus the generated ids.
            assert.deepStrictEqual(result.tokens.map((t) => t.id), c.prompt_ids, 'encoder ids');
            assert.strictEqual(result.generation.decoderStartId, c.decoder_start_token_id);
            const decoder = result.decoderTokens ?? [];
            assert.deepStrictEqual(decoder.map((t) => t.id), [c.decoder_start_token_id, ...result.generation.newIds], 'decoder ids');
            assert.deepStrictEqual(decoder.map((t) => t.generated === true), decoder.map((_, k) => k > 0), 'generated marks');
          } else {
            assert.deepStrictEqual(result.tokens.map((t) => t.id), [...c.prompt_ids, ...result.generation.newIds], 'prompt + generated ids');
            assert.deepStrictEqual(result.tokens.map((t) => t.generated === true), result.tokens.map((_, k) => k >= c.prompt_ids.length), 'generated marks');
          }
          const generated = (c.decoder_ids ? result.decoderTokens!.slice(1) : result.tokens.slice(c.prompt_ids.length)).map((t) => t.raw);
          if (result.generation.newIds.every((id, k) => id === c.new_ids[k])) assert.deepStrictEqual(generated, c.new_tokens.map((t, k) => t ?? `<${c.new_ids[k]}>`), 'generated tokens');
          if (!ref.attention_cases.includes(i)) return;
          if (c.decoder_ids) {
            const blocks = result.blocks ?? [];
            checkAttentions(blocks.find((b) => b.kind === 'decoder')?.attentions, expected(`case${i}.decoder_attentions`), 'decoder attentions');
            checkAttentions(blocks.find((b) => b.kind === 'cross')?.attentions, expected(`case${i}.cross_attentions`), 'cross attentions');
          } else {
            checkAttentions(result.attentions, expected(`case${i}.attentions`), 'attentions');
          }
        });
      });
    });
  }
}

describe('generate: encoder-only models are refused with a clear message', function () {
  this.timeout(120000);
  for (const [root, names] of Object.entries(ENCODER_ONLY)) {
    for (const name of names) {
      it(`${path.basename(root)}/${name}`, async () => {
        const model = await loadModel(path.join(root, name));
        try {
          await assert.rejects(model.generate('Hello there', { maxNewTokens: 4 }), (err: unknown) => err instanceof EngineError && err.code === 'unsupported-architecture' && /needs a causal language model .*or an encoder-decoder/.test(err.message));
        } finally {
          await model.dispose();
        }
      });
    }
  }
});

describe('generate: stopping, limits, progress, cancellation', function () {
  this.timeout(120000);
  let gpt2: AttentionModel;
  before(async () => {
    gpt2 = await loadModel(path.join(FIXTURES_ROOT, 'gpt2'));
  });
  after(async () => {
    await gpt2?.dispose();
  });

  it("stops after the model's end-of-sequence token (hf-tiny/llama case 0 reaches </s> at step 4)", async () => {
    const folder = path.join(FIXTURES_ROOT, 'llama');
    const ref = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8')) as GenerateReference;
    const model = await loadModel(folder);
    try {
      const result = await model.generate(ref.cases[0].text, { maxNewTokens: 8 });
      assert.deepStrictEqual(result.generation?.newIds, ref.cases[0].new_ids.slice(0, 5));
      assert.strictEqual(result.generation?.stoppedBy, 'eos');
      assert.strictEqual(result.tokens[result.tokens.length - 1].special, true, 'the end-of-sequence token is marked special');
      assert.deepStrictEqual(result.attentions.shape.slice(2), [ref.cases[0].prompt_ids.length + 5, ref.cases[0].prompt_ids.length + 5]);
    } finally {
      await model.dispose();
    }
  });

  it("applies generation_config.json's forced_eos_token_id by default, as transformers' generate() does (hf-tiny-2/bart)", async () => {
    const folder = path.join(FIXTURES_2_ROOT, 'bart');
    const ref = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8')) as GenerateReference;
    const model = await loadModel(folder);
    try {
      const result = await model.generate(ref.cases[0].text, { maxNewTokens: 8, stopAtEos: false });
      assert.deepStrictEqual(result.generation?.newIds, [...ref.cases[0].new_ids.slice(0, 7), 2]);
      assert.deepStrictEqual(result.generation?.settings, ['forced_eos_token_id 2']);
    } finally {
      await model.dispose();
    }
  });

  it("stops at the model's longest sequence, and refuses a prompt that leaves no room", async () => {
    const words = (count: number) => Array.from({ length: count }, () => 'cake').join(' ');
    const limit = gpt2.maxTokens;
    let text = words(limit);
    while ((await gpt2.tokenize(text)).ids.length > limit - 3) text = text.slice(0, text.lastIndexOf(' '));
    const n = (await gpt2.tokenize(text)).ids.length;
    const result = await gpt2.generate(text, { maxNewTokens: 16, stopAtEos: false });
    assert.strictEqual(result.generation?.newIds.length, limit - n);
    assert.strictEqual(result.generation?.stoppedBy, 'max-positions');
    assert.strictEqual(result.tokens.length, limit);
    await assert.rejects(gpt2.generate(words(limit + 10), { maxNewTokens: 4 }), (err: unknown) => err instanceof EngineError && err.code === 'too-long' && /prompt and continuation together/.test(err.message));
  });

  it('reports "Generating token k of N" and stops when cancelled between tokens', async () => {
    const messages: string[] = [];
    const controller = new AbortController();
    await assert.rejects(
      gpt2.generate('I am making a cake', { maxNewTokens: 16 }, controller.signal, (message) => {
        messages.push(message);
        if (message === 'Generating token 3 of 16') controller.abort();
      }),
      (err: unknown) => err instanceof EngineError && err.code === 'cancelled',
    );
    assert.deepStrictEqual(messages.filter((m) => m.startsWith('Generating token')), ['Generating token 1 of 16', 'Generating token 2 of 16', 'Generating token 3 of 16']);
    // The model is still usable afterwards.
    const result = await gpt2.generate('I am making a cake', { maxNewTokens: 2, stopAtEos: false });
    assert.strictEqual(result.generation?.newIds.length, 2);
  });

  it('refuses empty text and a count below 1 with clear messages', async () => {
    await assert.rejects(gpt2.generate('   ', { maxNewTokens: 4 }), (err: unknown) => err instanceof EngineError && err.code === 'empty-text');
    await assert.rejects(gpt2.generate('hello', { maxNewTokens: 0 }), /must be at least 1/);
  });
});
