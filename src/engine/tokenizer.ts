/**
 * Tokenization with `tokenizer.json` through the native Hugging Face `tokenizers` package, which
 * gives character offsets. It reports offsets in Unicode code points; VS Code positions count
 * UTF-16 code units, so every range is converted here, once.
 */
import { Tokenizer } from 'tokenizers';
import type { TokenInfo } from '../protocol/types';
import { EngineError } from './errors';
import { MAX_JSON_BYTES, modelFolder, parseJsonFile, readCapped, resolveModelFile } from './files';

/** The tokenizers library's own message, kept short (it describes the file, not our code). */
function libraryMessage(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || 'no reason given';
}

export interface Encoded {
  ids: number[];
  typeIds: number[];
  tokens: TokenInfo[];
}

type TokenStyle = 'byte-level' | 'metaspace' | 'plain';

/** GPT-2's reversible map between bytes and printable characters (Ġ is the space byte, Ċ newline). */
function byteLevelDecoder(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map.set(String.fromCharCode(b), b);
    else map.set(String.fromCharCode(256 + extra++), b);
  }
  return map;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const hexBytes = (bytes: number[]) => bytes.map((b) => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Maps a code-point index to a UTF-16 index for one string. */
export function codePointToUtf16Map(text: string): Uint32Array {
  const map: number[] = [];
  let unit = 0;
  for (const ch of text) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return Uint32Array.from(map);
}

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** A component and, for `Sequence` components, the ones inside it. */
function components(component: unknown): Json[] {
  const c = asObject(component);
  if (!c) return [];
  const inner = [c.normalizers, c.pretokenizers, c.processors].find(Array.isArray) as unknown[] | undefined;
  return [c, ...(inner ?? []).flatMap(components)];
}

/**
 * Settings the tokenizers library accepts when it loads a file but then panics on while encoding
 * (a non-unwinding Rust panic aborts the process): found by fuzzing. The engine process contains
 * any such abort; these are refused up front with a message that says what is wrong.
 */
export function knownPanic(json: Json): string | undefined {
  for (const n of components(json.normalizer)) {
    const pattern = asObject(n.pattern);
    if (n.type === 'Replace' && pattern && (pattern.String === '' || pattern.Regex === '')) return 'its Replace normalizer has an empty pattern';
    if (n.type === 'Precompiled') {
      // A u32 trie size, the trie (u32 units), then the normalized strings.
      const map = typeof n.precompiled_charsmap === 'string' ? Buffer.from(n.precompiled_charsmap, 'base64') : Buffer.alloc(0);
      const trie = map.length >= 8 ? map.readUInt32LE(0) : 0;
      if (trie === 0 || trie % 4 !== 0 || trie + 4 > map.length) return 'its Precompiled normalizer has a damaged character map';
    }
  }
  for (const p of components(json.pre_tokenizer)) {
    if (p.type === 'FixedLength' && !(typeof p.length === 'number' && p.length > 0)) return 'its FixedLength pre-tokenizer has length 0';
  }
  for (const p of components(json.post_processor)) {
    if (p.type !== 'TemplateProcessing') continue;
    const defined = asObject(p.special_tokens) ?? {};
    for (const piece of [...(Array.isArray(p.single) ? p.single : []), ...(Array.isArray(p.pair) ? p.pair : [])]) {
      const special = asObject(asObject(piece)?.SpecialToken);
      if (special && !(typeof special.id === 'string' && Object.hasOwn(defined, special.id))) return 'its post-processor template names a special token it does not define';
    }
  }
  return undefined;
}

export class TextTokenizer {
  private byteMap = byteLevelDecoder();

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly style: TokenStyle,
    /** Ids of tokenizer.json's `added_tokens` (special or not): never drawn for the random-token probe. */
    private readonly addedIds: ReadonlySet<number>,
  ) {}

  static load(folder: string): TextTokenizer {
    const m = modelFolder(folder);
    const file = resolveModelFile(m, 'tokenizer.json');
    if (!file) {
      throw new EngineError('missing-file', `${folder} has no tokenizer.json. Attention Inspector needs the fast-tokenizer file; in Python, AutoTokenizer.from_pretrained(...).save_pretrained(folder) writes it.`);
    }
    const label = `tokenizer.json in ${folder}`;
    const bytes = readCapped(file.real, label, MAX_JSON_BYTES['tokenizer.json']);
    const json = parseJsonFile(bytes, label) as { decoder?: unknown; pre_tokenizer?: unknown; added_tokens?: unknown } | null;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new EngineError('bad-checkpoint', `${label} must hold a JSON object.`);
    const panic = knownPanic(json as Record<string, unknown>);
    if (panic) throw new EngineError('bad-checkpoint', `${label} cannot be used: ${panic}. Save the tokenizer again with transformers, or pick another model.`);
    // Tell byte-level from SentencePiece-style vocabularies by what the decoder undoes.
    const described = JSON.stringify([json.decoder ?? null, json.pre_tokenizer ?? null]);
    const style: TokenStyle = described.includes('"ByteLevel"') ? 'byte-level' : described.includes('\u2581') || described.includes('Metaspace') ? 'metaspace' : 'plain';
    let tokenizer: Tokenizer;
    try {
      // From the bytes already checked, not the path again (it could have changed since).
      tokenizer = Tokenizer.fromString(bytes.toString('utf8'));
      // As transformers does unless asked (set_truncation_and_padding): the file's padding would
      // append pad tokens that an encoder attends to as real ones, its truncation would cut long
      // texts silently. The engine states its own limit instead.
      tokenizer.disablePadding();
      tokenizer.disableTruncation();
    } catch (err) {
      throw new EngineError('bad-checkpoint', `${label} could not be loaded by the tokenizers library: ${libraryMessage(err)}`);
    }
    const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
    const addedIds = new Set(added.map((t) => asObject(t)?.id).filter((id): id is number => Number.isInteger(id)));
    return new TextTokenizer(tokenizer, style, addedIds);
  }

  /**
   * Vocabulary ids a random-token probe may draw: the base vocabulary's ids, without the added and
   * special tokens, ascending.
   */
  ordinaryIds(): number[] {
    const ids = Object.values(this.tokenizer.getVocab(false)).filter((id) => Number.isInteger(id) && id >= 0 && !this.addedIds.has(id));
    return [...new Set(ids)].sort((a, b) => a - b);
  }

  /** The special tokens the tokenizer puts before and after a single text (BOS; [CLS] … [SEP]). */
  async specialFrame(): Promise<{ prefix: number[]; suffix: number[] }> {
    const encoding = await this.tokenizer.encode('a', null, { addSpecialTokens: true });
    const ids = encoding.getIds();
    const special = encoding.getSpecialTokensMask();
    const first = special.findIndex((m) => m === 0);
    if (first < 0) return { prefix: [...ids], suffix: [] };
    let last = special.length - 1;
    while (last > first && special[last] === 1) last--;
    return { prefix: ids.slice(0, first), suffix: ids.slice(last + 1) };
  }

  /**
   * Tokens for ids given directly (the probe): each spelled as the vocabulary does, the readable
   * texts joined as the analyzed text with every token's range in it. `special` marks the ids the
   * tokenizer adds (`specialIds`).
   */
  tokensForIds(ids: readonly number[], specialIds: ReadonlySet<number>): { text: string; tokens: TokenInfo[] } {
    let text = '';
    const tokens = ids.map((id): TokenInfo => {
      const raw = this.tokenizer.idToToken(id);
      if (raw === null) throw new EngineError('internal', `Token id ${id} is not in this model's vocabulary.`);
      if (specialIds.has(id)) return { id, raw, display: raw, start: -1, end: -1, special: true, segment: 0 };
      const display = this.display(raw);
      const start = text.length;
      text += display;
      return { id, raw, display, start, end: text.length, special: false, segment: 0 };
    });
    return { text, tokens };
  }

  /** Readable text of a vocabulary token: what it stands for in the input. */
  display(raw: string): string {
    if (this.style === 'byte-level') {
      const bytes: number[] = [];
      for (const ch of raw) {
        const b = this.byteMap.get(ch);
        if (b === undefined) return raw; // an added token spelled in plain text
        bytes.push(b);
      }
      try {
        return utf8.decode(Uint8Array.from(bytes));
      } catch {
        return hexBytes(bytes); // part of a multi-byte character
      }
    }
    if (this.style === 'metaspace') {
      const byteFallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(raw);
      if (byteFallback) {
        const byte = parseInt(byteFallback[1], 16);
        return byte < 0x80 ? String.fromCharCode(byte) : hexBytes([byte]);
      }
      return raw.replace(/\u2581/g, ' ');
    }
    return raw;
  }

  /** The text of `ids` as the tokenizer's decoder writes it (special tokens kept). */
  async decode(ids: number[]): Promise<string> {
    try {
      return await this.tokenizer.decode(ids, false);
    } catch (err) {
      throw new EngineError('bad-checkpoint', `The model's tokenizer.json cannot decode the generated ids: ${libraryMessage(err)}`);
    }
  }

  /** The vocabulary's spelling of `id` (an encoder-decoder's decoder start token), if it has one. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.idToToken(id) ?? undefined;
  }

  async encode(text: string, textPair?: string): Promise<Encoded> {
    let encoding: Awaited<ReturnType<Tokenizer['encode']>>;
    try {
      encoding = await this.tokenizer.encode(text, textPair ?? null, { addSpecialTokens: true });
    } catch (err) {
      throw new EngineError('bad-checkpoint', `The model's tokenizer.json cannot encode this text: ${libraryMessage(err)}`);
    }
    const ids = encoding.getIds();
    const raws = encoding.getTokens();
    const offsets = encoding.getOffsets();
    const special = encoding.getSpecialTokensMask();
    const typeIds = encoding.getTypeIds();
    const sequenceIds = encoding.getSequenceIds();
    const maps = [codePointToUtf16Map(text), codePointToUtf16Map(textPair ?? '')];
    const tokens: TokenInfo[] = ids.map((id, i) => {
      const isSpecial = special[i] === 1;
      const seq = sequenceIds[i] ?? 0;
      const map = maps[seq === 1 ? 1 : 0];
      const [s, e] = offsets[i];
      const covers = !isSpecial && e >= s && e < map.length;
      return {
        id,
        raw: raws[i],
        display: isSpecial ? raws[i] : this.display(raws[i]),
        start: covers ? map[s] : -1,
        end: covers ? map[e] : -1,
        special: isSpecial,
        segment: typeIds[i] ?? 0,
      };
    });
    // Nothing would reach the model (onnxruntime faults on an empty input): a tokenizer without
    // special tokens that drops every character of this text (control characters, say).
    if (ids.length === 0) {
      throw new EngineError('empty-text', 'The tokenizer turns this text into no tokens at all (its characters are all dropped, and this tokenizer adds no special tokens). Select other text.');
    }
    return { ids, typeIds, tokens };
  }
}
