// A minimal ONNX writer for test graphs: a ModelProto with one graph of plain nodes,
// its inputs and outputs declared with element types and shapes (numbers are fixed
// dims, strings symbolic ones). Enough for onnxruntime to load and run small graphs
// whose declared output shapes or types the tests choose.
import { writeFileSync } from 'node:fs';

/** ONNX TensorProto element types. */
export const FLOAT = 1;
export const FLOAT16 = 10;

export interface OnnxValue {
  name: string;
  type: number;
  shape: Array<number | string>;
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Integer and integer-list attributes. */
  attrs?: Record<string, number | number[]>;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const bytes = (field: number, b: number[]) => [...tag(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...Buffer.from(s, 'utf8')]);

function valueInfo(v: OnnxValue): number[] {
  const dims = v.shape.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  const tensor = [...int(1, v.type), ...bytes(2, dims)];
  return [...str(1, v.name), ...bytes(2, bytes(1, tensor))];
}

function attribute(name: string, value: number | number[]): number[] {
  // AttributeProto: name = 1, i = 3, ints = 8, type = 20 (INT = 2, INTS = 7).
  if (Array.isArray(value)) return [...str(1, name), ...value.flatMap((x) => int(8, x)), ...int(20, 7)];
  return [...str(1, name), ...int(3, value), ...int(20, 2)];
}

function node(n: OnnxNode, index: number): number[] {
  return [
    ...n.inputs.flatMap((s) => str(1, s)),
    ...n.outputs.flatMap((s) => str(2, s)),
    ...str(3, `n${index}`),
    ...str(4, n.op),
    ...Object.entries(n.attrs ?? {}).flatMap(([k, v]) => bytes(5, attribute(k, v))),
  ];
}

/** The bytes of an ONNX model (IR version 8, opset 13). */
export function onnxModel(g: { inputs: OnnxValue[]; outputs: OnnxValue[]; nodes: OnnxNode[] }): Buffer {
  const graph = [
    ...g.nodes.flatMap((n, i) => bytes(1, node(n, i))),
    ...str(2, 'test'),
    ...g.inputs.flatMap((v) => bytes(11, valueInfo(v))),
    ...g.outputs.flatMap((v) => bytes(12, valueInfo(v))),
  ];
  const model = [...int(1, 8), ...str(2, 'metric3d-trt-tests'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 13)])];
  return Buffer.from(model);
}

/** Writes `onnxModel(g)` to `path` and returns the path. */
export function writeOnnxModel(path: string, g: Parameters<typeof onnxModel>[0]): string {
  writeFileSync(path, onnxModel(g));
  return path;
}
