/**
 * The catalogue keys the sources use: the English first argument of every vscode.l10n.t(), t() and
 * msg() call in src/ and webview/ (see src/l10n/runtime.ts). Keys must be plain string literals so
 * they can be collected; a call whose first argument is a template literal or a concatenation is
 * reported as a problem (it could never be found in the bundle).
 */
import * as fs from 'fs';
import * as path from 'path';

export interface KeyScan {
  keys: Map<string, string[]>;
  problems: string[];
}

const CALL = /(?<![\w$.])(?:vscode\.l10n\.t|l10n\.t|t|msg)\(\s*/g;

function listSources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listSources(full);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Reads a JS string literal starting at `start` (a quote); returns its value and the index after it. */
function readLiteral(code: string, start: number): { value: string; end: number } | undefined {
  const quote = code[start];
  if (quote !== "'" && quote !== '"') return undefined;
  let value = '';
  for (let i = start + 1; i < code.length; i++) {
    const c = code[i];
    if (c === quote) return { value, end: i + 1 };
    if (c === '\n') return undefined;
    if (c !== '\\') {
      value += c;
      continue;
    }
    const next = code[++i];
    if (next === 'n') value += '\n';
    else if (next === 't') value += '\t';
    else if (next === 'u') {
      value += String.fromCharCode(parseInt(code.slice(i + 1, i + 5), 16));
      i += 4;
    } else value += next;
  }
  return undefined;
}

export function scanKeys(root: string, folders = ['src', 'webview']): KeyScan {
  const keys = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of folders.flatMap((f) => listSources(path.join(root, f)))) {
    const code = fs.readFileSync(file, 'utf8');
    const rel = path.relative(root, file);
    for (const match of code.matchAll(CALL)) {
      const at = match.index! + match[0].length;
      const line = code.slice(0, at).split('\n').length;
      const first = code[at];
      if (first === '`') {
        problems.push(`${rel}:${line}: ${match[0].trim()} with a template literal: use a string with {0} placeholders`);
        continue;
      }
      const literal = readLiteral(code, at);
      if (!literal) continue; // a variable (a msg()-marked constant) or no argument
      const after = code.slice(literal.end).match(/^\s*([,)+])/)?.[1];
      if (after === '+') {
        problems.push(`${rel}:${line}: ${match[0].trim()} with a concatenation: use one string`);
        continue;
      }
      if (after === undefined) continue;
      const where = keys.get(literal.value) ?? [];
      where.push(`${rel}:${line}`);
      keys.set(literal.value, where);
    }
  }
  return { keys, problems };
}

/** The {0}, {1}… placeholders of a message, sorted. */
export function placeholders(message: string): string[] {
  return [...new Set(message.match(/\{\d+\}/g) ?? [])].sort();
}
