/**
 * Seeded mutations of the reference checkpoints for the fuzzer: damaged safetensors headers and
 * bodies, shard indexes, config.json and tokenizer.json values, odd files in place of the real
 * ones, and odd texts. Each case is reproducible from its seed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors, writeSafetensors, writeSafetensorsRaw } from '../helpers/modelFolders';

/** mulberry32: small, fast, seedable. */
export class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NUMBERS = [0, -1, 1, 2, 3, 7, 0.5, -0.5, 1e-12, -1e-6, 1e9, 999_999_999, 2 ** 31, 2 ** 40, 2 ** 53, 1e308, -1e308, 1.5, 64, 65, 4096, 1e6];
const OTHERS = [null, true, false, '', 'constructor', 'toString', '__proto__', [], {}, [1, 2], 'gelu', 'quick_gelu', 'relu', 'gated-gelu', 'sliding_attention', 'x'.repeat(300), { Fixed: 2 ** 40 }];
const CONFIG_KEYS = [
  'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'hidden_size', 'intermediate_size', 'head_dim', 'max_position_embeddings',
  'vocab_size', 'rms_norm_eps', 'layer_norm_eps', 'rope_theta', 'partial_rotary_factor', 'rope_scaling', 'pad_token_id', 'hidden_act', 'model_type',
  'sliding_window', 'layer_types', 'local_attention', 'relative_attention_max_distance', 'relative_attention_num_buckets', 'type_vocab_size',
  'n_layer', 'n_head', 'n_embd', 'n_positions', 'd_model', 'num_heads', 'd_kv', 'd_ff', 'num_layers', 'rotary_pct', 'attn_logit_softcapping',
  'query_pre_attn_scalar', 'tie_word_embeddings', 'feed_forward_proj', 'global_attn_every_n_layers', 'n_inner', 'layer_norm_epsilon',
];

export const TEXTS = [
  'The cat sat on the mat.',
  'I am making a cake',
  'a\u0000b\u0000c',
  '\ud800 lone \udfff surrogates',
  '\u05e9\u05dc\u05d5\u05dd RTL \u0645\u0631\u062d\u0628\u0627 mixed',
  'family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 emoji',
  'line\r\nline\rline\n\r\n',
  '\u0001\u0002',
  ' ',
  'caf\u00e9 na\u00efve \u00c5ngstr\u00f6m',
  'x'.repeat(3000),
  Array.from({ length: 400 }, (_, i) => `w${i}`).join(' '),
];

function randomText(rng: Rng): string {
  if (rng.chance(0.6)) return rng.pick(TEXTS);
  const pieces = ['a', ' ', '\n', '\r\n', '\u0000', '\ud800', '\udc00', '\u200d', '\ud83d\ude00', '\u0301', '\u05d0', '##', '[CLS]', '<s>', '<|endoftext|>', 'the', '\t', '\u2581'];
  return Array.from({ length: rng.int(1, 60) }, () => rng.pick(pieces)).join('');
}

function randomValue(rng: Rng): unknown {
  return structuredClone(rng.chance(0.65) ? rng.pick(NUMBERS) : rng.pick(OTHERS));
}

function editJsonFile(file: string, edit: (j: any) => unknown): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out = edit(json);
  fs.writeFileSync(file, JSON.stringify(out === undefined ? json : out));
}

function safetensorsFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(dir, f));
}

type Mutation = (dir: string, rng: Rng) => string;

const configValue: Mutation = (dir, rng) => {
  const key = rng.pick(CONFIG_KEYS);
  const value = randomValue(rng);
  const nested = rng.chance(0.2);
  editJsonFile(path.join(dir, 'config.json'), (c) => {
    if (nested) {
      c.rope_scaling = typeof c.rope_scaling === 'object' && c.rope_scaling ? c.rope_scaling : { rope_type: 'linear' };
      c.rope_scaling[rng.pick(['factor', 'rope_type', 'rope_theta', 'low_freq_factor', 'original_max_position_embeddings'])] = value;
    } else c[key] = value;
  });
  return `config ${nested ? 'rope_scaling.' : ''}${key}=${JSON.stringify(value)?.slice(0, 40)}`;
};

const configWhole: Mutation = (dir, rng) => {
  const file = path.join(dir, 'config.json');
  const kind = rng.pick(['null', 'array', 'number', 'truncated', 'latin1', 'delete-key', 'empty']);
  const text = fs.readFileSync(file, 'utf8');
  if (kind === 'null') fs.writeFileSync(file, 'null');
  if (kind === 'array') fs.writeFileSync(file, '[]');
  if (kind === 'number') fs.writeFileSync(file, '42');
  if (kind === 'truncated') fs.writeFileSync(file, text.slice(0, rng.int(0, text.length - 1)));
  if (kind === 'latin1') fs.writeFileSync(file, Buffer.from(text.replace('}', ', "x": "caf\u00e9"}'), 'latin1'));
  if (kind === 'empty') fs.writeFileSync(file, '');
  if (kind === 'delete-key') editJsonFile(file, (c) => { delete c[rng.pick(Object.keys(c))]; });
  return `config.json ${kind}`;
};

const safetensorsHeader: Mutation = (dir, rng) => {
  const file = rng.pick(safetensorsFiles(dir));
  const p = readSafetensors(file);
  const names = Object.keys(p.header).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  const kind = rng.pick(['offset', 'dtype', 'shape', 'duplicate', 'metadata', 'length', 'byte', 'leading-space', 'trailing', 'truncate', 'drop-tensor', 'rename']);
  const text = JSON.stringify(p.header);
  switch (kind) {
    case 'offset': p.header[name].data_offsets = p.header[name].data_offsets.map((o: number) => o + rng.pick([-4, -1, 1, 2, 4, 1 << 20])); writeSafetensors(file, p); break;
    case 'dtype': p.header[name].dtype = rng.pick(['I8', 'F64', 'toString', 'constructor', 'F8_E4M3', 'BOOL', 'Q4', '', 'I64']); writeSafetensors(file, p); break;
    case 'shape': p.header[name].shape = rng.pick([[], [0], [-1], [1e9, 1e9], [...p.header[name].shape].reverse(), [p.header[name].shape[0] * 2], 'x']); writeSafetensors(file, p); break;
    case 'duplicate': writeSafetensorsRaw(file, `{${JSON.stringify(name)}:${JSON.stringify(p.header[name])},${text.slice(1)}`, p.data); break;
    case 'metadata': p.header.__metadata__ = rng.pick([{ a: 1 }, [], 'x', null, { a: 'b' }]); writeSafetensors(file, p); break;
    case 'length': {
      const bytes = fs.readFileSync(file);
      bytes.writeBigUInt64LE(BigInt(Math.max(0, Number(bytes.readBigUInt64LE(0)) + rng.pick([-8, -1, 1, 8, 1 << 30]))), 0);
      fs.writeFileSync(file, bytes);
      break;
    }
    case 'byte': {
      const bytes = fs.readFileSync(file);
      const end = 8 + Number(bytes.readBigUInt64LE(0));
      for (let i = rng.int(1, 4); i > 0; i--) bytes[rng.int(0, end - 1)] = rng.int(0, 255);
      fs.writeFileSync(file, bytes);
      break;
    }
    case 'leading-space': writeSafetensorsRaw(file, ` ${text}`, p.data); break;
    case 'trailing': fs.appendFileSync(file, Buffer.alloc(rng.int(1, 16))); break;
    case 'truncate': { const size = fs.statSync(file).size; fs.truncateSync(file, rng.int(0, size - 1)); break; }
    case 'drop-tensor': delete p.header[name]; writeSafetensors(file, p); break;
    case 'rename': p.header[`${name}.x`] = p.header[name]; delete p.header[name]; writeSafetensors(file, p); break;
  }
  return `safetensors ${kind} ${path.basename(file)}`;
};

const safetensorsBody: Mutation = (dir, rng) => {
  const file = rng.pick(safetensorsFiles(dir));
  const p = readSafetensors(file);
  const names = Object.keys(p.header).filter((k) => k !== '__metadata__' && p.header[k].data_offsets[1] > p.header[k].data_offsets[0]);
  const name = rng.pick(names);
  const [begin, end] = p.header[name].data_offsets;
  const kind = rng.pick(['nan', 'inf', 'flip']);
  const at = begin + 2 * Math.floor(rng.int(0, (end - begin) / 2 - 1));
  const dtype = p.header[name].dtype;
  if (kind === 'flip') for (let i = rng.int(1, 8); i > 0; i--) p.data[rng.int(begin, end - 1)] ^= 1 << rng.int(0, 7);
  else if (dtype === 'F32') p.data.writeFloatLE(kind === 'nan' ? NaN : -Infinity, begin + 4 * Math.floor((at - begin) / 4));
  else if (dtype === 'F16') p.data.writeUInt16LE(kind === 'nan' ? 0x7e00 : 0x7c00, at);
  else if (dtype === 'BF16') p.data.writeUInt16LE(kind === 'nan' ? 0x7fc0 : 0x7f80, at);
  writeSafetensors(file, p);
  return `weights ${kind} in ${name}`;
};

const shardIndex: Mutation = (dir, rng) => {
  const file = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(file)) return safetensorsHeader(dir, rng);
  const kind = rng.pick(['non-string', 'missing-shard', 'traversal', 'null', 'no-map', 'array-map']);
  editJsonFile(file, (j) => {
    const key = rng.pick(Object.keys(j.weight_map));
    if (kind === 'non-string') j.weight_map[key] = rng.pick([7, null, {}, ['a']]);
    if (kind === 'missing-shard') j.weight_map[key] = 'model-99999-of-99999.safetensors';
    if (kind === 'traversal') j.weight_map[key] = rng.pick(['../config.json', '/etc/passwd', '../../x.safetensors', '.safetensors']);
    if (kind === 'null') return null;
    if (kind === 'no-map') delete j.weight_map;
    if (kind === 'array-map') j.weight_map = Object.values(j.weight_map);
    return undefined;
  });
  return `index ${kind}`;
};

const tokenizer: Mutation = (dir, rng) => {
  const file = path.join(dir, 'tokenizer.json');
  const kind = rng.pick(['padding', 'truncation', 'stride', 'empty-template', 'undefined-special', 'no-post', 'replace-empty', 'fixed-length-0', 'split-backtrack', 'no-unk', 'null', 'truncated', 'huge-id', 'added-garbage', 'precompiled']);
  if (kind === 'null') { fs.writeFileSync(file, 'null'); return 'tokenizer null'; }
  if (kind === 'truncated') { const t = fs.readFileSync(file, 'utf8'); fs.writeFileSync(file, t.slice(0, rng.int(0, t.length - 1))); return 'tokenizer truncated'; }
  editJsonFile(file, (t) => {
    if (kind === 'padding') t.padding = { strategy: rng.pick([{ Fixed: 130 }, { Fixed: 2 ** 40 }, 'BatchLongest']), direction: 'Right', pad_to_multiple_of: rng.pick([null, 0, 7]), pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' };
    if (kind === 'truncation') t.truncation = { direction: rng.pick(['Right', 'Left']), max_length: rng.pick([0, 1, 4, 130]), strategy: rng.pick(['LongestFirst', 'OnlySecond']), stride: 0 };
    if (kind === 'stride') t.truncation = { direction: 'Right', max_length: 4, strategy: 'LongestFirst', stride: 8 };
    const post = t.post_processor && t.post_processor.type === 'TemplateProcessing' ? t.post_processor : null;
    if (kind === 'empty-template') t.post_processor = { type: 'TemplateProcessing', single: [], pair: [], special_tokens: {} };
    if (kind === 'undefined-special') t.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[NOPE]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: post?.special_tokens ?? {} };
    if (kind === 'no-post') t.post_processor = null;
    if (kind === 'replace-empty') t.normalizer = { type: 'Replace', pattern: { String: '' }, content: 'x' };
    if (kind === 'fixed-length-0') t.pre_tokenizer = { type: 'FixedLength', length: 0 };
    if (kind === 'split-backtrack') t.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
    if (kind === 'no-unk' && t.model) { delete t.model.unk_token; t.model.unk_id = null; }
    if (kind === 'huge-id' && t.model?.vocab && !Array.isArray(t.model.vocab)) { const k = rng.pick(Object.keys(t.model.vocab)); t.model.vocab[k] = rng.pick([1e6, 2 ** 31, -1]); }
    if (kind === 'added-garbage') t.added_tokens = [...(t.added_tokens ?? []), { id: rng.pick([1e7, -1, 0]), content: rng.pick(['', 'the', '\u0000']), single_word: false, lstrip: false, rstrip: false, normalized: rng.chance(0.5), special: rng.chance(0.5) }];
    if (kind === 'precompiled') t.normalizer = { type: 'Precompiled', precompiled_charsmap: rng.pick(['', 'AAAA', 'not base64!']) };
    return undefined;
  });
  return `tokenizer ${kind}`;
};

const files: Mutation = (dir, rng) => {
  const target = rng.pick(['config.json', 'tokenizer.json', ...safetensorsFiles(dir).map((f) => path.basename(f))]);
  const file = path.join(dir, target);
  const kind = rng.pick(['fifo', 'dev-zero', 'passwd', 'dangling', 'folder', 'loop', 'missing']);
  fs.rmSync(file, { force: true });
  if (kind === 'fifo') execFileSync('mkfifo', [file]);
  if (kind === 'dev-zero') fs.symlinkSync('/dev/zero', file);
  if (kind === 'passwd') fs.symlinkSync('/etc/passwd', file);
  if (kind === 'dangling') fs.symlinkSync(path.join(dir, 'deleted-blob'), file);
  if (kind === 'folder') fs.mkdirSync(file);
  if (kind === 'loop') fs.symlinkSync(target, file);
  return `file ${target} ${kind}`;
};

const MUTATIONS: [string, Mutation, number][] = [
  ['config-value', configValue, 5],
  ['config-whole', configWhole, 1],
  ['safetensors-header', safetensorsHeader, 4],
  ['safetensors-body', safetensorsBody, 2],
  ['shard-index', shardIndex, 1],
  ['tokenizer', tokenizer, 3],
  ['files', files, 1],
  ['text-only', () => 'text only', 2],
];

export interface FuzzCase {
  seed: number;
  fixture: string;
  family: string;
  mutations: string[];
  text: string;
  textPair?: string;
}

/** Copies `fixture` into `dir` and applies one to three seeded mutations. */
export function makeCase(seed: number, fixturesRoot: string, fixtures: string[], dir: string): FuzzCase {
  const rng = new Rng(seed);
  const fixture = rng.pick(fixtures);
  for (const file of fs.readdirSync(path.join(fixturesRoot, fixture))) {
    if (file.startsWith('expected') || file.startsWith('config.saved') || file === 'generation_config.json') continue;
    fs.copyFileSync(path.join(fixturesRoot, fixture, file), path.join(dir, file));
    fs.chmodSync(path.join(dir, file), 0o644);
  }
  const total = MUTATIONS.reduce((s, m) => s + m[2], 0);
  const mutations: string[] = [];
  let family = '';
  for (let i = rng.int(1, 3); i > 0; i--) {
    let r = rng.next() * total;
    const [name, mutate] = MUTATIONS.find((m) => (r -= m[2]) < 0) ?? MUTATIONS[0];
    family ||= name;
    try {
      mutations.push(mutate(dir, rng));
      // Later mutations would read what this one put in place (a FIFO, /dev/zero).
      if (name === 'files') break;
    } catch (err) {
      // A mutation that no longer applies (its file was replaced by an earlier one).
      mutations.push(`${name} (skipped: ${(err as Error).message.slice(0, 60)})`);
    }
  }
  return { seed, fixture, family, mutations, text: randomText(rng), textPair: rng.chance(0.1) ? randomText(rng) : undefined };
}
