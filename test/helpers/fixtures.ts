/** Access to the reference fixtures in ../shared/fixtures/hf-tiny (computed by transformers). */
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { codePointToUtf16Map } from '../../src/engine/tokenizer';

export const FIXTURES_ROOT = path.resolve(__dirname, '../../../../shared/fixtures/hf-tiny');

export interface FixtureCase {
  text: string;
  text_pair?: string;
  input_ids: number[];
  tokens: string[];
  offsets: [number, number][];
  special_tokens_mask: number[];
  token_type_ids?: number[];
}

export interface Fixture {
  name: string;
  folder: string;
  cases: FixtureCase[];
  expected: (key: string) => { data: Float32Array; shape: number[] };
  close(): void;
}

export function fixtureNames(root = FIXTURES_ROOT): string[] {
  if (!fs.existsSync(root)) throw new Error(`Reference fixtures not found at ${root}: the repository must sit beside ../shared`);
  return fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'expected.json'))).sort();
}

export function openFixture(name: string, root = FIXTURES_ROOT): Fixture {
  const folder = path.join(root, name);
  const json = JSON.parse(fs.readFileSync(path.join(folder, 'expected.json'), 'utf8'));
  const file = new SafetensorsFile(path.join(folder, 'expected.safetensors'));
  return {
    name,
    folder,
    cases: json.cases,
    expected(key) {
      const entry = file.tensors.get(key);
      if (!entry) throw new Error(`${name}: expected.safetensors has no ${key}`);
      return { data: readTensor(entry), shape: entry.shape };
    },
    close: () => file.close(),
  };
}

/** Converts the fixtures' code-point offsets to UTF-16 ranges (special tokens: -1/-1). */
export function expectedRanges(c: FixtureCase, segmentOf: (i: number) => number): [number, number][] {
  const maps = [codePointToUtf16Map(c.text), codePointToUtf16Map(c.text_pair ?? '')];
  return c.offsets.map(([s, e], i) => {
    if (c.special_tokens_mask[i] === 1) return [-1, -1];
    const map = maps[segmentOf(i)];
    return [map[s], map[e]];
  });
}

/** Largest |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}
