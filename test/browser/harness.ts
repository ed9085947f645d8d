/**
 * Runs the real webview bundle (dist/webview.js) in headless Chromium, inside the real panel HTML
 * (src/panel/html.ts, strict CSP and all), served from 127.0.0.1. `acquireVsCodeApi` is a stand-in
 * that records posted messages and keeps state in sessionStorage (so a reload restores it, as
 * VS Code does); the VS Code theme is imitated with a body class and --vscode-* variables.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { getPanelHtml, type PanelL10n, type PanelWebview } from '../../src/panel/html';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';

export const CHROMIUM = '/usr/bin/chromium';

export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

// The themes' variables live with the standalone export page, which needs them too.
import { THEMES, type ThemeName } from '../../src/export/themes';
export { THEMES, type ThemeName };

/** Replaces ArrayBuffers with base64 so a message can cross page.evaluate (JSON only). */
function encodeBuffers(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { __arrayBuffer: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeBuffers);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeBuffers(v)]));
  return value;
}

function serve(root: string, l10n: PanelL10n): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const webview: PanelWebview = {
        cspSource: origin,
        asWebviewUri: (uri) => ({ toString: () => `${origin}${uri.path}` }) as never,
      };
      const extensionUri = { path: '', with: ({ path: p }: { path: string }) => ({ path: p }) } as never;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(getPanelHtml(webview, extensionUri, l10n));
      return;
    }
    // Only what the panel's localResourceRoots allow: dist/ and media/.
    const rel = path.posix.normalize(url.pathname).replace(/^\/+/, '');
    if (!/^(dist|media)\//.test(rel)) {
      res.writeHead(404).end();
      return;
    }
    const file = path.join(root, rel);
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(data);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

export interface Harness {
  page: Page;
  context: BrowserContext;
  origin: string;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
  /** Messages the webview posted, oldest first. */
  posted(): Promise<WebviewToHost[]>;
  clearPosted(): Promise<void>;
  /** Delivers a message as the extension host would. */
  send(message: HostToWebview): Promise<void>;
  setTheme(theme: ThemeName): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  theme?: ThemeName;
  deviceScaleFactor?: number;
  viewport?: { width: number; height: number };
  /** UI language: the page gets l10n/bundle.l10n.<language>.json as the host would pass it (default English). */
  language?: string;
}

export async function openHarness(options: HarnessOptions = {}): Promise<Harness> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium)`);
  const root = repoRoot();
  const bundle = path.join(root, 'dist', 'webview.js');
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} not found: build first (node esbuild.js)`);
  const language = options.language ?? 'en';
  const bundleFile = path.join(root, 'l10n', `bundle.l10n.${language}.json`);
  const l10n: PanelL10n = language === 'en' ? { language } : { language, bundle: JSON.parse(fs.readFileSync(bundleFile, 'utf8')) };
  const { server, origin } = await serve(root, l10n);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-webview-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: options.viewport ?? { width: 1200, height: 800 },
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
  });
  const theme = THEMES[options.theme ?? 'light'];
  await context.addInitScript(
    ({ bodyClass, vars }) => {
      const w = window as unknown as Record<string, unknown>;
      w.__posted = [];
      w.__cspViolations = [];
      // When each kind of message last began to be handled (registered before the panel's own
      // listener, so it runs first): timings measure from here, not from the harness's own work.
      w.__arrivedAt = {};
      window.addEventListener('message', (e) => {
        const type = (e.data as { type?: unknown } | null)?.type;
        if (typeof type === 'string') (w.__arrivedAt as Record<string, number>)[type] = performance.now();
      });
      document.addEventListener('securitypolicyviolation', (e) => {
        (w.__cspViolations as string[]).push(`${e.violatedDirective} blocked ${e.blockedURI}`);
      });
      w.acquireVsCodeApi = () => ({
        postMessage: (m: unknown) => (w.__posted as unknown[]).push(JSON.parse(JSON.stringify(m))),
        getState: () => JSON.parse(sessionStorage.getItem('vscodeState') ?? 'null'),
        setState: (s: unknown) => sessionStorage.setItem('vscodeState', JSON.stringify(s)),
      });
      // VS Code sets the theme through the DOM (CSSOM), which the page's CSP allows.
      const apply = () => {
        for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
        document.body.className = bodyClass;
      };
      if (document.body) apply();
      else new MutationObserver((_, obs) => {
        if (document.body) {
          obs.disconnect();
          apply();
        }
      }).observe(document, { childList: true, subtree: true });
    },
    theme,
  );
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
  const harness: Harness = {
    page,
    context,
    origin,
    problems,
    posted: () => page.evaluate(() => (window as unknown as { __posted: WebviewToHost[] }).__posted),
    clearPosted: () => page.evaluate(() => void ((window as unknown as { __posted: unknown[] }).__posted = [])),
    send: async (message) => {
      await page.evaluate((encoded) => {
        const decode = (v: unknown): unknown => {
          if (v && typeof v === 'object' && '__arrayBuffer' in v) {
            const bin = atob((v as { __arrayBuffer: string }).__arrayBuffer);
            const bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            return bytes.buffer;
          }
          if (Array.isArray(v)) return v.map(decode);
          if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
          return v;
        };
        const decoded = decode(encoded);
        // When the message was handed to the page, its buffers decoded.
        (window as unknown as { __sentAt: number }).__sentAt = performance.now();
        window.postMessage(decoded, '*');
      }, encodeBuffers(message));
      // Let the message event run and the next frame draw.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    },
    setTheme: async (name) => {
      await page.evaluate(({ bodyClass, vars }) => {
        for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
        document.body.className = bodyClass;
      }, THEMES[name]);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    },
    close: async () => {
      await context.close();
      await new Promise((r) => server.close(r));
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** CSP violations recorded in the page. */
export function cspViolations(h: Harness): Promise<string[]> {
  return h.page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

/** Waits two animation frames so everything requested has been drawn. */
export function frames(page: Page): Promise<void> {
  return page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

/** Clicks the middle of heatmap cell (row, col) of the head view. */
export async function clickHeadCell(h: Harness, row: number, col: number): Promise<void> {
  const g = await h.page.evaluate(() => {
    const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    const d = c.dataset;
    return { left: r.left, top: r.top, cell: Number(d.cellSize), gridLeft: Number(d.gridLeft), gridTop: Number(d.gridTop), scrollX: Number(d.scrollX), scrollY: Number(d.scrollY) };
  });
  await h.page.mouse.click(g.left + g.gridLeft + (col + 0.5) * g.cell - g.scrollX, g.top + g.gridTop + (row + 0.5) * g.cell - g.scrollY);
  await frames(h.page);
}
