/**
 * A checkpoint folder in the Hugging Face layout: config.json plus model.safetensors or shards
 * listed in model.safetensors.index.json. Only safetensors are read; pickle files are refused
 * because unpickling runs arbitrary code. Nothing from the folder is ever executed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from './errors';
import type { WeightRef } from './onnx/graph';
import { validateConfig } from './config';
import { listModelFolder, modelFolder, quoted, readJsonObject, resolveModelFile, type ModelFolder } from './files';
import { checkDType, readRows, readTensor, SafetensorsFile, type TensorEntry } from './safetensors';

export type ModelConfig = Record<string, unknown>;

/**
 * Tensor access for one family's naming. `tensor`/`optional` give weight handles for the graph
 * (onnxruntime reads the bytes from the file itself); `read`/`readOptional` read the values into
 * TypeScript, for the few small tensors a family computes with directly; `rows` reads embedding rows.
 */
export interface ScopedTensors {
  tensor(name: string, shape?: readonly number[]): WeightRef;
  optional(name: string, shape?: readonly number[]): WeightRef | undefined;
  read(name: string, shape?: readonly number[]): Float32Array;
  readOptional(name: string, shape?: readonly number[]): Float32Array | undefined;
  rows(name: string, rows: readonly number[]): Float32Array;
  has(name: string): boolean;
}

const PICKLE_FILE = /\.(bin|pt|pth|ckpt|pkl)$/i;

export class Checkpoint {
  /** Canonical path of each open file: onnxruntime checks external data after resolving symlinks (the Hugging Face cache's snapshots are symlinks into blobs/). */
  private readonly realPaths = new Map<SafetensorsFile, string>();
  /** Tables read row by row (embeddings), to name one whose width is wrong. */
  readonly rowTables = new Set<TensorEntry>();

  private constructor(
    readonly folder: string,
    readonly config: ModelConfig,
    private readonly files: SafetensorsFile[],
    private readonly entries: Map<string, TensorEntry>,
  ) {}

  static open(folder: string): Checkpoint {
    const m = modelFolder(folder);
    const names = listModelFolder(m);
    if (!names.includes('config.json')) {
      throw new EngineError('missing-file', `${folder} has no config.json: it is not a Hugging Face model folder.`);
    }
    const config = readJsonObject(m, 'config.json') as ModelConfig;
    validateConfig(config);
    const shardFiles = Checkpoint.safetensorsFiles(m, names);
    const files: SafetensorsFile[] = [];
    const entries = new Map<string, TensorEntry>();
    try {
      for (const [name, file] of shardFiles) {
        const st = new SafetensorsFile(file, `${name} in ${folder}`);
        files.push(st);
        for (const [tensor, entry] of st.tensors) {
          if (entries.has(tensor)) throw new EngineError('bad-checkpoint', `Tensor ${quoted(tensor)} is stored in two safetensors files of ${folder}: the folder mixes two checkpoints.`);
          entries.set(tensor, entry);
        }
      }
    } catch (err) {
      files.forEach((f) => f.close());
      throw err;
    }
    return new Checkpoint(folder, config, files, entries);
  }

  /** [name, real path] of each safetensors file to read. */
  private static safetensorsFiles(m: ModelFolder, names: string[]): [string, string][] {
    const folder = m.folder;
    const regular = (name: string): [string, string] => {
      const file = resolveModelFile(m, name);
      if (!file) throw new EngineError('missing-file', `${name} is missing from ${folder} (incomplete download?).`);
      return [name, file.real];
    };
    const indexName = 'model.safetensors.index.json';
    if (names.includes(indexName)) {
      const index = readJsonObject(m, indexName)!;
      const weightMap = index.weight_map;
      if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
        throw new EngineError('bad-checkpoint', `${indexName} in ${folder} has no weight_map object that says which file holds each tensor.`);
      }
      const values = Object.values(weightMap as Record<string, unknown>);
      if (values.some((v) => typeof v !== 'string')) throw new EngineError('bad-checkpoint', `${indexName} in ${folder} maps a tensor to something that is not a file name.`);
      const shards = [...new Set(values as string[])];
      if (shards.length === 0) throw new EngineError('bad-checkpoint', `${indexName} lists no shards.`);
      for (const shard of shards) {
        // The index comes from the model repository: keep shard names inside the folder.
        if (shard !== path.basename(shard) || !shard.endsWith('.safetensors') || shard === '.safetensors') {
          throw new EngineError('bad-checkpoint', `${indexName} names an invalid shard ${quoted(shard)}: shards are .safetensors files beside it.`);
        }
        if (!names.includes(shard)) throw new EngineError('missing-file', `Shard ${shard} listed in ${indexName} is missing from ${folder} (incomplete download?).`);
      }
      return shards.map(regular);
    }
    if (names.includes('model.safetensors')) return [regular('model.safetensors')];
    const loose = names.filter((n) => n.endsWith('.safetensors')).sort();
    if (loose.length > 0) return loose.map(regular);
    const pickles = names.filter((n) => PICKLE_FILE.test(n));
    if (pickles.length > 0) {
      throw new EngineError(
        'pickle-only',
        `${folder} has only PyTorch pickle weights (${pickles.join(', ')}). Attention Inspector reads safetensors only, because loading a pickle can run arbitrary code. ` +
          `Convert it once in Python you trust: from transformers import AutoModel; AutoModel.from_pretrained("${folder}").save_pretrained("${folder}-safetensors", safe_serialization=True) ` +
          `(then copy the tokenizer files), or pick a revision of the model that has model.safetensors.`,
      );
    }
    throw new EngineError('missing-file', `${folder} has no model.safetensors (or safetensors shards with model.safetensors.index.json).`);
  }

  /**
   * Finds a tensor by its name without the head-model prefix. Real checkpoints spell names with
   * or without prefixes (`bert.`, `model.`, `transformer.`...) and old BERT checkpoints call
   * LayerNorm parameters gamma/beta.
   */
  find(name: string, prefixes: readonly string[]): TensorEntry | undefined {
    const spellings = [name];
    if (name.endsWith('.weight')) spellings.push(name.slice(0, -'.weight'.length) + '.gamma');
    if (name.endsWith('.bias')) spellings.push(name.slice(0, -'.bias'.length) + '.beta');
    for (const prefix of ['', ...prefixes]) {
      for (const spelling of spellings) {
        const entry = this.entries.get(prefix + spelling);
        if (entry) return entry;
      }
    }
    return undefined;
  }

  has(name: string, prefixes: readonly string[]): boolean {
    return this.find(name, prefixes) !== undefined;
  }

  entry(name: string, prefixes: readonly string[], expectedShape?: readonly number[]): TensorEntry {
    const entry = this.find(name, prefixes);
    if (!entry) {
      throw new EngineError('bad-checkpoint', `The checkpoint in ${this.folder} has no tensor "${name}" that config.json's model_type ${quoted(this.config.model_type)} needs (a different architecture, or an incomplete download?).`);
    }
    if (expectedShape && (entry.shape.length !== expectedShape.length || entry.shape.some((d, i) => d !== expectedShape[i]))) {
      throw new EngineError('bad-checkpoint', `Tensor "${entry.name}" has shape [${entry.shape.join(', ')}] but config.json implies [${expectedShape.join(', ')}]: the weights and config.json do not belong together.`);
    }
    return entry;
  }

  /** A handle to a tensor's bytes in its file (shape- and dtype-checked), for the graph builder. */
  tensor(name: string, prefixes: readonly string[], expectedShape?: readonly number[]): WeightRef {
    const entry = this.entry(name, prefixes, expectedShape);
    checkDType(entry);
    const file = entry.file;
    let real = this.realPaths.get(file);
    if (real === undefined) {
      real = fs.realpathSync(file.filePath);
      this.realPaths.set(file, real);
    }
    return {
      kind: 'weight-ref',
      name: entry.name,
      dtype: entry.dtype,
      shape: entry.shape,
      file: real,
      offset: entry.offset,
      byteLength: entry.byteLength,
      readBytes: () => file.readBytes(entry.offset, entry.byteLength),
    };
  }

  /** Reads a tensor's values as float32 into TypeScript, checking its shape against what the config implies. */
  read(name: string, prefixes: readonly string[], expectedShape?: readonly number[]): Float32Array {
    return readTensor(this.entry(name, prefixes, expectedShape));
  }

  /** Tensor access for one family's naming; `optional`/`readOptional` give undefined when absent (e.g. biases some checkpoints omit). */
  scoped(prefixes: readonly string[]): ScopedTensors {
    return {
      tensor: (name, shape) => this.tensor(name, prefixes, shape),
      optional: (name, shape) => (this.has(name, prefixes) ? this.tensor(name, prefixes, shape) : undefined),
      read: (name, shape) => this.read(name, prefixes, shape),
      readOptional: (name, shape) => (this.has(name, prefixes) ? this.read(name, prefixes, shape) : undefined),
      rows: (name, rows) => this.rows(name, prefixes, rows),
      has: (name) => this.has(name, prefixes),
    };
  }

  rows(name: string, prefixes: readonly string[], rows: readonly number[]): Float32Array {
    const entry = this.entry(name, prefixes);
    this.rowTables.add(entry);
    return readRows(entry, rows);
  }

  /**
   * The first tensor, in layer order, that holds NaN or infinite values among the tensors outside
   * any layer (embeddings, final norm) and those of layers 0..`lastLayer` (read on demand: only
   * when a result was not finite).
   */
  firstNonFiniteTensor(lastLayer: number): string | undefined {
    const layerOf = (name: string) => {
      const m = /\.(\d+)\./.exec(name);
      return m ? Number(m[1]) : -1;
    };
    const candidates = [...this.entries.values()]
      .filter((e) => ['F32', 'F16', 'BF16'].includes(e.dtype) && layerOf(e.name) <= lastLayer)
      .sort((a, b) => layerOf(a.name) - layerOf(b.name) || a.name.localeCompare(b.name));
    for (const entry of candidates) {
      const values = readTensor(entry);
      for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return entry.name;
    }
    return undefined;
  }

  /** Total bytes of tensors on disk (for progress and memory estimates). */
  get byteSize(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.byteLength;
    return total;
  }

  close(): void {
    this.files.forEach((f) => f.close());
  }
}
