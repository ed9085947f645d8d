/**
 * Turning a model spec into a local folder the engine loads: the built-in model, a local folder
 * (checked), or a Hub model found in / downloaded into the Hugging Face cache.
 */
import { listFiles, modelInfo } from '@huggingface/hub';
import { readFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import {
  COMMIT_HASH,
  BLOB_NAME,
  blobPath,
  hasBlob,
  isMarkedMissing,
  linkIntoSnapshot,
  locksDir,
  markMissing,
  readRef,
  repoDir,
  snapshotDir,
  writeRef,
} from './cacheLayout';
import { DEFAULT_TUNING, type DownloadTuning, type RemoteFile, ensureBlob } from './download';
import { type Env, defaultCacheDir, defaultHubUrl, expandHome, normalizeHubUrl, offlineFromEnv } from './environment';
import { ModelSourceError, cancelledError, throwIfAborted } from './errors';
import { type HubRequestContext, createHubFetch } from './http';
import {
  CONFIG_FILE,
  OPTIONAL_FILES,
  SINGLE_WEIGHTS_FILE,
  TOKENIZER_FILE,
  WEIGHTS_INDEX_FILE,
  chooseWeights,
  folderDisplayName,
  inspectModelFolder,
  shardsFromIndex,
} from './modelFiles';
import type { ModelOrigin } from '../protocol/types';
import { type ModelSpec, formatHubSpec, parseModelSpec } from './spec';

export interface DownloadProgress {
  /** The file bytes arrived for most recently. */
  file: string;
  /** Bytes of this download so far and in all (files already in the cache are not counted). */
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface ResolveOptions {
  /** Folder of the built-in model (media/builtin-model). */
  builtinFolder: string;
  /** Forbid the network (also forbidden by HF_HUB_OFFLINE=1). Cached models still load. */
  offline?: boolean;
  /** Access token for gated and private models (see findToken). Sent to the hub's origin only. */
  token?: string;
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Default: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Base for relative folder paths (`./model`); default: the process's working directory. */
  baseDir?: string;
  signal?: AbortSignal;
  /** Called as bytes arrive (at most every 100 ms, and when each file completes). */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * Called once before any weights are downloaded, with the bytes still to fetch; resolving false
   * stops with a `declined` error. Not called when everything is cached. The caller applies its
   * own threshold (e.g. ask only above 500 MB).
   */
  confirmDownload?: (totalBytes: number, model: string) => Promise<boolean>;
  /** Environment to read HF_* variables from (default process.env). */
  env?: Env;
  /** Retry, stall, lock and parallelism knobs; the defaults suit real downloads (tests shorten them). */
  tuning?: Partial<DownloadTuning> & { concurrency?: number };
}

export interface ResolvedModel {
  /** Local folder in the Hugging Face layout (for hub models: the snapshot folder in the cache). */
  folder: string;
  /** Name to show: `built-in`, the folder's name, or the hub id (with `@revision` if one was asked for). */
  name: string;
  /** Where it came from: `built-in`, the folder path, or `<id>@<commit>`. */
  source: string;
  kind: ModelSpec['kind'];
  /** Repo id of a hub model (`gpt2`, `owner/name`). */
  repo?: string;
  /** Commit of a hub model. */
  commit?: string;
  /** Bytes downloaded by this call (0 when everything came from the cache). */
  downloadedBytes: number;
}

export const BUILTIN_NAME = 'Built-in tiny model';

/** What a resolved model is, structured (a Hub repo at its commit, or a folder), for reproducing it elsewhere. */
export function modelOrigin(resolved: ResolvedModel): ModelOrigin {
  return resolved.kind === 'hub' && resolved.repo && resolved.commit
    ? { kind: 'hub', id: resolved.repo, revision: resolved.commit }
    : { kind: 'folder', path: resolved.folder };
}

/**
 * Resolves a model spec (see parseModelSpec) to a folder the engine can load. For a hub id the
 * cache is tried first without any network request (a branch resolves through refs/<branch>, so a
 * cached model is not checked for newer commits); only what is missing is downloaded.
 * Errors are `ModelSourceError`s with a code and a message that says what to do.
 */
export async function resolveModel(spec: string | ModelSpec, options: ResolveOptions): Promise<ResolvedModel> {
  const parsed = typeof spec === 'string' ? parseModelSpec(spec) : spec;
  throwIfAborted(options.signal);
  switch (parsed.kind) {
    case 'builtin':
      return { folder: options.builtinFolder, name: BUILTIN_NAME, source: 'built-in', kind: 'builtin', downloadedBytes: 0 };
    case 'local': {
      const folder = resolvePath(options.baseDir ?? process.cwd(), expandHome(parsed.path));
      const { problem } = await inspectModelFolder(folder);
      if (problem) throw problem;
      return { folder, name: folderDisplayName(folder), source: folder, kind: 'local', downloadedBytes: 0 };
    }
    case 'hub':
      return resolveHubModel(parsed.id, parsed.revision, options);
  }
}

function offlineError(name: string, cacheDir: string, reason: string): ModelSourceError {
  return new ModelSourceError(
    'offline-not-cached',
    `${name} is not ${reason} in the Hugging Face cache (${cacheDir}), and the network is off ` +
      `(setting "attentionInspector.offline" or HF_HUB_OFFLINE). Turn offline mode off once to download ` +
      `it, or choose a model that is already in the cache.`,
  );
}

async function resolveHubModel(id: string, askedRevision: string | undefined, options: ResolveOptions): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? defaultCacheDir(env);
  const hubUrl = normalizeHubUrl(options.hubUrl ?? defaultHubUrl(env));
  const offline = options.offline === true || offlineFromEnv(env);
  const revision = askedRevision ?? 'main';
  const name = formatHubSpec(id, askedRevision);
  const repo = repoDir(cacheDir, id);
  const result = (commit: string, downloadedBytes: number): ResolvedModel => ({
    folder: snapshotDir(repo, commit),
    name,
    source: `${id}@${commit}`,
    kind: 'hub',
    repo: id,
    commit,
    downloadedBytes,
  });

  // 1. The cache, with no network request at all.
  const cachedCommit = COMMIT_HASH.test(revision) ? revision : await readRef(repo, revision);
  if (cachedCommit) {
    const { problem } = await inspectModelFolder(snapshotDir(repo, cachedCommit));
    if (!problem) return result(cachedCommit, 0);
    if (offline) {
      // What the cache proves about the snapshot is worth more than "not cached": pickle weights
      // only, or a tokenizer.json recorded as absent from the repo.
      if (problem.code === 'pickle-only') throw problem;
      if (problem.code === 'no-tokenizer' && (await isMarkedMissing(repo, cachedCommit, TOKENIZER_FILE))) throw problem;
      throw offlineError(name, cacheDir, 'completely');
    }
  } else if (offline) {
    throw offlineError(name, cacheDir, 'yet');
  }

  // 2. The Hub.
  const download = new HubDownload(id, revision, name, repo, cacheDir, hubUrl, options);
  try {
    return result(...(await download.run()));
  } catch (error) {
    throw asCacheError(error, cacheDir);
  }
}

const CACHE_WRITE_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EEXIST', 'EISDIR']);

/** File-system failures while writing the cache become `cache-io` errors that say where and what to do. */
function asCacheError(error: unknown, cacheDir: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof ModelSourceError || !code || !CACHE_WRITE_ERRORS.has(code)) return error;
  const advice = code === 'ENOSPC' || code === 'EDQUOT'
    ? 'Free some disk space'
    : 'Check the folder\'s permissions, or set HF_HUB_CACHE (or HF_HOME) to a writable folder';
  return new ModelSourceError('cache-io', `Cannot write to the Hugging Face cache (${cacheDir}): ${code}. ${advice}, then try again.`, { cause: error });
}

/** One download of a model's files at one revision. */
class HubDownload {
  private readonly tuning: DownloadTuning;
  private readonly concurrency: number;
  private readonly hubFetch: typeof fetch;
  private readonly downloadFetch: typeof fetch;
  private action = 'contacting the Hub';
  private commit?: string;

  // Progress of the files this call downloads.
  private readonly fileBytes = new Map<string, number>();
  private bytesTotal = 0;
  private filesTotal = 0;
  private filesDone = 0;
  private lastFile = '';
  private lastReport = 0;
  /** Files this call found missing from the cache (what progress counts). */
  private readonly needed = new Set<string>();

  constructor(
    private readonly id: string,
    private readonly revision: string,
    private readonly name: string,
    private readonly repo: string,
    private readonly cacheDir: string,
    private readonly hubUrl: string,
    private readonly options: ResolveOptions,
  ) {
    const { concurrency, ...tuning } = options.tuning ?? {};
    this.tuning = { ...DEFAULT_TUNING, ...tuning };
    this.concurrency = Math.max(1, concurrency ?? 3);
    const common = { hubUrl, token: options.token, signal: options.signal, context: () => this.context(this.action) };
    this.hubFetch = createHubFetch(common);
    this.downloadFetch = createHubFetch({ ...common, passStatuses: [206, 416, 500, 502, 503, 504] });
  }

  private context(action: string): HubRequestContext {
    return { hubUrl: this.hubUrl, id: this.id, revision: this.revision, action, hasToken: Boolean(this.options.token) };
  }

  /** Returns [commit, bytes downloaded]. */
  async run(): Promise<[string, number]> {
    this.action = `looking up ${this.name}`;
    const info = await modelInfo({ name: this.id, revision: this.revision, hubUrl: this.hubUrl, fetch: this.hubFetch, additionalFields: ['sha'] });
    const commit = info.sha;
    if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) {
      throw new ModelSourceError('server', `The Hub answered for ${this.name} without a valid commit id. Try again later.`);
    }
    this.commit = commit;
    const snapshot = snapshotDir(this.repo, commit);
    const finish = async (bytes: number): Promise<[string, number]> => {
      if (this.revision !== commit) await writeRef(this.repo, this.revision, commit);
      return [commit, bytes];
    };
    // The branch moved to a commit we already have (downloaded by commit id, or by Python).
    if (!(await inspectModelFolder(snapshot)).problem) return finish(0);

    this.action = `listing the files of ${this.name}`;
    const entries = new Map<string, RemoteFile>();
    for await (const entry of listFiles({ repo: { type: 'model', name: this.id }, revision: commit, hubUrl: this.hubUrl, fetch: this.hubFetch })) {
      if (entry.type !== 'file' || entry.path.includes('/')) continue;
      entries.set(entry.path, this.remoteFile(entry));
    }
    throwIfAborted(this.options.signal);

    const names = [...entries.keys()];
    const where = `Model ${this.name}`;
    const layout = chooseWeights(names, where, this.id, true);
    if (!entries.has(CONFIG_FILE)) {
      throw new ModelSourceError('no-config', `${where} has no ${CONFIG_FILE}: it is not a transformers model the inspector can load.`);
    }
    if (!entries.has(TOKENIZER_FILE)) {
      await markMissing(this.repo, commit, TOKENIZER_FILE);
      throw new ModelSourceError(
        'no-tokenizer',
        `${where} has no ${TOKENIZER_FILE} (only a slow tokenizer). The inspector needs the fast-tokenizer file: ` +
          `save the model and tokenizer locally with transformers (AutoTokenizer.from_pretrained('${this.id}').save_pretrained(folder) writes it) and open that folder.`,
      );
    }

    // The shard index is tiny and needed to know what to download; fetch it before asking.
    let weightFiles: string[] = [SINGLE_WEIGHTS_FILE];
    const small: string[] = [CONFIG_FILE, TOKENIZER_FILE, ...OPTIONAL_FILES.filter((file) => entries.has(file))];
    if (layout.kind === 'sharded') {
      await this.fetchFiles([WEIGHTS_INDEX_FILE], entries, snapshot, 1);
      weightFiles = shardsFromIndex(await readFile(join(snapshot, WEIGHTS_INDEX_FILE), 'utf8'), where);
      const unlisted = weightFiles.filter((shard) => !entries.has(shard));
      if (unlisted.length > 0) {
        throw new ModelSourceError('incomplete-weights', `${where}: its ${WEIGHTS_INDEX_FILE} names shards that are not in the repo (${unlisted.slice(0, 3).join(', ')}).`);
      }
    }

    const wanted = [...small, ...weightFiles];
    for (const file of wanted) {
      const remote = entries.get(file)!;
      if (!(await hasBlob(blobPath(this.repo, remote.etag), remote.size))) {
        this.needed.add(file);
        this.bytesTotal += remote.size;
      }
    }
    this.filesTotal = this.needed.size;
    if (this.bytesTotal > 0 && this.options.confirmDownload) {
      if (!(await this.options.confirmDownload(this.bytesTotal, this.name))) {
        throw new ModelSourceError('declined', `Download of ${this.name} declined.`);
      }
      throwIfAborted(this.options.signal);
    }
    this.report(true);

    // Small files first, so that a snapshot holding the weights also holds everything else.
    await this.fetchFiles(small, entries, snapshot, 1);
    await this.fetchFiles(weightFiles, entries, snapshot, this.concurrency);
    for (const file of OPTIONAL_FILES) if (!entries.has(file)) await markMissing(this.repo, commit, file);

    const { problem } = await inspectModelFolder(snapshot);
    if (problem) throw problem;
    return finish(this.bytesTotal);
  }

  private remoteFile(entry: { path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }): RemoteFile {
    const url = `${this.hubUrl}/${this.id}/resolve/${this.commit}/${encodeURIComponent(entry.path)}`;
    if (entry.lfs) {
      if (!BLOB_NAME.test(entry.lfs.oid) || entry.lfs.oid.length !== 64) throw this.badListing(entry.path);
      return { path: entry.path, etag: entry.lfs.oid, size: entry.lfs.size, hashKind: 'sha256', url };
    }
    if (!entry.oid || !BLOB_NAME.test(entry.oid) || entry.oid.length !== 40) throw this.badListing(entry.path);
    return { path: entry.path, etag: entry.oid, size: entry.size, hashKind: 'git-sha1', url };
  }

  private badListing(path: string): ModelSourceError {
    return new ModelSourceError('server', `The Hub listed ${path} of ${this.name} without a valid hash, so it cannot be verified. Try again later.`);
  }

  /**
   * Downloads `files` (`parallel` at a time) and links each into the snapshot as it completes.
   * After a failure no new file is started; those in flight finish (their bytes are valid and kept),
   * then the first error is thrown.
   */
  private async fetchFiles(files: string[], entries: Map<string, RemoteFile>, snapshot: string, parallel: number): Promise<void> {
    const queue = [...files];
    let firstError: unknown;
    const worker = async (): Promise<void> => {
      for (let file = queue.shift(); file !== undefined && firstError === undefined; file = queue.shift()) {
        const remote = entries.get(file)!;
        const counted = this.needed.has(file);
        try {
          const blob = await ensureBlob(remote, {
            repoDir: this.repo,
            locksDir: locksDir(this.cacheDir, this.id),
            fetch: this.downloadFetch,
            signal: this.options.signal,
            request: (action) => this.context(action),
            onFileBytes: (f, bytes) => {
              if (counted) this.onFileBytes(f.path, bytes);
            },
            tuning: this.tuning,
          });
          await linkIntoSnapshot(snapshot, file, blob);
          if (counted) {
            this.filesDone++;
            this.onFileBytes(file, remote.size, true);
          }
        } catch (error) {
          firstError ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
    if (firstError !== undefined) {
      if (this.options.signal?.aborted) throw cancelledError();
      throw firstError;
    }
  }

  private onFileBytes(file: string, bytes: number, force = false): void {
    this.fileBytes.set(file, bytes);
    this.lastFile = file;
    this.report(force);
  }

  private report(force: boolean): void {
    if (!this.options.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < 100) return;
    this.lastReport = now;
    let bytesDone = 0;
    for (const bytes of this.fileBytes.values()) bytesDone += bytes;
    this.options.onProgress({
      file: this.lastFile,
      bytesDone: Math.min(bytesDone, this.bytesTotal),
      bytesTotal: this.bytesTotal,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
    });
  }
}
