#!/usr/bin/env node
// Runs the test kinds one after another (all of them, even after a failure), then prints a table of
// counts and, as the last line, "N passed, N failed" over all kinds. Exits 1 if anything failed.
// Expects a build (npm run build); the e2e kind packages the VSIX itself.
//
// Usage: node scripts/run-tests.js [kind ...]      kinds: unit fixture browser vscode e2e (default: all)
// Env:   TEST_SUMMARY_FILE=<file>  also write the totals there as JSON (used by .ci/run)
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const tallyReporter = path.join(__dirname, 'mocha-tally-reporter.js');
const mochaBin = require.resolve('mocha/bin/mocha.js', { paths: [root] });
const e2eVsix = path.join(root, 'test-results', 'e2e', 'attention-inspector-e2e.vsix');
/** Mocha configs and tally files of this run; removed when it ends. */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-tests-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

/** Mocha over `spec`, with the project's .mocharc.json settings (timeout, ...) but not its spec list. */
function mochaSteps(spec) {
  const settings = JSON.parse(fs.readFileSync(path.join(root, '.mocharc.json'), 'utf8'));
  delete settings.spec;
  const config = path.join(fs.mkdtempSync(path.join(scratch, 'mocharc-')), 'mocharc.json');
  fs.writeFileSync(config, JSON.stringify({ ...settings, spec, reporter: tallyReporter }));
  return [{ command: process.execPath, args: [mochaBin, '--config', config], counts: true }];
}

/**
 * Each kind: its mocha spec globs (`specs`, run with mocha unless `steps` says otherwise) or the
 * steps it runs; a step with `counts` reports test counts to the tally file.
 */
const KINDS = {
  unit: { title: 'unit (Node)', specs: ['out/test/unit/**/*.test.js', 'out/test/hub/**/*.test.js'] },
  fixture: { title: 'engine vs. reference fixtures', specs: ['out/test/engine/**/*.test.js'] },
  browser: { title: 'webview in Chromium', specs: ['out/test/browser/**/*.test.js'] },
  vscode: {
    title: 'extension host (VS Code)',
    steps: () => [{
      command: process.execPath,
      args: [path.join(root, 'out', 'test', 'runVsCodeTests.js')],
      counts: true,
      needs: { file: path.join(root, 'out', 'test', 'runVsCodeTests.js'), hint: 'esbuild.js must bundle test/runVsCodeTests.ts into out/test/ (build first: node esbuild.js)' },
    }],
  },
  e2e: {
    title: 'end-to-end UI (packaged VSIX)',
    specs: ['out/test/e2e/**/*.test.js'],
    steps: (kind) => [
      { command: process.execPath, args: [path.join(root, 'scripts', 'package.js'), '--out', e2eVsix] },
      ...mochaSteps(kind.specs).map((step) => ({ ...step, env: { ATTENTION_VSIX: e2eVsix } })),
    ],
  },
};

function runStep(step, tallyFile) {
  if (step.needs && !fs.existsSync(step.needs.file)) {
    console.error(`run-tests: ${path.relative(root, step.needs.file)} is missing: ${step.needs.hint}`);
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const child = spawn(step.command, step.args, {
      cwd: root,
      stdio: 'inherit',
      // Test processes that load onnxruntime send no telemetry either (the privacy tests unset it for their own children).
      env: { ORT_DISABLE_TELEMETRY: '1', ...process.env, ...step.env, TEST_TALLY_FILE: tallyFile },
    });
    child.on('error', (err) => {
      console.error(`run-tests: cannot start ${step.command}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function readTallies(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

async function runKind(name) {
  const kind = KINDS[name];
  const tallyFile = path.join(scratch, `${name}.tally.jsonl`);
  const result = { name, title: kind.title, passed: 0, failed: 0, pending: 0, problems: [] };
  const started = Date.now();
  console.log(`\n=== ${kind.title} (${name}) ===`);
  const steps = kind.steps ? kind.steps(kind) : mochaSteps(kind.specs);
  for (const step of steps) {
    const before = readTallies(tallyFile).length;
    const code = await runStep(step, tallyFile);
    const tallies = readTallies(tallyFile).slice(before);
    for (const t of tallies) {
      result.passed += t.passes;
      result.failed += t.failures;
      result.pending += t.pending;
    }
    const label = path.basename(step.args[0]);
    if (step.counts && tallies.length === 0) {
      // It died before reporting (a crash, a file that does not load, no test files): one failure.
      result.failed += 1;
      result.problems.push(`${label} exited with code ${code} without reporting test results`);
    } else if (code !== 0 && tallies.every((t) => t.failures === 0)) {
      result.failed += 1;
      result.problems.push(`${label} exited with code ${code}`);
    }
    if (code !== 0 && !step.counts) break; // a failed preparation step (packaging): its tests cannot run
  }
  if (result.passed + result.failed === 0) {
    result.failed += 1;
    result.problems.push('ran no tests');
  }
  result.seconds = Math.round((Date.now() - started) / 1000);
  return result;
}

// Test files under out/test/ that no kind runs (each would be skipped silently).
function uncoveredTestFiles() {
  const folders = Object.values(KINDS)
    .flatMap((kind) => kind.specs ?? [])
    .map((spec) => spec.replace(/\/\*\*\/\*\.test\.js$/, '/'));
  const found = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.test.js')) found.push(path.relative(root, file).split(path.sep).join('/'));
    }
  };
  walk(path.join(root, 'out', 'test'));
  return found.filter((file) => !folders.some((folder) => file.startsWith(folder)));
}

async function main() {
  const requested = process.argv.slice(2);
  for (const name of requested) {
    if (!KINDS[name]) {
      console.error(`run-tests: unknown kind '${name}' (kinds: ${Object.keys(KINDS).join(', ')})`);
      process.exit(2);
    }
  }
  const results = [];
  for (const name of requested.length ? requested : Object.keys(KINDS)) results.push(await runKind(name));
  if (!requested.length) {
    const stray = uncoveredTestFiles();
    if (stray.length) {
      results.push({ name: 'stray', title: 'test files no kind runs', passed: 0, failed: stray.length, pending: 0, seconds: 0,
        problems: stray.map((file) => `${file}: add its folder to KINDS in scripts/run-tests.js`) });
    }
  }

  const total = { passed: 0, failed: 0, pending: 0 };
  console.log('\n=== summary ===');
  for (const r of results) {
    total.passed += r.passed;
    total.failed += r.failed;
    total.pending += r.pending;
    const pending = r.pending ? `, ${r.pending} pending` : '';
    console.log(`${r.title.padEnd(32)} ${String(r.passed).padStart(5)} passed, ${String(r.failed).padStart(3)} failed${pending}  (${r.seconds} s)`);
    for (const problem of r.problems) console.log(`${''.padEnd(32)} ! ${problem}`);
  }
  if (process.env.TEST_SUMMARY_FILE) fs.writeFileSync(process.env.TEST_SUMMARY_FILE, JSON.stringify({ ...total, kinds: results }, null, 2));
  if (total.pending) console.log(`${total.pending} pending (skipped) tests`);
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exit(total.failed > 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(`run-tests: ${err.stack || err.message}`);
  process.exit(1);
});
