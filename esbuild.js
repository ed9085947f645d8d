// Bundles the extension, the engine worker, the CLI/benchmark (Node) and the webview (browser) as
// separate entry points, plus the test files. Type-checking is `tsc --noEmit`, run first.
// Usage: node esbuild.js [--production] [--watch] [--no-typecheck]
const esbuild = require('esbuild');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const typecheck = !process.argv.includes('--no-typecheck');

// Native modules load their own binaries at run time and stay in node_modules; `vscode` is
// provided by the extension host.
const nodeExternals = ['vscode', 'onnxruntime-node', 'tokenizers'];

function listTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'fixtures' ? [] : listTests(full);
    return /\.(test|suite)\.ts$/.test(entry.name) || entry.name === 'index.ts' || entry.name === 'runVsCodeTests.ts' ? [full] : [];
  });
}

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

/** @type {import('esbuild').BuildOptions[]} */
const builds = [
  {
    ...common,
    platform: 'node', format: 'cjs', target: 'node20', external: nodeExternals,
    entryPoints: {
      extension: 'src/extension.ts',
      worker: 'src/worker/engineWorker.ts',
      engineProcess: 'src/worker/engineProcess.ts',
      cli: 'src/cli/cli.ts',
      bench: 'bench/bench.ts',
      benchKept: 'bench/kept.ts',
      benchSeq2seq: 'bench/keptSeq2seq.ts',
    },
    outdir: 'dist',
  },
  {
    ...common,
    platform: 'browser', format: 'iife', target: 'es2022',
    // exportPage: the same panel, fed from data embedded in an exported HTML file (webview/standalone.ts).
    entryPoints: { webview: 'webview/main.ts', exportPage: 'webview/standalone.ts' },
    outdir: 'dist',
    loader: { '.css': 'text' },
  },
  {
    ...common,
    sourcemap: true, minify: false,
    platform: 'node', format: 'cjs', target: 'node20',
    external: [...nodeExternals, 'mocha', 'playwright-core', '@vscode/test-electron'],
    // The fuzzer (npm run fuzz) and the process-boundary benchmark are built beside the tests.
    entryPoints: [...listTests('test'), 'test/fuzz/fuzz.ts', 'bench/transfer.ts'].map((file) => ({ in: file, out: file.replace(/^test[\\/]/, '').replace(/\.ts$/, '') })),
    outdir: 'out/test',
  },
];

async function main() {
  if (typecheck && !watch) execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit'], { stdio: 'inherit' });
  // Compiled tests of deleted sources must not keep running.
  fs.rmSync(path.join(__dirname, 'out', 'test'), { recursive: true, force: true });
  // Entry points that do not exist yet (the project grows issue by issue) are skipped, not fatal.
  const present = builds.map((b) => ({
    ...b,
    entryPoints: Array.isArray(b.entryPoints)
      ? b.entryPoints.filter((e) => fs.existsSync(e.in))
      : Object.fromEntries(Object.entries(b.entryPoints).filter(([, file]) => fs.existsSync(file))),
  })).filter((b) => (Array.isArray(b.entryPoints) ? b.entryPoints.length : Object.keys(b.entryPoints).length) > 0);
  if (watch) {
    for (const b of present) await (await esbuild.context(b)).watch();
    console.log('[watch] build started');
  } else {
    // Let every build finish (and report) before failing on any of them.
    const outcomes = await Promise.allSettled(present.map((b) => esbuild.build(b)));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} of ${outcomes.length} builds failed`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
