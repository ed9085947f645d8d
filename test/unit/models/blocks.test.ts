/** Shared family blocks whose numbers come from published formulas, and the one-way dependency. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { alibiSlopes } from '../../../src/models/blocks/masks';
import { positionIdsSkippingPadding } from '../../../src/models/blocks/embeddings';
import { debertaRelativePositions } from '../../../src/models/blocks/relative';
import { ropeSettings, rotaryTables } from '../../../src/models/blocks/rope';

const SRC = path.resolve(__dirname, '../../../../src');

describe('family blocks', () => {
  it('ALiBi slopes: geometric 2^(-8h/p) for a power of two, odd steps of 2p for the rest (Press et al.)', () => {
    assert.deepStrictEqual(Array.from(alibiSlopes(8)), [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h));
    const twelve = Array.from(alibiSlopes(12));
    assert.deepStrictEqual(twelve.slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h));
    twelve.slice(8).forEach((s, i) => assert.ok(Math.abs(s - 2 ** -(0.5 + i)) < 1e-7, `slope ${8 + i}: ${s}`));
  });

  it('longrope (Phi-3): short factors up to original_max_position_embeddings tokens, long ones past it, cos/sin × √(1 + ln(max/original)/ln(original)) at every length', () => {
    const config = { max_position_embeddings: 96, original_max_position_embeddings: 24, rope_theta: 10000, rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [3, 4] } };
    const rope = ropeSettings(config, 10000, { longrope: true });
    const scale = Math.sqrt(1 + Math.log(96 / 24) / Math.log(24));
    const d = 4;
    for (const [n, factors] of [[24, [1, 2]], [25, [3, 4]]] as const) {
      const { cos, sin } = rotaryTables(rope, n, d, d);
      const p = n - 1;
      for (let i = 0; i < d / 2; i++) {
        const angle = p / (factors[i] * 10000 ** ((2 * i) / d));
        for (const dim of [i, i + d / 2]) {
          assert.ok(Math.abs(cos[p * d + dim] - Math.cos(angle) * scale) < 1e-5, `n ${n}, cos ${dim}`);
          assert.ok(Math.abs(sin[p * d + dim] - Math.sin(angle) * scale) < 1e-5, `n ${n}, sin ${dim}`);
        }
      }
    }
    assert.throws(() => ropeSettings(config), /rope_scaling\.rope_type = "longrope"/, 'families that do not opt in refuse longrope');
  });

  it('DeBERTa log-bucket relative positions (make_log_bucket_position, buckets 16, max 512; values from numpy float32)', () => {
    const n = 70;
    const rel = debertaRelativePositions(n, 16, 512);
    const every5 = (row: number) => Array.from({ length: 14 }, (_, k) => rel[row * n + 5 * k]);
    assert.deepStrictEqual(every5(69), [12, 12, 12, 12, 12, 11, 11, 11, 11, 10, 10, 9, 9, 4]);
    assert.deepStrictEqual(every5(0), [0, -5, -9, -10, -10, -10, -11, -11, -11, -11, -12, -12, -12, -12]);
  });

  it('rotary tables: frequency i = theta^(-2i/r) at dims (i, i + r/2) for rotate_half, (2i, 2i+1) interleaved; dims past r unrotated', () => {
    const rope = ropeSettings({ rope_theta: 10000 });
    const [n, headDim, rotaryDim] = [5, 8, 4];
    const angle = (p: number, i: number) => p * 10000 ** ((-2 * i) / rotaryDim);
    const expect = (dims: (i: number) => number[], layout: 'half' | 'interleaved') => {
      const { cos, sin } = rotaryTables(rope, n, headDim, rotaryDim, layout);
      for (let p = 0; p < n; p++) {
        const wantCos = new Array(headDim).fill(1);
        const wantSin = new Array(headDim).fill(0);
        for (let i = 0; i < rotaryDim / 2; i++) for (const d of dims(i)) [wantCos[d], wantSin[d]] = [Math.cos(angle(p, i)), Math.sin(angle(p, i))];
        Array.from(cos.subarray(p * headDim, (p + 1) * headDim)).forEach((c, d) => assert.ok(Math.abs(c - wantCos[d]) < 1e-6, `${layout} cos p${p} d${d}: ${c} vs ${wantCos[d]}`));
        Array.from(sin.subarray(p * headDim, (p + 1) * headDim)).forEach((s, d) => assert.ok(Math.abs(s - wantSin[d]) < 1e-6, `${layout} sin p${p} d${d}: ${s} vs ${wantSin[d]}`));
      }
    };
    expect((i) => [i, i + rotaryDim / 2], 'half');
    expect((i) => [2 * i, 2 * i + 1], 'interleaved');
  });

  it("RoBERTa / MPNet position ids (create_position_ids_from_input_ids): padding stays at padding_idx and is not counted", () => {
    assert.deepStrictEqual(positionIdsSkippingPadding([0, 5, 6, 2], 1), [2, 3, 4, 5]);
    assert.deepStrictEqual(positionIdsSkippingPadding([0, 1, 6, 1, 2], 1), [2, 1, 3, 1, 4]);
  });
});

describe('dependencies point one way', () => {
  it('src/engine never imports src/models (families are handed to the engine)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && /from '(\.\.\/)+models[/']/.test(fs.readFileSync(file, 'utf8'))) offenders.push(path.relative(SRC, file));
      }
    };
    walk(path.join(SRC, 'engine'));
    assert.deepStrictEqual(offenders, []);
  });
});
