/**
 * The webview in Brazilian Portuguese: the page gets the pt-br bundle as the host passes it
 * (vscode.l10n.bundle), and in every state the tests reach — placeholder, each tab and mode, the
 * "More" and export menus, hovers, banners, step by step, an encoder-decoder's blocks — no UI string
 * is left in English. Every text node, aria-label, title and label in the DOM (shadow roots
 * included) is checked against the English source strings of the catalogue (test/helpers/l10nKeys):
 * a string that matches an English message, or contains a sentence of one, fails the test.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/ptBr.test.js
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionResult } from '../../src/protocol/types';
import { loadModel } from '../../src/models';
import { setL10nBundle, t } from '../../src/l10n/runtime';
import { fixtureResult } from '../unit/analysis/fixture';
import { FIXTURES_2_ROOT, FIXTURES_ROOT, openFixture } from '../helpers/fixtures';
import { scanKeys } from '../helpers/l10nKeys';
import { bertHeadVectors } from './bertVectors';
import { FakeHost } from './fakeHost';
import { cspViolations, frames, openHarness, repoRoot, type Harness } from './harness';

const BUNDLE: Record<string, string> = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'l10n', 'bundle.l10n.pt-br.json'), 'utf8'));

/** English words that never belong in the Portuguese panel (token labels of the BERT case excluded: "i am makin ##g a ca ##ke"). */
const ENGLISH_WORDS = /\b(the|of|and|with|layer|layers|head|heads|query|queries|key|keys|weight|weights|click|hover|select|shown|mean|row|rows|column|columns|special|colou?rs?|export|copy|save|more|mode|scale|range|score|order|arrange|lines|step|model)\b/i;

interface Pattern {
  key: string;
  full: RegExp;
  fragments: string[];
}

/** English messages whose translation differs, as whole-string patterns and long literal fragments. */
function englishPatterns(): Pattern[] {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [...scanKeys(repoRoot()).keys.keys()]
    .filter((key) => BUNDLE[key] !== undefined && BUNDLE[key] !== key)
    .map((key) => {
      const parts = key.split(/\{\d+\}/);
      return {
        key,
        full: new RegExp(`^${parts.map(escape).join('[^]*?')}$`),
        // A sentence of the message inside a longer string (texts are built from several messages).
        fragments: parts.map((p) => p.trim()).filter((p) => p.length >= 14 && /\s/.test(p)),
      };
    });
}

/** Every string a user can see or hear: text nodes, aria-labels, titles, labels, placeholders (shadow roots too). */
async function uiStrings(h: Harness): Promise<string[]> {
  return h.page.evaluate(() => {
    const out = new Set<string>();
    // Not UI strings: the model's name and the token labels of the top-keys list.
    const skip = (el: Element | null) => !!el?.closest('[data-testid="model-name"], .top-keys .key');
    const visit = (root: Node) => {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
      for (let node: Node | null = walker.currentNode; node; node = walker.nextNode()) {
        if (node.nodeType === Node.TEXT_NODE) {
          const parent = node.parentElement;
          if (parent && (parent.tagName === 'STYLE' || parent.tagName === 'SCRIPT' || skip(parent))) continue;
          const text = node.textContent?.trim();
          if (text) out.add(text);
          continue;
        }
        if (node.nodeType !== Node.ELEMENT_NODE) continue; // the shadow root itself
        const el = node as Element;
        if (skip(el)) continue;
        for (const name of ['aria-label', 'title', 'label', 'placeholder', 'aria-roledescription', 'alt']) {
          const value = el.getAttribute(name)?.trim();
          if (value) out.add(value);
        }
        if (el.shadowRoot) visit(el.shadowRoot);
      }
    };
    visit(document.documentElement);
    out.add(document.title);
    return [...out];
  });
}

async function chooseOption(h: Harness, selectId: string, optionLabel: string): Promise<void> {
  await h.page.locator(`#${selectId}`).click();
  await h.page.locator(`#${selectId} .option`, { hasText: optionLabel }).first().click();
  await frames(h.page);
}

describe('webview in Brazilian Portuguese: no English left', function () {
  this.timeout(180000);
  let h: Harness;
  const patterns = englishPatterns();
  const seen = new Set<string>();
  const english: string[] = [];

  /** Collects the strings of the current state and records any English among them. */
  async function check(state: string, words = true): Promise<void> {
    // PT_BR_SCREENSHOTS=<folder>: a PNG per state, to look at the Portuguese panel.
    const shots = process.env.PT_BR_SCREENSHOTS;
    if (shots) await h.page.screenshot({ path: path.join(shots, `${state.replace(/[^\w]+/g, '-')}.png`) });
    for (const text of await uiStrings(h)) {
      seen.add(text);
      for (const p of patterns) {
        if (p.full.test(text) || p.fragments.some((f) => text.includes(f))) english.push(`${state}: ${JSON.stringify(text)} is English (${JSON.stringify(p.key)})`);
      }
      if (words && ENGLISH_WORDS.test(text)) english.push(`${state}: ${JSON.stringify(text)} has the English word "${text.match(ENGLISH_WORDS)![0]}"`);
    }
  }

  before(async () => {
    setL10nBundle(BUNDLE, 'pt-br');
    h = await openHarness({ theme: 'light', language: 'pt-br' });
  });

  after(async () => {
    setL10nBundle({});
    await h?.close();
  });

  afterEach(async () => {
    assert.deepStrictEqual(await cspViolations(h), [], 'Content Security Policy violations');
    assert.deepStrictEqual(h.problems, [], 'console errors in the webview');
    assert.deepStrictEqual(english, [], 'English strings in the Portuguese panel');
  });

  it('the catalogue gives the check something to look for', () => {
    assert.ok(patterns.length > 300, `${patterns.length} English messages`);
    // The check itself: English text is caught, its translation is not.
    const caught = (text: string) => patterns.some((p) => p.full.test(text) || p.fragments.some((f) => text.includes(f)));
    assert.ok(caught('Layer 3'));
    assert.ok(caught('Mean of layer'));
    assert.ok(caught('Single head — layer 0, head 0 · special tokens shown'));
    assert.ok(!caught(t('Layer {0}', 3)));
    assert.ok(!caught(t('Mean of layer')));
  });

  it('placeholder and page in Portuguese (lang="pt-br")', async () => {
    assert.strictEqual(await h.page.getAttribute('html', 'lang'), 'pt-br');
    assert.match(await h.page.locator('[data-testid="placeholder"]').innerText(), /Ainda não há atenção para mostrar/);
    assert.match(await h.page.locator('[data-testid="caution"]').innerText(), /^Cuidado: Pesos de atenção são uma pista, não uma explicação/);
    await check('placeholder');
  });

  it('a result: header, toolbar, menus, heatmap hover and details', async () => {
    const result = fixtureResult('bert', 0);
    await h.send({ type: 'result', resultId: 7, result });
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Cabeça única — camada 0, cabeça 0 · tokens especiais visíveis$/);
    assert.match(await h.page.locator('.token-count').innerText(), /^9 tokens · 3 camadas × 4 cabeças$/);
    await check('result');
    // In a wide panel every control is in the toolbar; in a narrow one behind "More" and "Export".
    for (const toggle of ['more-controls', 'exports-toggle']) {
      const button = h.page.locator(`[data-testid="${toggle}"]`);
      if (await button.isVisible()) await button.click();
    }
    await frames(h.page);
    await check('menus open');
    // Hover a cell, then a row label: tooltip and details strip.
    const g = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const d = c.dataset;
      return { left: r.left, top: r.top, cell: Number(d.cellSize), gridLeft: Number(d.gridLeft), gridTop: Number(d.gridTop), scrollX: Number(d.scrollX), scrollY: Number(d.scrollY) };
    });
    await h.page.mouse.move(g.left + g.gridLeft + 2.5 * g.cell - g.scrollX, g.top + g.gridTop + 3.5 * g.cell - g.scrollY);
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /\(camada 0, cabeça 0\)$/);
    assert.match(await h.page.locator('[data-testid="details"]').innerText(), /presta atenção em/);
    await check('cell hover');
    await h.page.mouse.move(g.left + g.gridLeft - 12, g.top + g.gridTop + 1.5 * g.cell - g.scrollY);
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /consulta 1, texto/);
    await check('label hover');
  });

  it('every mode, special-token handling and colour scale', async () => {
    await chooseOption(h, 'layer', t('Layer {0}', 2));
    await chooseOption(h, 'head', t('Head {0}', 1));
    await chooseOption(h, 'mode', t('Mean of layer'));
    await check('mean of layer');
    await chooseOption(h, 'mode', t('Mean of all'));
    await check('mean of all');
    await chooseOption(h, 'mode', t('Rollout'));
    await h.page.waitForFunction(() => document.querySelector('[data-testid="computing"]')?.textContent === '');
    assert.match(await h.page.locator('[data-testid="mode-explanation"]').innerText(), /^Rollout de atenção: Rollout de atenção \(Abnar & Zuidema 2020\): a atenção propagada pelas camadas/);
    await check('rollout');
    await chooseOption(h, 'mode', t('Value-weighted'));
    await check('value-weighted');
    await chooseOption(h, 'mode', t('Single head'));
    await chooseOption(h, 'special', t('Hide, renormalise rows'));
    await chooseOption(h, 'norm', t('Log'));
    await check('hidden specials, log colours');
    await chooseOption(h, 'norm', t('Per row'));
    await h.page.locator('[data-testid="merge"]').click();
    await frames(h.page);
    await check('per-row colours, words merged');
    await h.page.locator('[data-testid="merge"]').click();
    await chooseOption(h, 'norm', t('Linear'));
    await chooseOption(h, 'special', t('Show special tokens'));
  });

  it('lines, model (ranked, one token in every head, tile hover) and step by step', async () => {
    await h.page.locator('[data-testid="tab-lines"]').click();
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="lines-info"]').innerText(), /^Consultas à esquerda, chaves à direita/);
    await check('lines');
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    await check('model grid');
    const center = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="model-grid"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const d = c.dataset;
      return { x: r.left + Number(d.tileLeft) + Number(d.thumb) / 2 - Number(d.scrollX), y: r.top + Number(d.tileTop) + Number(d.thumb) / 2 - Number(d.scrollY) };
    });
    await h.page.mouse.move(center.x, center.y);
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /^Camada 0, cabeça 0: token anterior/);
    await check('tile hover');
    await chooseOption(h, 'arrangement', t('Ranked by score'));
    await chooseOption(h, 'rowQuery', t('Row of {0}: {1}', 3, 'makin'));
    await check('ranked, one row');
    await chooseOption(h, 'rowQuery', t('Whole matrices'));
    await chooseOption(h, 'arrangement', t('Layers × heads'));
    await h.page.mouse.move(5, 5);
    await h.page.locator('[data-testid="tab-step"]').click();
    await frames(h.page);
    await check('step waiting for q/k/v');
    const asked = (await h.posted()).filter((m) => m.type === 'requestHeadVectors').pop() as { layer: number; head: number } | undefined;
    assert.deepStrictEqual(asked && [asked.layer, asked.head], [2, 1]);
    await h.send({ type: 'headVectors', resultId: 7, vectors: bertHeadVectors(0, 2, 1) });
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="step-check"]').innerText(), /o recálculo confere/);
    await check('step by step');
    await h.page.locator('[data-testid="tab-head"]').click();
    await frames(h.page);
  });

  it('exported figures carry Portuguese captions (title, subtitle, axes, caution)', async () => {
    await h.clearPosted();
    const exportsToggle = h.page.locator('[data-testid="exports-toggle"]');
    if (await exportsToggle.isVisible()) await exportsToggle.click();
    await h.page.locator('#export-svg').click();
    await frames(h.page);
    const svg = (await h.posted()).find((m) => m.type === 'export') as { data: string; suggestedName: string } | undefined;
    assert.ok(svg, 'an SVG export was posted');
    assert.match(svg.data, /hf-tiny\/bert — camada 2, cabeça 1 · cabeça única/);
    assert.match(svg.data, /tokens especiais visíveis · tokens de subpalavras/);
    assert.match(svg.data, /Pesos de atenção são uma pista, não uma explicação/);
    assert.match(svg.data, /linhas: consultas ↓ · colunas: chaves →/);
    assert.doesNotMatch(svg.data, /single head|special tokens|clue/);
    // File names stay ASCII and English-free of words: model, text, layer/head, mode id.
    assert.match(svg.suggestedName, /^attention-bert-.*-L2-H1-head\.svg$/);
  });

  it('banners: stale, closed document, truncated text, error', async () => {
    await h.send({ type: 'stale', resultId: 7, stale: true });
    await check('stale');
    await h.send({ type: 'stale', resultId: 7, stale: true, reason: 'closed' });
    await check('closed');
    await h.send({ type: 'stale', resultId: 7, stale: false });
    const base = fixtureResult('bert', 0);
    await h.send({ type: 'result', resultId: 8, result: { ...base, text: `${base.text} e um final que os tokens não cobrem` } });
    assert.match(await h.page.locator('[data-testid="truncated-banner"]').innerText(), /^Só os primeiros 9 tokens foram analisados/);
    await check('truncated');
    await h.send({ type: 'result', resultId: 9, result: { ...base, tokens: [] } as unknown as AttentionResult });
    assert.match(await h.page.locator('[data-testid="error-banner"]').innerText(), /^O painel não consegue mostrar este resultado/);
    // The reason after the colon is a diagnostic for a bug report (src/analysis/resultCheck.ts), not UI text.
    await h.send({ type: 'result', resultId: 10, result: base });
    await check('after error');
  });

  it('a sentence pair: banner, pair filter, badge', async () => {
    // bert case 4: [CLS] the cat sat on the mat . [SEP] | wh ##er ##e d ##id the cat s ##it [UNK] [SEP]
    const result = fixtureResult('bert', 4);
    await h.send({ type: 'result', resultId: 12, result, pair: { text: 'where did the cat sit?' } });
    assert.match(await h.page.locator('[data-testid="pair-banner"]').innerText(), /^Par de frases: A = 9 tokens \(a seleção principal\), B = 11 tokens/);
    await chooseOption(h, 'pairFilter', t('A → B (A’s queries, B’s keys)'));
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), / · A → B$/);
    // The text's tokens are English words (the, cat): whole messages and sentences only.
    await check('sentence pair', false);
    await chooseOption(h, 'pairFilter', t('All (both texts)'));
  });

  it('an encoder-decoder: block switcher, decoder text button, cross-attention view and hover', async () => {
    const fixture = openFixture('bart', FIXTURES_2_ROOT);
    const model = await loadModel(path.join(FIXTURES_2_ROOT, 'bart'));
    let result: AttentionResult;
    try {
      result = await model.analyze(fixture.cases[0].text, { target: fixture.cases[0].decoder_text });
    } finally {
      await model.dispose();
      fixture.close();
    }
    const host = new FakeHost(h);
    await host.analysis(11, result);
    await host.serve();
    const options = await h.page.locator('#attention-block vscode-option').allInnerTexts();
    assert.deepStrictEqual(options.map((o) => o.replace(/ \(.*/, '')), ['Autoatenção do codificador', 'Autoatenção do decodificador', 'Atenção cruzada']);
    // Token labels of this text are English words: whole messages and sentences only.
    await check('encoder-decoder', false);
    await chooseOption(h, 'attention-block', 'Atenção cruzada');
    await host.serve();
    await frames(h.page);
    assert.ok(await h.page.locator('[data-testid="cross-view"]').isVisible());
    const box = (await h.page.locator('[data-testid="cross-canvas"]').boundingBox())!;
    await h.page.mouse.move(box.x + 3, box.y + 3);
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="cross-readout"]').innerText(), /\(decodificador 0\) → .* \(texto 0\): /);
    await check('cross-attention', false);
  });

  it('attention on demand: waiting for views, each tab served by the host, a failed request', async () => {
    const host = new FakeHost(h);
    await host.analysis(31, fixtureResult('bert', 0));
    await host.newRequests();
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Carregando esta visualização…');
    await check('on demand: waiting');
    await host.serve();
    await check('on demand: head view');
    for (const tab of ['lines', 'model', 'step']) {
      await h.page.locator(`[data-testid="tab-${tab}"]`).click();
      await frames(h.page);
      await check(`on demand: ${tab} waiting`, tab !== 'step');
      await host.serve();
      await frames(h.page);
    }
    await h.page.locator('[data-testid="tab-head"]').click();
    await chooseOption(h, 'head', t('Head {0}', 3));
    const [pending] = await host.newRequests();
    assert.ok(pending, 'a request for the new head');
    await h.send({ type: 'replyError', requestId: pending.requestId, resultId: pending.resultId, message: t('This analysis is no longer shown.') });
    assert.match(await h.page.locator('[data-testid="computing"]').innerText(), /^Não foi possível carregar esta visualização: /);
    await check('on demand: failed request');
  });

  it('compare: sources, alignment, the three views, legends, the heads that changed most and their hover', async () => {
    const model = await loadModel(path.join(FIXTURES_ROOT, 'gpt2'));
    let a: AttentionResult;
    let b: AttentionResult;
    try {
      // A substitution and a deletion, so the alignment summary has every part.
      a = await model.analyze('The dog sat on the mat.');
      b = await model.analyze('The mat sat the mat.');
    } finally {
      await model.dispose();
    }
    const host = new FakeHost(h);
    await host.newRequests(); // the earlier tests' requests are not this host's to answer
    await host.analysis(41, a);
    await host.serve();
    await frames(h.page);
    await h.send({ type: 'compare', resultId: 41, base: a, other: b, kind: 'text' });
    await frames(h.page);
    assert.ok(await h.page.locator('[data-testid="tab-compare"]').isVisible(), 'the compare tab opens');
    await h.page.locator('[data-testid="tab-compare"]').click();
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="alignment-summary"]').innerText(), /tokens alinhados/);
    // Token labels of the two texts are English words, so only the catalogue's messages are checked.
    await check('compare', false);
  });

  it('saw the strings of every state above', () => {
    assert.ok(seen.size > 150, `only ${seen.size} distinct strings collected`);
  });
});
