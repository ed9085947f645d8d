/**
 * A model folder must never take down the extension host: native aborts end only the engine
 * process, which the client reports as an error and replaces on the next request; what can be
 * checked up front is refused before anything native runs.
 */
import * as assert from 'assert';
import * as path from 'path';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { FIXTURES_ROOT } from '../helpers/fixtures';
import { editJson, TempFolders } from '../helpers/modelFolders';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const BERT = path.join(FIXTURES_ROOT, 'bert');

async function rejection(promise: Promise<unknown>): Promise<EngineRequestError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof EngineRequestError, `expected an EngineRequestError, got ${err}`);
    return err;
  }
  return assert.fail('expected the request to fail');
}

/** The next request works: a fresh (or the same) engine loads and analyzes a good model. */
async function stillWorks(client: EngineClient): Promise<void> {
  await client.load(BERT, { name: 'bert', source: BERT });
  const result = await client.analyze('I am making a cake');
  assert.strictEqual(result.tokens.length, 9);
}

describe('engine containment', function () {
  this.timeout(60000);
  const temp = new TempFolders();
  let client: EngineClient;
  let logged: string[];
  beforeEach(() => {
    logged = [];
    client = new EngineClient(WORKER, (line) => logged.push(line));
  });
  afterEach(() => client.dispose());
  after(() => temp.removeAll());

  it('a tokenizer that makes the tokenizers library panic ends only the engine process', async () => {
    const dir = temp.copy('bert');
    // tokenizers accepts this file, then panics (a non-unwinding Rust panic: abort) on encode
    // when the backtracking regex gives up ("retry-limit-in-match over").
    editJson(dir, 'tokenizer.json', (t) => {
      t.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
    });
    await client.load(dir, { name: 'panics', source: dir });
    const firstPid = client.pid;
    const err = await rejection(client.analyze(`hello ${'a'.repeat(40)}b`));
    assert.strictEqual(err.info.code, 'engine-crashed', err.message);
    assert.match(err.message, /aborted \(SIGABRT\) while analyzing the text: the tokenizer library failed/);
    assert.match(err.message, /next request starts a fresh engine/);
    assert.ok(logged.some((l) => /panicked/.test(l)), 'the panic goes to the log');
    await stillWorks(client);
    assert.notStrictEqual(client.pid, firstPid, 'a fresh engine process');
    assert.strictEqual(client.currentFolder, BERT);
  });

  it('zero tokens never reach onnxruntime (it faults with SIGFPE): a clear error, same engine', async () => {
    const dir = temp.copy('bert');
    // No post-processor: a text of control characters only (BERT's normalizer drops them) is no tokens.
    editJson(dir, 'tokenizer.json', (t) => {
      t.post_processor = null;
    });
    await client.load(dir, { name: 'no-special-tokens', source: dir });
    const pid = client.pid;
    const err = await rejection(client.analyze('\x01\x02'));
    assert.strictEqual(err.info.code, 'empty-text', err.message);
    assert.match(err.message, /no tokens at all/);
    assert.strictEqual(client.pid, pid);
    await stillWorks(client);
  });

  it('an empty post-processor template (zero tokens for any text) is the same clear error', async () => {
    const dir = temp.copy('bert');
    editJson(dir, 'tokenizer.json', (t) => {
      t.post_processor.single = [];
    });
    await client.load(dir, { name: 'empty-template', source: dir });
    const err = await rejection(client.analyze('hello world'));
    assert.strictEqual(err.info.code, 'empty-text', err.message);
    await stillWorks(client);
  });

  it('num_hidden_layers of about 1e9 is refused before anything is allocated', async () => {
    const dir = temp.copy('llama');
    editJson(dir, 'config.json', (c) => {
      c.num_hidden_layers = 999_999_999;
    });
    const err = await rejection(client.load(dir, { name: 'huge', source: dir }));
    assert.strictEqual(err.info.code, 'bad-checkpoint');
    assert.match(err.message, /num_hidden_layers is 999999999, but it must be a whole number at least 1 and at most 1024/);
    await stillWorks(client);
  });

  it('a request after the engine process was killed from outside starts a fresh engine', async () => {
    await client.load(BERT, { name: 'bert', source: BERT });
    const pid = client.pid!;
    const running = client.analyze('I am making a cake');
    process.kill(pid, 'SIGKILL');
    const outcome = await running.then(() => 'finished', (err: EngineRequestError) => err.info.code);
    assert.ok(['finished', 'engine-crashed'].includes(outcome), outcome);
    await stillWorks(client);
    assert.notStrictEqual(client.pid, pid);
  });

  it('dispose ends the engine process', async () => {
    await client.load(BERT, { name: 'bert', source: BERT });
    const pid = client.pid!;
    await client.dispose();
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });
});
