/**
 * A real HTTP server on 127.0.0.1 that answers like the Hugging Face Hub for the endpoints model
 * downloads use, serving the fixture checkpoints from ../shared/fixtures/hf-tiny/, with faults that
 * tests switch on: dropped connections, corrupted bodies, error statuses, slow bodies.
 *
 *   GET  /api/models/{id}/revision/{rev}          model info with `sha`
 *   GET  /api/models/{id}/tree/{rev}              file listing (oid, size, lfs{oid,size}), paginated with Link
 *   POST /api/models/{id}/paths-info/{rev}        info on given paths
 *   GET  /{id}/resolve/{rev}/{path}               files kept in git: 200 with ETag + X-Repo-Commit;
 *                                                 LFS files: 302 to /cdn/{sha256} with X-Linked-Etag/-Size
 *   GET  /cdn/{sha256}                            LFS content, with Range support
 *   GET  /api/whoami-v2                           the token's account
 *
 * Access like the real Hub: unknown or private repos answer 401 without a token and 404 with one;
 * gated repos list files publicly but refuse downloads (401 without a token, 403 without access);
 * an unknown token is "Invalid credentials in Authorization header".
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';

export const FIXTURES_DIR = resolve(process.cwd(), '../shared/fixtures/hf-tiny');

export interface FakeFile {
  data: Buffer;
  lfs: boolean;
}

type Access = 'public' | 'gated' | 'private';

interface FakeRepo {
  id: string;
  access: Access;
  /** branch or tag → commit */
  refs: Map<string, string>;
  commits: Map<string, Map<string, FakeFile>>;
}

export type Fault =
  /** Answer with this status (and Hub error headers). */
  | { kind: 'status'; status: number; errorCode?: string; errorMessage?: string }
  /** Send the headers and this many body bytes, then destroy the socket. */
  | { kind: 'drop'; afterBytes: number }
  /** Flip one byte in the middle of the file's content. */
  | { kind: 'corrupt' }
  /** Send `chunkBytes` every `intervalMs`. */
  | { kind: 'slow'; chunkBytes: number; intervalMs: number }
  /** Answer 200 with the whole file even when a range was asked for. */
  | { kind: 'ignore-range' };

export interface FaultRule {
  /** Which requests: a file name (downloads only) and/or an endpoint kind. */
  file?: string;
  endpoint?: RequestKind;
  /** How many matching requests it applies to (default: all). */
  times?: number;
  fault: Fault;
}

export type RequestKind = 'info' | 'tree' | 'paths-info' | 'resolve' | 'cdn' | 'other';

export interface LoggedRequest {
  method: string;
  url: string;
  kind: RequestKind;
  /** Repo file name for resolve/cdn requests. */
  file?: string;
  range?: string;
  authorization?: string;
}

const LFS_PATTERN = /\.(safetensors|bin|pt|pth|ckpt|h5|onnx|msgpack)$/;

function gitBlobSha1(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a fixture folder as repo files (everything in it, as a real upload of that folder would have). */
export function fixtureFiles(folder: string): Map<string, FakeFile> {
  const dir = join(FIXTURES_DIR, folder);
  const files = new Map<string, FakeFile>();
  for (const name of readdirSync(dir).sort()) {
    if (!statSync(join(dir, name)).isFile()) continue;
    files.set(name, { data: readFileSync(join(dir, name)), lfs: LFS_PATTERN.test(name) });
  }
  return files;
}

export function textFile(text: string): FakeFile {
  return { data: Buffer.from(text), lfs: false };
}

export function lfsFile(data: Buffer): FakeFile {
  return { data, lfs: true };
}

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  /** Tokens the server knows; `access` lists the repos each may read when gated/private. */
  readonly tokens = new Map<string, Set<string>>();
  /** Tree listings are split into pages of this many entries (exercises Link pagination). */
  treePageSize = 1000;
  /** Where LFS downloads are redirected: this server by default, or another one (a CDN on another origin). */
  cdnUrl?: string;
  private readonly repos = new Map<string, FakeRepo>();
  private readonly blobs = new Map<string, { data: Buffer; file: string }>();
  private faults: FaultRule[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private commitCounter = 0;
  url = '';

  /** Adds a repo whose `main` (and other refs) point at commits holding `files`. */
  addRepo(id: string, refs: Record<string, Map<string, FakeFile>>, access: Access = 'public'): FakeRepo {
    const repo: FakeRepo = { id, access, refs: new Map(), commits: new Map() };
    for (const [ref, files] of Object.entries(refs)) {
      const commit = createHash('sha1').update(`${id}\0${ref}\0${this.commitCounter++}`).digest('hex');
      const withExtras = new Map(files);
      withExtras.set('.gitattributes', textFile('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'));
      withExtras.set('README.md', textFile(`# ${id}\n`));
      repo.commits.set(commit, withExtras);
      repo.refs.set(ref, commit);
      for (const [name, file] of withExtras) if (file.lfs) this.blobs.set(sha256(file.data), { data: file.data, file: name });
    }
    this.repos.set(id, repo);
    return repo;
  }

  commitOf(id: string, ref = 'main'): string {
    const commit = this.repos.get(id)?.refs.get(ref);
    if (!commit) throw new Error(`fake hub: no ref ${ref} in ${id}`);
    return commit;
  }

  fileOf(id: string, path: string, ref = 'main'): FakeFile {
    const file = this.repos.get(id)?.commits.get(this.commitOf(id, ref))?.get(path);
    if (!file) throw new Error(`fake hub: no ${path} in ${id}@${ref}`);
    return file;
  }

  addFault(rule: FaultRule): void {
    this.faults.push({ ...rule });
  }

  clearFaults(): void {
    this.faults = [];
  }

  requestsOf(kind: RequestKind, file?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.kind === kind && (file === undefined || r.file === file));
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Closes the server and every open connection: afterwards nothing listens on the port. */
  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  }

  private takeFault(kind: RequestKind, file: string | undefined): Fault | undefined {
    const index = this.faults.findIndex(
      (rule) => (rule.endpoint === undefined || rule.endpoint === kind) && (rule.file === undefined || rule.file === file),
    );
    if (index < 0) return undefined;
    const rule = this.faults[index];
    if (rule.times !== undefined && --rule.times <= 0) this.faults.splice(index, 1);
    return rule.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const log: LoggedRequest = { method: req.method ?? 'GET', url: req.url ?? '', kind: 'other', range: req.headers.range, authorization: auth };
    this.requests.push(log);

    if (token !== undefined && !this.tokens.has(token)) {
      return this.error(res, 401, undefined, 'Invalid credentials in Authorization header');
    }

    if (path === '/api/whoami-v2') {
      if (token === undefined) return this.error(res, 401, undefined, 'Invalid username or password.');
      return this.json(res, { type: 'user', name: `user-${token.slice(3, 8)}`, auth: { type: 'access_token' } });
    }

    if (path.startsWith('/cdn/')) {
      log.kind = 'cdn';
      const blob = this.blobs.get(path.slice('/cdn/'.length));
      if (!blob) return this.error(res, 404, undefined, 'No such object');
      log.file = blob.file;
      const fault = this.takeFault('cdn', blob.file);
      return this.serveContent(req, res, blob.data, { ETag: `"${sha256(blob.data)}"` }, fault);
    }

    const api = /^\/api\/models\/(.+?)\/(revision|tree|paths-info)\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (api) {
      const [, id, endpoint, encodedRevision] = api;
      log.kind = endpoint === 'revision' ? 'info' : (endpoint as RequestKind);
      const fault = this.takeFault(log.kind, undefined);
      if (fault?.kind === 'status') return this.error(res, fault.status, fault.errorCode, fault.errorMessage);
      const found = this.lookup(res, id, decodeURIComponent(encodedRevision), token, false);
      if (!found) return;
      const { repo, commit, files } = found;
      if (endpoint === 'revision') {
        return this.json(res, {
          _id: createHash('md5').update(id).digest('hex').slice(0, 24),
          id,
          sha: commit,
          private: repo.access === 'private',
          gated: repo.access === 'gated' ? 'manual' : false,
          disabled: false,
          downloads: 0,
          likes: 0,
          lastModified: '2025-01-01T00:00:00.000Z',
          pipeline_tag: 'feature-extraction',
          tags: ['transformers', 'safetensors'],
          library_name: 'transformers',
          siblings: [...files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      if (endpoint === 'tree') {
        const entries = [...files].map(([name, file]) => this.entry(name, file, commit, url.searchParams.get('expand') === 'true'));
        const cursor = Number(url.searchParams.get('cursor') ?? '0');
        const page = entries.slice(cursor, cursor + this.treePageSize);
        const headers: Record<string, string> = {};
        if (cursor + this.treePageSize < entries.length) {
          const next = new URL(url.toString());
          next.searchParams.set('cursor', String(cursor + this.treePageSize));
          headers.Link = `<${this.url}${next.pathname}${next.search}>; rel="next"`;
        }
        return this.json(res, page, headers);
      }
      // paths-info
      const body = JSON.parse((await readBody(req)) || '{}') as { paths?: string[]; expand?: boolean };
      const entries = (body.paths ?? []).filter((p) => files.has(p)).map((p) => this.entry(p, files.get(p)!, commit, Boolean(body.expand)));
      return this.json(res, entries);
    }

    const resolveMatch = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolveMatch) {
      const [, id, encodedRevision, encodedFile] = resolveMatch;
      const file = decodeURIComponent(encodedFile);
      log.kind = 'resolve';
      log.file = file;
      const fault = this.takeFault('resolve', file);
      if (fault?.kind === 'status') return this.error(res, fault.status, fault.errorCode, fault.errorMessage);
      const found = this.lookup(res, id, decodeURIComponent(encodedRevision), token, true);
      if (!found) return;
      const content = found.files.get(file);
      if (!content) return this.error(res, 404, 'EntryNotFound', 'Entry not found');
      const headers: Record<string, string> = { 'X-Repo-Commit': found.commit };
      if (content.lfs) {
        const oid = sha256(content.data);
        res.writeHead(302, {
          ...headers,
          Location: `${this.cdnUrl ?? this.url}/cdn/${oid}`,
          'X-Linked-Etag': `"${oid}"`,
          'X-Linked-Size': String(content.data.length),
          ETag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${content.data.length}\n`))}"`,
          'Content-Length': '0',
        });
        return void res.end();
      }
      return this.serveContent(req, res, content.data, { ...headers, ETag: `"${gitBlobSha1(content.data)}"` }, fault);
    }

    this.error(res, 404, undefined, 'Not found');
  }

  /** Finds repo and revision, applying the Hub's access rules; answers the error itself. */
  private lookup(
    res: ServerResponse,
    id: string,
    revision: string,
    token: string | undefined,
    download: boolean,
  ): { repo: FakeRepo; commit: string; files: Map<string, FakeFile> } | undefined {
    const repo = this.repos.get(id);
    const mayRead = token !== undefined && (this.tokens.get(token)?.has(id) ?? false);
    if (!repo || (repo.access === 'private' && !mayRead)) {
      // The Hub does not reveal whether a repo exists to anonymous callers.
      this.error(res, token === undefined ? 401 : 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    const commit = repo.refs.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
    if (!commit) {
      this.error(res, 404, 'RevisionNotFound', 'Invalid rev id');
      return undefined;
    }
    if (download && repo.access === 'gated' && !mayRead) {
      this.error(res, token === undefined ? 401 : 403, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      return undefined;
    }
    return { repo, commit, files: repo.commits.get(commit)! };
  }

  private entry(name: string, file: FakeFile, commit: string, expand: boolean): Record<string, unknown> {
    const entry: Record<string, unknown> = { type: 'file', path: name, size: file.data.length, oid: gitBlobSha1(file.data) };
    if (file.lfs) {
      const pointerSize = 130;
      entry.size = file.data.length;
      entry.lfs = { oid: sha256(file.data), size: file.data.length, pointerSize };
      entry.xetHash = createHash('sha256').update('xet').update(file.data).digest('hex');
    }
    if (expand) entry.lastCommit = { id: commit, title: 'Upload folder', date: '2025-01-01T00:00:00.000Z' };
    return entry;
  }

  private json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private error(res: ServerResponse, status: number, errorCode: string | undefined, errorMessage: string | undefined): void {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (errorCode) headers['X-Error-Code'] = errorCode;
    if (errorMessage) headers['X-Error-Message'] = errorMessage;
    const body = JSON.stringify({ error: errorMessage ?? `HTTP ${status}` });
    res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** Serves file content with Range support and the given fault. */
  private serveContent(req: IncomingMessage, res: ServerResponse, original: Buffer, headers: Record<string, string>, fault: Fault | undefined): void {
    if (fault?.kind === 'status') return this.error(res, fault.status, fault.errorCode, fault.errorMessage);
    let data = original;
    if (fault?.kind === 'corrupt') {
      data = Buffer.from(original);
      data[data.length >> 1] ^= 0xff;
    }
    const size = data.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && fault?.kind !== 'ignore-range') {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': '0' });
        return void res.end();
      }
      status = 206;
      headers = { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` };
    }
    const body = data.subarray(start, end + 1);
    res.writeHead(status, { ...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();

    if (fault?.kind === 'drop') {
      // Flush the first bytes, then cut the connection as a flaky network would.
      res.write(body.subarray(0, Math.min(fault.afterBytes, body.length)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (fault?.kind === 'slow') {
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        const next = body.subarray(sent, sent + fault.chunkBytes);
        sent += next.length;
        if (sent >= body.length) {
          clearInterval(timer);
          res.end(next);
        } else {
          res.write(next);
        }
      }, fault.intervalMs);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(body);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}
