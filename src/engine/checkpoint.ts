/**
 * A checkpoint folder in the Hugging Face layout: config.json plus model.safetensors or shards
 * listed in model.safetensors.index.json. Only safetensors are read; pickle files are refused
 * because unpickling runs arbitrary code. Nothing from the folder is ever executed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from './errors';
import type { WeightRef } from './onnx/graph';
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

  private constructor(
    readonly folder: string,
    readonly config: ModelConfig,
    private readonly files: SafetensorsFile[],
    private readonly entries: Map<string, TensorEntry>,
  ) {}

  static open(folder: string): Checkpoint {
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
      throw new EngineError('missing-file', `Model folder not found: ${folder}`);
    }
    const names = fs.readdirSync(folder);
    const configPath = path.join(folder, 'config.json');
    if (!names.includes('config.json')) {
      throw new EngineError('missing-file', `${folder} has no config.json: it is not a Hugging Face model folder.`);
    }
    let config: ModelConfig;
    try {
      config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new EngineError('bad-checkpoint', `config.json in ${folder} is not valid JSON: ${(err as Error).message}`);
    }
    const shardFiles = Checkpoint.safetensorsFiles(folder, names);
    const files: SafetensorsFile[] = [];
    const entries = new Map<string, TensorEntry>();
    try {
      for (const file of shardFiles) {
        const st = new SafetensorsFile(file);
        files.push(st);
        for (const [name, entry] of st.tensors) entries.set(name, entry);
      }
    } catch (err) {
      files.forEach((f) => f.close());
      throw err;
    }
    return new Checkpoint(folder, config, files, entries);
  }

  private static safetensorsFiles(folder: string, names: string[]): string[] {
    const indexName = 'model.safetensors.index.json';
    if (names.includes(indexName)) {
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(fs.readFileSync(path.join(folder, indexName), 'utf8'));
      } catch (err) {
        throw new EngineError('bad-checkpoint', `${indexName} is not valid JSON: ${(err as Error).message}`);
      }
      const shards = [...new Set(Object.values(index.weight_map ?? {}))];
      if (shards.length === 0) throw new EngineError('bad-checkpoint', `${indexName} lists no shards.`);
      for (const shard of shards) {
        // The index comes from the model repository: keep shard names inside the folder.
        if (shard !== path.basename(shard) || !shard.endsWith('.safetensors')) {
          throw new EngineError('bad-checkpoint', `${indexName} names an invalid shard "${shard}".`);
        }
        if (!names.includes(shard)) throw new EngineError('missing-file', `Shard ${shard} listed in ${indexName} is missing from ${folder} (incomplete download?).`);
      }
      return shards.map((s) => path.join(folder, s));
    }
    if (names.includes('model.safetensors')) return [path.join(folder, 'model.safetensors')];
    const loose = names.filter((n) => n.endsWith('.safetensors')).sort();
    if (loose.length > 0) return loose.map((n) => path.join(folder, n));
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
      throw new EngineError('bad-checkpoint', `The checkpoint in ${this.folder} has no tensor "${name}" that config.json's model_type "${String(this.config.model_type)}" needs (a different architecture, or an incomplete download?).`);
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
    return readRows(this.entry(name, prefixes), rows);
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
