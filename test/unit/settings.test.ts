/**
 * A cloned repository's .vscode/settings.json must not decide where the user's Hugging Face token
 * goes: the settings reader the extension uses (src/commands/settings.ts), fed what VS Code's
 * `inspect` reports, then the model source it drives, against two local Hubs (the user's and the
 * workspace's) — plus the manifest's declarations that make VS Code enforce the same.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { checkHubEndpoint, readModelSettings, type Inspect, type SettingInspection } from '../../src/commands/settings';
import { resolveModel } from '../../src/hub';
import { FakeHub, fixtureFiles } from '../hub/fakeHub';
import { hubOptions, makeTempDir, removeDir } from '../hub/helpers';

type Scopes = Record<string, SettingInspection<unknown>>;

function inspector(scopes: Scopes): Inspect {
  return <T>(key: string) => scopes[key] as SettingInspection<T> | undefined;
}

const ROOT = path.resolve(__dirname, '../../..');

describe('settings that choose where models and the token go', () => {
  it('takes the Hub endpoint from the user settings only, trusted workspace or not', () => {
    const scopes: Scopes = { hubEndpoint: { defaultValue: '', globalValue: 'https://mirror.example.org/', workspaceValue: 'http://127.0.0.1:9/steal', workspaceFolderValue: 'http://evil.example' } };
    for (const trusted of [true, false]) assert.equal(readModelSettings(inspector(scopes), trusted).hubEndpoint, 'https://mirror.example.org/');
    const onlyWorkspace: Scopes = { hubEndpoint: { defaultValue: '', workspaceValue: 'http://127.0.0.1:9/steal' } };
    for (const trusted of [true, false]) assert.equal(readModelSettings(inspector(onlyWorkspace), trusted).hubEndpoint, undefined);
  });

  it('uses a workspace model only in a trusted workspace', () => {
    const scopes: Scopes = { model: { defaultValue: '', globalValue: 'openai-community/gpt2', workspaceValue: './models/planted' } };
    assert.equal(readModelSettings(inspector(scopes), true).model, './models/planted');
    assert.equal(readModelSettings(inspector(scopes), false).model, 'openai-community/gpt2');
    assert.equal(readModelSettings(inspector({ model: { workspaceFolderValue: ' x/y ' } }), false).model, '');
  });

  it('lets a workspace switch offline mode on but never off', () => {
    assert.equal(readModelSettings(inspector({ offline: { defaultValue: false, globalValue: true, workspaceValue: false } }), true).offline, true);
    assert.equal(readModelSettings(inspector({ offline: { defaultValue: false, workspaceValue: true } }), false).offline, true);
    assert.equal(readModelSettings(inspector({ offline: { defaultValue: false } }), true).offline, false);
  });

  it('accepts only http(s) endpoints without credentials, query or fragment', () => {
    assert.equal(checkHubEndpoint('https://huggingface.co/'), 'https://huggingface.co');
    assert.equal(checkHubEndpoint('http://10.0.0.5:8080/hub'), 'http://10.0.0.5:8080/hub');
    for (const bad of ['huggingface.co', 'file:///etc', 'javascript:alert(1)', 'https://user:pw@hub.example', 'https://hub.example/?x=1', 'https://hub.example/#a']) {
      assert.throws(() => checkHubEndpoint(bad), /attentionInspector\.hubEndpoint/, bad);
    }
  });

  describe('the token goes to the user\'s Hub, not to one a workspace names', () => {
    const userHub = new FakeHub();
    const workspaceHub = new FakeHub();
    const token = 'hf_user_secret_token';
    let cache: string;
    before(async () => {
      for (const hub of [userHub, workspaceHub]) {
        hub.addRepo('someone/tiny-gpt2', { main: fixtureFiles('gpt2') });
        hub.tokens.set(token, new Set(['someone/tiny-gpt2']));
        await hub.start();
      }
      cache = makeTempDir('trust');
    });
    after(async () => {
      await userHub.stop();
      await workspaceHub.stop();
      removeDir(cache);
    });

    it('resolves the workspace\'s model id through the user\'s endpoint with the token', async () => {
      const scopes: Scopes = {
        model: { defaultValue: '', workspaceValue: 'someone/tiny-gpt2' },
        hubEndpoint: { defaultValue: '', globalValue: userHub.url, workspaceValue: workspaceHub.url },
      };
      const settings = readModelSettings(inspector(scopes), true);
      const resolved = await resolveModel(settings.model, hubOptions(checkHubEndpoint(settings.hubEndpoint!), cache, { token }));
      assert.equal(resolved.kind, 'hub');
      assert.equal(workspaceHub.requests.length, 0, 'the workspace\'s endpoint was never contacted');
      assert.ok(userHub.requests.some((r) => r.authorization === `Bearer ${token}`), 'the token went to the user\'s Hub');
    });
  });

  it('the manifest: hubEndpoint machine-scoped with a URL pattern; model and endpoint restricted in untrusted workspaces; virtual workspaces declared', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const endpoint = manifest.contributes.configuration.properties['attentionInspector.hubEndpoint'];
    assert.equal(endpoint.scope, 'machine');
    const pattern = new RegExp(endpoint.pattern);
    for (const good of ['', 'https://huggingface.co', 'http://10.0.0.5:8080/hub']) assert.ok(pattern.test(good), good);
    for (const bad of ['huggingface.co', 'file:///etc/passwd', 'https://u:p@h.example', 'https://h.example/?q', ' https://h.example']) assert.ok(!pattern.test(bad), bad);
    const trust = manifest.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, 'limited');
    assert.deepEqual([...trust.restrictedConfigurations].sort(), ['attentionInspector.hubEndpoint', 'attentionInspector.model']);
    assert.ok(manifest.capabilities.virtualWorkspaces, 'virtualWorkspaces declared');
  });
});
