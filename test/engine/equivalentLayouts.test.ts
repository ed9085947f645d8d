/**
 * Layouts no fixture holds, pinned to the reference anyway. Multi-query attention is multi-head
 * attention whose key/value heads are all the same, so a multi-query fixture whose fused q/k/v
 * projection is rewritten per head `[heads, 3, d]` (its one key/value head repeated), with
 * `multi_query: false`, must still give the fixture's expected values: that checks the per-head
 * paths of gpt_bigcode and of Falcon's parallel layout against transformers' numbers.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AttentionModel } from '../../src/engine/model';
import { readTensor, SafetensorsFile } from '../../src/engine/safetensors';
import { loadModel } from '../../src/models';
import { checkCase, FIXTURES_2_ROOT, openFixture } from '../helpers/fixtures';

/** `[heads·d + 2d, …]` rows (all q heads, one k, one v) → `[heads, 3, d, …]` rows (q_h, k, v per head). */
function perHeadFromMultiQuery(data: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const block = headDim * cols;
  const out = new Float32Array(3 * heads * block);
  const k = data.subarray(heads * block, (heads + 1) * block);
  const v = data.subarray((heads + 1) * block, (heads + 2) * block);
  for (let h = 0; h < heads; h++) {
    out.set(data.subarray(h * block, (h + 1) * block), 3 * h * block);
    out.set(k, (3 * h + 1) * block);
    out.set(v, (3 * h + 2) * block);
  }
  return out;
}

/** Writes `folder`'s checkpoint to a new folder as float32, tensors named `fused` rewritten per head, and patches config.json. */
function rewritePerHead(folder: string, fused: RegExp, heads: number, headDim: number, patch: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ai-layout-${path.basename(folder)}-`));
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (fs.existsSync(path.join(folder, file))) fs.copyFileSync(path.join(folder, file), path.join(dir, file));
  }
  const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
  const source = new SafetensorsFile(path.join(folder, 'model.safetensors'));
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  try {
    for (const entry of source.tensors.values()) {
      let data = readTensor(entry);
      let shape = entry.shape;
      if (fused.test(entry.name)) {
        const cols = shape.length === 2 ? shape[1] : 1;
        data = perHeadFromMultiQuery(data, heads, headDim, cols);
        shape = shape.length === 2 ? [3 * heads * headDim, cols] : [3 * heads * headDim];
      }
      header[entry.name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
      chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      offset += data.byteLength;
    }
  } finally {
    source.close();
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([length, json, ...chunks]));
  return dir;
}

const REWRITES = [
  { fixture: 'gpt_bigcode', fused: /attn\.c_attn\.(weight|bias)$/, what: 'gpt_bigcode per-head c_attn (multi_query false)' },
  { fixture: 'falcon-mqa', fused: /self_attention\.query_key_value\.weight$/, what: 'falcon per-head query_key_value, parallel attention and MLP from one input_layernorm (multi_query false)' },
];

describe('layouts without a fixture reproduce the reference through an equivalent checkpoint', function () {
  this.timeout(120000);
  for (const { fixture: name, fused, what } of REWRITES) {
    describe(what, () => {
      const source = path.join(FIXTURES_2_ROOT, name);
      const config = JSON.parse(fs.readFileSync(path.join(source, 'config.json'), 'utf8'));
      const heads: number = config.n_head ?? config.num_attention_heads;
      const headDim = (config.n_embd ?? config.hidden_size) / heads;
      let dir: string;
      let model: AttentionModel;
      const fixture = openFixture(name, FIXTURES_2_ROOT);
      before(async () => {
        dir = rewritePerHead(source, fused, heads, headDim, { multi_query: false });
        model = await loadModel(dir);
      });
      after(async () => {
        await model?.dispose();
        fixture.close();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });
      fixture.cases.forEach((c, i) => {
        it(`case ${i}: ${JSON.stringify(c.text).slice(0, 60)}`, () => checkCase(model, fixture, i));
      });
    });
  }
});
