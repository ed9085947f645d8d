/**
 * Tokenization with `tokenizer.json` through the native Hugging Face `tokenizers` package, which
 * gives character offsets. It reports offsets in Unicode code points; VS Code positions count
 * UTF-16 code units, so every range is converted here, once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from 'tokenizers';
import type { TokenInfo } from '../protocol/types';
import { EngineError } from './errors';

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

export class TextTokenizer {
  private byteMap = byteLevelDecoder();

  private constructor(private readonly tokenizer: Tokenizer, private readonly style: TokenStyle) {}

  static load(folder: string): TextTokenizer {
    const file = path.join(folder, 'tokenizer.json');
    if (!fs.existsSync(file)) {
      throw new EngineError('missing-file', `${folder} has no tokenizer.json. Attention Inspector needs the fast-tokenizer file; in Python, AutoTokenizer.from_pretrained(...).save_pretrained(folder) writes it.`);
    }
    let json: { decoder?: unknown; pre_tokenizer?: unknown };
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new EngineError('bad-checkpoint', `tokenizer.json is not valid JSON: ${(err as Error).message}`);
    }
    // Tell byte-level from SentencePiece-style vocabularies by what the decoder undoes.
    const described = JSON.stringify([json.decoder ?? null, json.pre_tokenizer ?? null]);
    const style: TokenStyle = described.includes('"ByteLevel"') ? 'byte-level' : described.includes('\u2581') || described.includes('Metaspace') ? 'metaspace' : 'plain';
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromFile(file);
    } catch (err) {
      throw new EngineError('bad-checkpoint', `tokenizer.json could not be loaded: ${(err as Error).message}`);
    }
    return new TextTokenizer(tokenizer, style);
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

  /** The vocabulary's spelling of `id` (an encoder-decoder's decoder start token), if it has one. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.idToToken(id) ?? undefined;
  }

  async encode(text: string, textPair?: string): Promise<Encoded> {
    const encoding = await this.tokenizer.encode(text, textPair ?? null, { addSpecialTokens: true });
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
    return { ids, typeIds, tokens };
  }
}
