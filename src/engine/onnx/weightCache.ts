/**
 * A cache of layer groups converted once to float32, for models too large to convert on every load.
 *
 * Measured on the Llama-3.2-1B shape (2 cores): building a session from the bf16 checkpoint costs
 * about 1 s of CPU per layer: onnxruntime copies the stored bytes out of the safetensors file (their
 * offsets are not page-aligned, so it cannot map them), folds the Cast to float32 into fresh memory,
 * pre-packs that into another copy and hashes it; half of it is the kernel zeroing and mapping the
 * new pages. The cache keeps what onnxruntime itself writes after optimizing the group (its
 * optimized graph with the float32 initializers as page-aligned external data), so a later session
 * maps those bytes from the file: no copy, no conversion, no weight byte in JavaScript. Cached groups
 * run without pre-packing (pre-packing would copy every weight again at each load; it saves about
 * 12% per analysis, which small models keep: they are not cached).
 *
 * Converting costs more than a load without the cache, so it never holds back a result: until a
 * group is in the cache it runs at stored precision (model.ts, WeightPrecision), and the engine
 * converts one group at a time while it is idle, on a thread of its own (optimizeThread.ts).
 *
 * Entries live in the extension's storage (never in the checkpoint folder, which may be read-only),
 * keyed by everything the converted bytes depend on: the graph (weight names, files, offsets,
 * shapes), each referenced file's path, size, modification time and header, the onnxruntime version
 * and the CPU. An entry is written under a temporary name and renamed when complete, so a crash or a
 * full disk leaves nothing half-written that could be read; any entry is safe to delete.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { BuiltGraph } from './graph';
import { writeOptimizedModel } from './optimizeThread';

/** Bumped when what an entry holds changes meaning. */
const FORMAT = 1;
const MODEL_FILE = 'layers.onnx';
const DATA_FILE = 'layers.data';
const COMPLETE = 'complete';

type SessionOptions = ort.InferenceSession.SessionOptions;

export interface WeightCache {
  /** Folder of the entries (created when first written). */
  readonly dir: string;
}

/** What a cached session's weights depend on, besides the graph: the bytes of the files it references. */
function fileIdentity(file: string): string {
  const stat = fs.statSync(file);
  const fd = fs.openSync(file, 'r');
  try {
    // The safetensors header (names, dtypes, shapes, offsets) and the file's size and time; the
    // weight bytes themselves are not read.
    const length = Buffer.alloc(8);
    fs.readSync(fd, length, 0, 8, 0);
    const headerBytes = Math.min(Number(length.readBigUInt64LE(0)), stat.size - 8, 100 * 1024 * 1024);
    const header = Buffer.alloc(Math.max(0, headerBytes));
    fs.readSync(fd, header, 0, header.length, 8);
    return `${file}\0${stat.size}\0${stat.mtimeMs}\0${crypto.createHash('sha256').update(header).digest('hex')}`;
  } finally {
    fs.closeSync(fd);
  }
}

/** The entry name for a group: a hash of the graph, the files it reads and the runtime. */
export function cacheKey(built: BuiltGraph): string {
  const hash = crypto.createHash('sha256');
  hash.update(`attention-inspector weight cache ${FORMAT}\0${ort.env.versions.node}\0${process.arch}\0${os.cpus()[0]?.model ?? ''}\0`);
  hash.update(built.externalFolder ?? '');
  for (const file of built.files) hash.update(`\0${fileIdentity(file)}`);
  hash.update(built.bytes);
  return hash.digest('hex').slice(0, 40);
}

/** Session options for a session read from the cache: no pre-packing (see above), no external folder. */
function cachedOptions(options: SessionOptions): SessionOptions {
  const session = { ...((options.extra as { session?: Record<string, string> } | undefined)?.session ?? {}) };
  delete session.model_external_initializers_file_folder_path;
  session.disable_prepacking = '1';
  return { ...options, extra: { ...options.extra, session } };
}

/** Partial entries of conversions that a killed process left more than an hour ago. */
function removeAbandoned(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (!name.includes('.partial-')) continue;
    const full = path.join(dir, name);
    if (Date.now() - fs.statSync(full).mtimeMs > 3600e3) fs.rmSync(full, { recursive: true, force: true });
  }
}

/**
 * Lets onnxruntime optimize the group (folding every Cast to float32) and write the result into the
 * entry, on the conversion thread; the session that wrote it is released at once.
 */
async function convert(built: BuiltGraph, options: SessionOptions, entry: string): Promise<void> {
  fs.mkdirSync(path.dirname(entry), { recursive: true });
  removeAbandoned(path.dirname(entry));
  const temp = `${entry}.partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(temp);
  try {
    const base = cachedOptions(options);
    const session = (base.extra as { session: Record<string, string> }).session;
    if (built.externalFolder) session.model_external_initializers_file_folder_path = built.externalFolder;
    session.optimized_model_external_initializers_file_name = DATA_FILE;
    session.optimized_model_external_initializers_min_size_in_bytes = '1024';
    // logSeverityLevel 3: onnxruntime warns that a graph optimized at this level may be specific to
    // this machine's hardware (NCHWc convolution layouts, which these graphs do not have); the key
    // holds the CPU model and the onnxruntime version anyway.
    await writeOptimizedModel(built.bytes, { ...base, logSeverityLevel: 3, optimizedModelFilePath: path.join(temp, MODEL_FILE) });
    // The data file's size, checked before each use: a file cut short would fault when mapped.
    fs.writeFileSync(path.join(temp, COMPLETE), String(fs.statSync(path.join(temp, DATA_FILE)).size));
    try {
      fs.renameSync(temp, entry);
    } catch {
      // Another process completed the same entry first: keep theirs.
      fs.rmSync(temp, { recursive: true, force: true });
    }
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}

/** Where `built`'s entry lives in the cache (its key hashes the graph and reads the files' headers: compute it once per group). */
export function cacheEntry(built: BuiltGraph, cache: WeightCache): string {
  return path.join(cache.dir, cacheKey(built));
}

/** Whether `entry` is complete and intact; a damaged one (cut short, files deleted) is removed. */
function isIntact(entry: string): boolean {
  if (!fs.existsSync(path.join(entry, COMPLETE))) return false;
  try {
    const size = Number(fs.readFileSync(path.join(entry, COMPLETE), 'utf8'));
    if (fs.statSync(path.join(entry, DATA_FILE)).size === size) return true;
  } catch {
    // Unreadable: treated as damaged below.
  }
  fs.rmSync(entry, { recursive: true, force: true });
  return false;
}

/** A session mapping the float32 weights of `entry`, or undefined when the entry is missing or damaged. */
export async function openCached(entry: string, options: SessionOptions): Promise<ort.InferenceSession | undefined> {
  if (!isIntact(entry)) return undefined;
  try {
    return await ort.InferenceSession.create(path.join(entry, MODEL_FILE), cachedOptions(options));
  } catch {
    // A damaged entry that passed the size check (a disk error): it will be converted again.
    fs.rmSync(entry, { recursive: true, force: true });
    return undefined;
  }
}

/** Converts `built` into `entry` on the conversion thread; false when the cache cannot be written (read-only storage, a full disk). */
export async function convertIntoCache(built: BuiltGraph, entry: string, options: SessionOptions): Promise<boolean> {
  if (isIntact(entry)) return true;
  try {
    await convert(built, options, entry);
    return true;
  } catch {
    return false;
  }
}
