/** Damaged or edited copies of the reference checkpoints, built in temporary folders (never in ../shared). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES_ROOT } from './fixtures';

/** A writable copy of fixture `name` (checkpoint files only). */
export function copyFixture(name: string, root = FIXTURES_ROOT): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ai-${name}-`));
  for (const file of fs.readdirSync(path.join(root, name))) {
    if (file.startsWith('expected')) continue;
    fs.copyFileSync(path.join(root, name, file), path.join(dir, file));
    fs.chmodSync(path.join(dir, file), 0o644);
  }
  return dir;
}

export function readJson(dir: string, file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
}

/** Rewrites a JSON file of the folder through `edit`. */
export function editJson(dir: string, file: string, edit: (json: Record<string, any>) => unknown): void {
  const json = readJson(dir, file);
  const result = edit(json);
  fs.writeFileSync(path.join(dir, file), JSON.stringify(result === undefined ? json : result));
}

export interface SafetensorsParts {
  header: Record<string, any>;
  data: Buffer;
}

export function readSafetensors(file: string): SafetensorsParts {
  const bytes = fs.readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')), data: bytes.subarray(8 + len) };
}

/** Writes a safetensors file from a header text (as given, not re-serialized) and data. */
export function writeSafetensorsRaw(file: string, headerText: string | Buffer, data: Buffer): void {
  const json = typeof headerText === 'string' ? Buffer.from(headerText) : headerText;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

export function writeSafetensors(file: string, parts: SafetensorsParts): void {
  writeSafetensorsRaw(file, JSON.stringify(parts.header), parts.data);
}

/** Folders made by these helpers, removed by `removeAll`. */
export class TempFolders {
  private dirs: string[] = [];

  copy(name: string, root?: string): string {
    const dir = copyFixture(name, root);
    this.dirs.push(dir);
    return dir;
  }

  empty(prefix = 'ai-'): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
    this.dirs = [];
  }
}
