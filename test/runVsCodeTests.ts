/**
 * Runs the extension-host suites (test/suite/) in a real VS Code through `@vscode/test-electron`.
 *
 * Which VS Code:
 * - `VSCODE_EXECUTABLE=/path/to/code`: that desktop VS Code;
 * - `VSCODE_TEST_DOWNLOAD=1`: the build runTests downloads (needs access to update.code.visualstudio.com);
 * - otherwise code-server (vscode-host/, installed by its setup.sh) through the launcher
 *   test/vscode-host/code-server-tests, which takes the same command line as desktop VS Code.
 * The window opens a throwaway copy of test/workspace/ with a throwaway profile.
 * `SUITE_GREP=<pattern>` runs only the matching tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests, TestRunFailedError } from '@vscode/test-electron';

async function main(): Promise<number> {
  // This file runs from out/test/; the repository root is two levels up.
  const root = path.resolve(__dirname, '..', '..');
  const extensionTestsPath = path.join(root, 'out', 'test', 'suite', 'index.js');
  if (!fs.existsSync(extensionTestsPath)) throw new Error(`${extensionTestsPath} is missing: build first (npm run build)`);

  // The extension host gets a user's environment: onnxruntime's telemetry switches itself off under
  // CI, and the test runner turns it off for its own processes; the privacy suite checks that
  // activate() does it (trust.suite.ts).
  delete process.env.CI;
  delete process.env.ORT_DISABLE_TELEMETRY;

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-suite-'));
  const workspace = path.join(scratch, 'workspace');
  fs.cpSync(path.join(root, 'test', 'workspace'), workspace, { recursive: true });

  const vscodeExecutablePath = process.env.VSCODE_TEST_DOWNLOAD
    ? undefined
    : process.env.VSCODE_EXECUTABLE ?? path.join(root, 'test', 'vscode-host', 'code-server-tests');
  try {
    return await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: root,
      extensionTestsPath,
      launchArgs: [
        workspace,
        `--user-data-dir=${path.join(scratch, 'user-data')}`,
        `--extensions-dir=${path.join(scratch, 'extensions')}`,
        // Only the extension under test (and VS Code's built-in ones).
        '--disable-extensions',
      ],
      extensionTestsEnv: {
        ATTENTION_TEST_FIXTURES: path.resolve(root, '..', 'shared', 'fixtures', 'hf-tiny'),
        ATTENTION_TEST_WORKSPACE: workspace,
        ...(process.env.SUITE_GREP ? { SUITE_GREP: process.env.SUITE_GREP } : {}),
      },
    });
  } catch (err) {
    // runTests rejects when VS Code exits non-zero; the suite has already printed why.
    if (err instanceof TestRunFailedError) return err.code ?? 1;
    throw err;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`runVsCodeTests: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
