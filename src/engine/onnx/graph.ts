/**
 * A small builder for ONNX graphs. Architectures describe their layers with it; the result is
 * serialized with the ONNX protobuf schema and handed to onnxruntime as bytes. Weights become
 * initializers (raw float32 data), so onnxruntime can pre-pack them for its matrix kernels.
 */
import { onnx } from 'onnx-proto';

/** Attribute values: integers by default, `{ float: x }` for float attributes. */
export type AttributeValue = number | number[] | string | { float: number };

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** The opset every graph targets (LayerNormalization needs 17, a single Gelu node 20). */
export const OPSET = 20;

export class GraphBuilder {
  private nodes: onnx.INodeProto[] = [];
  private initializers: onnx.ITensorProto[] = [];
  private inputs: onnx.IValueInfoProto[] = [];
  private outputs: onnx.IValueInfoProto[] = [];
  private used = new Set<string>();
  private weightBytes = 0;

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
  op(type: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint = type.toLowerCase()): string {
    return this.opN(type, inputs, 1, attributes, hint)[0];
  }

  opN(type: string, inputs: string[], outputCount: number, attributes: Record<string, AttributeValue> = {}, hint = type.toLowerCase()): string[] {
    const outputs = Array.from({ length: outputCount }, (_, i) => this.fresh(outputCount === 1 ? hint : `${hint}_${i}`));
    this.nodes.push({ opType: type, input: inputs, output: outputs, name: this.fresh(`${hint}_node`), attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)) });
    return outputs;
  }

  /** Bytes of float weights added so far. */
  get weightByteLength(): number {
    return this.weightBytes;
  }

  toBytes(name: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'attention-inspector',
      opsetImport: [{ domain: '', version: OPSET }],
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
