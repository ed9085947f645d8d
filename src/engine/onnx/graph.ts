/**
 * A small builder for ONNX graphs. Architectures describe their layers with it; the result is
 * serialized with the ONNX protobuf schema and handed to onnxruntime as bytes. Checkpoint weights
 * are `WeightRef`s: the graph records where their bytes lie in the checkpoint's own files (ONNX
 * external data: file, offset, length) and onnxruntime reads them there itself, so no weight byte
 * passes through JavaScript. A 16-bit weight gets a Cast to float32 that onnxruntime folds once at
 * session creation; Gemm/MatMul kernels then pre-pack the folded weights.
 */
import * as path from 'path';
import { onnx } from 'onnx-proto';

/** Attribute values: integers by default, `{ float: x }` for float attributes. */
export type AttributeValue = number | number[] | string | { float: number };

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const STORED_TYPES = { F32: FLOAT, F16: onnx.TensorProto.DataType.FLOAT16, BF16: onnx.TensorProto.DataType.BFLOAT16 } as const;

/** How a checkpoint stores a weight on disk. */
export type StoredDType = keyof typeof STORED_TYPES;

/**
 * A checkpoint weight as it lies in its file: what families hand to the graph builder instead of
 * numbers. Where TypeScript needs the values themselves (an embedding norm, a bias table), the
 * family reads them explicitly from the checkpoint.
 */
export interface WeightRef {
  readonly kind: 'weight-ref';
  /** The tensor's name in the checkpoint (messages, initializer names). */
  readonly name: string;
  readonly dtype: StoredDType;
  readonly shape: readonly number[];
  /** Canonical (symlink-free) path of the file that holds the bytes, and their byte range in it. */
  readonly file: string;
  readonly offset: number;
  readonly byteLength: number;
  /** The stored bytes, for the rare weight whose file the session cannot reference. */
  readBytes(): Uint8Array;
}

/** A weight: a checkpoint reference, or the name of a float32 value already in the graph. */
export type Weight = WeightRef | string;

/** A serialized graph and the folder onnxruntime resolves its external data against. */
export interface BuiltGraph {
  bytes: Uint8Array;
  /** Canonical folder holding the files the external initializers name; undefined when there are none. */
  externalFolder: string | undefined;
  /** Canonical paths of the checkpoint files whose bytes the graph references or embeds. */
  files: string[];
}

/** The opset every graph targets (LayerNormalization needs 17, a single Gelu node 20). */
export const OPSET = 20;
/** onnxruntime's own operators (FusedMatMul). */
export const MS_DOMAIN = 'com.microsoft';

export class GraphBuilder {
  private nodes: onnx.INodeProto[] = [];
  private initializers: onnx.ITensorProto[] = [];
  private inputs: onnx.IValueInfoProto[] = [];
  private outputs: onnx.IValueInfoProto[] = [];
  private used = new Set<string>();
  private weightBytes = 0;
  /** Checkpoint weights by file and offset → their float32 value, so a shared weight is read once. */
  private refValues = new Map<string, string>();
  private external: { proto: onnx.ITensorProto; ref: WeightRef }[] = [];

  /** Returns a fresh value name based on `hint`. */
  fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Declares a float32 graph input; string dimensions are symbolic (`n`). */
  input(name: string, dims: (number | string)[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Exposes `value` as a graph output called `name`; use the returned name for `value` from now on. */
  output(name: string, value: string, dims: (number | string)[]): string {
    if (value !== name) {
      // A fresh name handed out before (`value_norms_1` for a decoder layer's cross site) cannot be
      // taken over: its holder still uses it. Output names are the caller's to keep apart.
      if (this.nodes.some((node) => node.output?.includes(name))) throw new Error(`graph output ${name}: another value already has this name`);
      this.used.add(name);
      const producer = this.nodes.find((node) => node.output?.includes(value));
      if (producer && !this.outputs.some((o) => o.name === value)) {
        // Rename the value where it is made and used: no copy at run time.
        for (const node of this.nodes) {
          node.input = node.input?.map((x) => (x === value ? name : x));
          node.output = node.output?.map((x) => (x === value ? name : x));
        }
      } else {
        this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `${name}_out` });
      }
    }
    this.outputs.push(valueInfo(name, dims));
    return name;
  }

  /** A float32 constant tensor (a weight). */
  weight(hint: string, data: Float32Array, dims: number[]): string {
    const name = this.fresh(hint);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`weight ${hint}: ${data.length} values for shape [${dims}]`);
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.weightBytes += data.byteLength;
    return name;
  }

  /**
   * The float32 value of a weight: a string is already one; a checkpoint reference becomes an
   * initializer that onnxruntime reads from the checkpoint file, with a Cast for 16-bit storage.
   */
  use(w: Weight): string {
    if (typeof w === 'string') return w;
    const key = `${w.file}\0${w.offset}`;
    const known = this.refValues.get(key);
    if (known) return known;
    const stored = this.fresh(w.name);
    const proto: onnx.ITensorProto = { name: stored, dataType: STORED_TYPES[w.dtype], dims: [...w.shape] };
    this.initializers.push(proto);
    this.external.push({ proto, ref: w });
    this.weightBytes += 4 * w.shape.reduce((a, b) => a * b, 1);
    const value = w.dtype === 'F32' ? stored : this.op('Cast', [stored], { to: FLOAT }, `${w.name}.f32`);
    this.refValues.set(key, value);
    return value;
  }

  scalar(value: number): string {
    return this.weight('const', Float32Array.of(value), []);
  }

  int64s(values: number[]): string {
    const name = this.fresh('shape');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  op(type: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint = type.toLowerCase(), domain = ''): string {
    return this.opN(type, inputs, 1, attributes, hint, domain)[0];
  }

  opN(type: string, inputs: string[], outputCount: number, attributes: Record<string, AttributeValue> = {}, hint = type.toLowerCase(), domain = ''): string[] {
    const outputs = Array.from({ length: outputCount }, (_, i) => this.fresh(outputCount === 1 ? hint : `${hint}_${i}`));
    this.nodes.push({ opType: type, domain, input: inputs, output: outputs, name: this.fresh(`${hint}_node`), attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)) });
    return outputs;
  }

  /**
   * Drops the nodes no graph output depends on, and the weights only they read. A graph built
   * from a whole layer but asked only for its attention (src/engine/kept.ts) then loads neither
   * the MLP nor its weights: onnxruntime runs every node of a graph, fetched or not.
   */
  private prune(): void {
    const needed = new Set(this.outputs.map((o) => o.name!));
    const kept: onnx.INodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (!node.output?.some((o) => needed.has(o))) continue;
      kept.push(node);
      for (const input of node.input ?? []) needed.add(input);
    }
    this.nodes = kept.reverse();
    const dropped = this.initializers.filter((t) => !needed.has(t.name!));
    if (dropped.length === 0) return;
    this.initializers = this.initializers.filter((t) => needed.has(t.name!));
    this.external = this.external.filter(({ proto }) => needed.has(proto.name!));
    for (const t of dropped) this.weightBytes -= t.dataType === INT64 ? 0 : 4 * (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
  }

  /** Bytes of float weights added so far (after `build`, of those the graph still reads). */
  get weightByteLength(): number {
    return this.weightBytes;
  }

  /**
   * Serializes the graph. onnxruntime resolves external data inside one folder (it refuses
   * absolute paths and, after resolving symlinks, anything outside that folder), so the folder
   * holding most of the referenced bytes is the session's; weights in any other folder are
   * embedded as their stored bytes (still converted by onnxruntime, not here).
   */
  build(name: string): BuiltGraph {
    this.prune();
    const byFolder = new Map<string, number>();
    for (const { ref } of this.external) byFolder.set(path.dirname(ref.file), (byFolder.get(path.dirname(ref.file)) ?? 0) + ref.byteLength);
    const externalFolder = [...byFolder.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    for (const { proto, ref } of this.external) {
      if (path.dirname(ref.file) === externalFolder) {
        proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        proto.externalData = [
          { key: 'location', value: path.basename(ref.file) },
          { key: 'offset', value: String(ref.offset) },
          { key: 'length', value: String(ref.byteLength) },
        ];
      } else {
        proto.rawData = ref.readBytes();
      }
    }
    return { bytes: this.toBytes(name), externalFolder, files: [...new Set(this.external.map(({ ref }) => ref.file))].sort() };
  }

  /** Serializes a graph without checkpoint weights (checkpoint weights need `build`, which places them). */
  toBytes(name: string): Uint8Array {
    this.prune();
    if (this.external.some(({ proto }) => proto.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL && !proto.rawData)) {
      throw new Error('the graph has checkpoint weights: serialize it with build()');
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'attention-inspector',
      opsetImport: [{ domain: '', version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
      graph: { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  return { name, type: T.FLOAT, f: value.float };
}
