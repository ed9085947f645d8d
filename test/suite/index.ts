/**
 * Entry point VS Code loads in the extension host (`--extensionTestsPath`): runs every
 * `*.suite.js` next to this file (the esbuild output of test/suite/*.suite.ts) with mocha.
 * `SUITE_GREP` limits the run to tests whose title matches (e.g. while working on one).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import Mocha from 'mocha';

/**
 * Mocha's reporters print through `Base.consoleLog` with format strings (`'%d passing', n`), and the
 * extension host forwards console calls without applying them (it also locks `console.log`
 * against reassignment), so format here and log one finished string. Under code-server each
 * message starts with the marker the launcher asked for, which tells the suite's output apart from
 * the workbench's own log lines.
 */
function formatReporterOutput(): void {
  const marker = process.env.VSCODE_HOST_LOG_MARKER ?? '';
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(`${marker}${util.format(...args)}`);
}

/** The counts scripts/run-tests.js adds up (same line format as scripts/mocha-tally-reporter.js). */
function writeTally(stats: Mocha.Stats | undefined): void {
  const file = process.env.TEST_TALLY_FILE;
  if (!file || !stats) return;
  fs.appendFileSync(file, `${JSON.stringify({ passes: stats.passes, failures: stats.failures, pending: stats.pending })}\n`);
}

export function run(): Promise<void> {
  formatReporterOutput();
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    // The output travels through the workbench's log, which has no terminal to colour.
    color: false,
    timeout: 60_000,
    grep: process.env.SUITE_GREP || undefined,
  });
  const suites = fs.readdirSync(__dirname).filter((name) => name.endsWith('.suite.js')).sort();
  if (suites.length === 0) return Promise.reject(new Error(`no *.suite.js in ${__dirname}: build first (node esbuild.js)`));
  for (const name of suites) mocha.addFile(path.join(__dirname, name));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      writeTally(runner.stats);
      if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
  });
}
