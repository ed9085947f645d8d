/** Shared family blocks whose numbers come from published formulas, and the one-way dependency. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { alibiSlopes } from '../../../src/models/blocks/masks';
import { positionIdsSkippingPadding } from '../../../src/models/blocks/embeddings';
import { debertaRelativePositions } from '../../../src/models/blocks/relative';

const SRC = path.resolve(__dirname, '../../../../src');

describe('family blocks', () => {
  it('ALiBi slopes: geometric 2^(-8h/p) for a power of two, odd steps of 2p for the rest (Press et al.)', () => {
    assert.deepStrictEqual(Array.from(alibiSlopes(8)), [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h));
    const twelve = Array.from(alibiSlopes(12));
    assert.deepStrictEqual(twelve.slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h));
    twelve.slice(8).forEach((s, i) => assert.ok(Math.abs(s - 2 ** -(0.5 + i)) < 1e-7, `slope ${8 + i}: ${s}`));
  });

  it('DeBERTa log-bucket relative positions (make_log_bucket_position, buckets 16, max 512; values from numpy float32)', () => {
    const n = 70;
    const rel = debertaRelativePositions(n, 16, 512);
    const every5 = (row: number) => Array.from({ length: 14 }, (_, k) => rel[row * n + 5 * k]);
    assert.deepStrictEqual(every5(69), [12, 12, 12, 12, 12, 11, 11, 11, 11, 10, 10, 9, 9, 4]);
    assert.deepStrictEqual(every5(0), [0, -5, -9, -10, -10, -10, -11, -11, -11, -11, -12, -12, -12, -12]);
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
