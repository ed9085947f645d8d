/**
 * The pt-br translation is complete and sound: every key the sources use (vscode.l10n.t, t, msg in
 * src/ and webview/) is in l10n/bundle.l10n.pt-br.json with the same placeholders, no value is left
 * in English except names and notation that read the same in Portuguese, no key is stale, and
 * package.nls.pt-br.json covers every %key% of package.json, as the walkthrough's media do.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { formatMessage, setL10nBundle, t, translateIn } from '../../src/l10n/runtime';
import { localizeError } from '../../src/l10n/errors';
import { placeholders, scanKeys } from '../helpers/l10nKeys';

const root = path.resolve(__dirname, '..', '..', '..');
const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));

/** Values that are the same in Portuguese: names, file formats, notation. */
const SAME_IN_PORTUGUESE = new Set(['Attention Inspector', 'ind', 'JSON', 'commit', 'Linear', 'linear: 0 → 1', '{0} tokens', 'Zoom']);

describe('l10n: the pt-br catalogue', () => {
  const scan = scanKeys(root);
  const bundle = readJson('l10n/bundle.l10n.pt-br.json') as Record<string, string>;

  it('finds the keys (the scan itself works)', () => {
    assert.ok(scan.keys.size > 300, `only ${scan.keys.size} keys found`);
    assert.ok(scan.keys.has('Show special tokens') && scan.keys.has('Open Log'), 'webview and host keys are both scanned');
  });

  it('has no translated call the catalogue cannot see (template literals, concatenations)', () => {
    assert.deepEqual(scan.problems, []);
  });

  it('translates every key used in src/ and webview/', () => {
    const missing = [...scan.keys].filter(([key]) => !(key in bundle)).map(([key, where]) => `${where[0]}: ${JSON.stringify(key)}`);
    assert.deepEqual(missing, []);
  });

  it('keeps no stale keys', () => {
    assert.deepEqual(Object.keys(bundle).filter((key) => !scan.keys.has(key)), []);
  });

  it('leaves no value in English except names and notation', () => {
    const same = Object.entries(bundle).filter(([key, value]) => key === value && !SAME_IN_PORTUGUESE.has(key)).map(([key]) => key);
    assert.deepEqual(same, []);
    for (const [key, value] of Object.entries(bundle)) assert.ok(value.trim() === value && value.length > 0, `${JSON.stringify(key)}: empty or padded translation`);
  });

  it('keeps every placeholder of each message', () => {
    const wrong = Object.entries(bundle).filter(([key, value]) => placeholders(key).join() !== placeholders(value).join()).map(([key]) => key);
    assert.deepEqual(wrong, []);
  });

  it('uses the agreed terms (cabeça, camada, consulta/chave) and never the English ones in prose', () => {
    const values = Object.values(bundle).join('\n');
    for (const english of [/\bhead\b/i, /\blayer\b/i, /\bquery\b/i, /\bweight\b/i]) assert.doesNotMatch(values, english);
    assert.match(bundle['Single head'], /cabeça/i);
    assert.match(bundle['Mean of layer'], /camada/i);
    assert.match(bundle['rows: queries ↓ · columns: keys →'], /consultas.*chaves/);
  });
});

describe('l10n: package.nls', () => {
  const manifest = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
  const used = new Set([...manifest.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]));
  const english = readJson('package.nls.json') as Record<string, string>;
  const portuguese = readJson('package.nls.pt-br.json') as Record<string, string>;

  it('names the l10n folder and localizes the manifest', () => {
    assert.equal(JSON.parse(manifest).l10n, './l10n');
    assert.ok(used.size >= 30, `only ${used.size} %keys% in package.json`);
  });

  it('package.nls.json and package.nls.pt-br.json cover exactly the %keys% of package.json', () => {
    assert.deepEqual(Object.keys(english).sort(), [...used].sort());
    assert.deepEqual(Object.keys(portuguese).sort(), [...used].sort());
  });

  it('translates every contributed string (titles, settings, walkthrough)', () => {
    const same = Object.keys(english).filter((key) => english[key] === portuguese[key] && !SAME_IN_PORTUGUESE.has(english[key]));
    assert.deepEqual(same, []);
    // Command links in walkthrough descriptions must survive translation.
    for (const key of Object.keys(english)) {
      const links = (s: string) => [...s.matchAll(/\(command:[\w.]+\)/g)].map((m) => m[0]);
      assert.deepEqual(links(portuguese[key]), links(english[key]), key);
    }
  });

  it('has a contributed string for every command and no raw English title left in package.json', () => {
    const pkg = JSON.parse(manifest);
    for (const command of pkg.contributes.commands) assert.match(command.title, /^%.+%$/, command.command);
    for (const walkthrough of pkg.contributes.walkthroughs) {
      for (const step of walkthrough.steps) {
        assert.match(step.title, /^%.+%$/);
        assert.match(step.description, /^%.+%$/);
      }
    }
  });

  it('ships every walkthrough markdown in English and Portuguese (VS Code picks <name>.nls.<language>.md)', () => {
    const pkg = JSON.parse(manifest);
    const media = pkg.contributes.walkthroughs.flatMap((w: { steps: { media: { markdown?: string } }[] }) => w.steps.map((s) => s.media.markdown)).filter(Boolean);
    assert.equal(media.length, 4);
    for (const file of media as string[]) {
      const pt = file.replace(/\.md$/, '.nls.pt-br.md');
      assert.ok(fs.existsSync(path.join(root, file)), file);
      assert.ok(fs.existsSync(path.join(root, pt)), pt);
      assert.notEqual(fs.readFileSync(path.join(root, pt), 'utf8'), fs.readFileSync(path.join(root, file), 'utf8'));
    }
  });
});

describe('l10n: runtime', () => {
  afterEach(() => setL10nBundle({}));

  it('formats placeholders like vscode.l10n and falls back to English', () => {
    assert.equal(formatMessage('{0} of {1}, {0} again, {2} kept', [1, 'two']), '1 of two, 1 again, {2} kept');
    assert.equal(t('Layer {0}', 3), 'Layer 3');
    setL10nBundle({ 'Layer {0}': 'Camada {0}' }, 'pt-br');
    assert.equal(t('Layer {0}', 3), 'Camada 3');
    assert.equal(t('Not in the bundle {0}', 1), 'Not in the bundle 1');
    assert.equal(translateIn(undefined, 'Loading {0}', 'x'), 'Loading x');
  });

  it('ignores a bundle that is not a string map', () => {
    setL10nBundle({ a: 1 }, 'pt-br');
    assert.equal(t('a'), 'a');
    setL10nBundle(['x'], 'pt-br');
    assert.equal(t('0'), '0');
  });

  it('shows engine errors unchanged in English and translated by code, with the English details, in Portuguese', () => {
    const error = { code: 'too-long', message: 'The text is 900 tokens long; gpt2 handles at most 512 tokens here.', limit: 512, length: 900 };
    assert.equal(localizeError(error), error.message);
    setL10nBundle(readJson('l10n/bundle.l10n.pt-br.json'), 'pt-br');
    const pt = localizeError(error);
    assert.match(pt, /^O texto tem 900 tokens; aqui este modelo processa no máximo 512 tokens\./);
    assert.ok(pt.includes(error.message), 'the engine message stays as the details');
    assert.match(localizeError({ code: 'pickle-only', message: 'only pytorch_model.bin' }), /^Este modelo só tem pesos em pickle/);
    assert.match(localizeError({ code: 'no-such-code', message: 'x' }), /^Algo deu errado\./);
  });
});
