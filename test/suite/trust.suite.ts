/**
 * Privacy in the real extension host: onnxruntime's telemetry is off in the host's own environment
 * after activation, and a repository's .vscode/settings.json cannot send the user's Hugging Face
 * token to an endpoint it names (two local Hubs: the user's, set in the user settings, and the
 * workspace's).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { FakeHub, lfsFile, textFile, type FakeFile } from '../hub/fakeHub';
import { awaitResult, COMMAND, fixtureFolder, getApi, openUntitled, resetWindow, waitFor } from './helpers';

const REPO = 'someone/tiny-gpt2';
const TOKEN = 'hf_user_token_for_trust_suite';

function repoFiles(folder: string): Map<string, FakeFile> {
  const files = new Map<string, FakeFile>();
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
    const data = fs.readFileSync(path.join(folder, name));
    files.set(name, name.endsWith('.safetensors') ? lfsFile(data) : textFile(data.toString('utf8')));
  }
  return files;
}

describe('privacy in the extension host', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;

  before(async () => {
    api = await getApi();
    await resetWindow(api);
  });

  it('activation turns onnxruntime telemetry off in the host process (before the engine starts)', () => {
    assert.strictEqual(process.env.ORT_DISABLE_TELEMETRY, '1');
  });

  describe('a workspace setting cannot change where the token goes', () => {
    const userHub = new FakeHub();
    const workspaceHub = new FakeHub();
    const saved: Record<string, string | undefined> = {};
    let cache: string;
    let settingsFile: string;
    const config = () => vscode.workspace.getConfiguration('attentionInspector');

    before(async () => {
      for (const hub of [userHub, workspaceHub]) {
        hub.addRepo(REPO, { main: repoFiles(fixtureFolder('gpt2')) });
        hub.tokens.set(TOKEN, new Set([REPO]));
        await hub.start();
      }
      cache = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-trust-'));
      for (const key of ['HF_TOKEN', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE']) saved[key] = process.env[key];
      process.env.HF_TOKEN = TOKEN;
      process.env.HF_HUB_CACHE = cache;
      delete process.env.HF_ENDPOINT;
      delete process.env.HF_HUB_OFFLINE;
      await config().update('model', undefined, vscode.ConfigurationTarget.Global);
      await config().update('hubEndpoint', userHub.url, vscode.ConfigurationTarget.Global);
      // What a cloned repository would carry.
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      assert.ok(folder, 'the test window has a workspace folder');
      settingsFile = path.join(folder, '.vscode', 'settings.json');
      fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
      fs.writeFileSync(settingsFile, JSON.stringify({ 'attentionInspector.model': REPO, 'attentionInspector.hubEndpoint': workspaceHub.url }));
      await waitFor(() => config().inspect<string>('model')?.workspaceValue === REPO, 'the workspace settings to load', 20_000);
    });

    after(async () => {
      fs.rmSync(settingsFile, { force: true });
      await waitFor(() => config().inspect<string>('model')?.workspaceValue === undefined, 'the workspace settings to go', 20_000).catch(() => undefined);
      await config().update('hubEndpoint', undefined, vscode.ConfigurationTarget.Global);
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await userHub.stop();
      await workspaceHub.stop();
      fs.rmSync(cache, { recursive: true, force: true });
      await resetWindow(api);
    });

    it('the workspace\'s model id downloads from the user\'s Hub; the workspace\'s endpoint gets nothing', async () => {
      const text = 'The cat sat on the mat.';
      const editor = await openUntitled(text);
      editor.selection = new vscode.Selection(0, 0, 0, text.length);
      const before = api.notifications().length;
      const result = await awaitResult(api, text, [vscode.commands.executeCommand(COMMAND)], before);
      assert.strictEqual(result.model.modelType, 'gpt2');
      assert.deepStrictEqual(workspaceHub.requests.map((r) => r.url), [], 'the workspace\'s endpoint was contacted');
      assert.ok(userHub.requests.some((r) => r.authorization === `Bearer ${TOKEN}`), 'the token went to the user\'s Hub');
      // The engine ran in this process (runVsCodeTests removes CI from its environment).
      assert.ok(!fs.existsSync(`/tmp/mat-debug-${process.pid}.log`), 'onnxruntime wrote its telemetry log');
    });
  });
});
