/**
 * Streaming scan of an ONNX protobuf for its opset, operator counts and cubic Resize
 * nodes (the ViT position-embedding interpolation TensorRT cannot build). Weights and
 * other large fields are skipped by seeking, so multi-gigabyte files are never loaded.
 * @internal
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { ModelLoadError } from '../errors';
import type { ValueInfo } from '../types';

/** A Resize node with cubic interpolation. */
export interface ResizeNodeInfo {
  name: string;
  mode: string;
  antialias: boolean;
  inputs: string[];
}

/** What {@link scanOnnxGraph} found in the main graph (subgraphs are not visited). */
export interface GraphScan {
  /** Version of the default ('' or 'ai.onnx') operator set. */
  opset?: number;
  nodeCount: number;
  /** Node count per op type; ops outside the default domain are keyed 'domain::op'. */
  ops: Record<string, number>;
  cubicResizes: ResizeNodeInfo[];
  /** Graph inputs that are not initializers, and graph outputs. */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16',
};

class ProtoError extends Error {}

const CHUNK = 64 * 1024;
const MAX_STRING = 1 << 20;

class Reader {
  pos = 0;
  private buf = Buffer.alloc(CHUNK);
  private bufStart = 0;
  private bufLen = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  private byte(): number {
    if (this.pos >= this.size) throw new ProtoError(`unexpected end of file at byte ${this.pos}`);
    if (this.pos < this.bufStart || this.pos >= this.bufStart + this.bufLen) {
      this.bufStart = this.pos;
      this.bufLen = readSync(this.fd, this.buf, 0, Math.min(CHUNK, this.size - this.pos), this.pos);
      if (this.bufLen <= 0) throw new ProtoError(`read failed at byte ${this.pos}`);
    }
    return this.buf[this.pos++ - this.bufStart];
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return shift === 63 && value >= 2 ** 63 ? value - 2 ** 64 : value;
    }
    throw new ProtoError(`malformed varint ending at byte ${this.pos}`);
  }

  /** Reads a length prefix and returns the end offset of the field it announces. */
  lengthEnd(limit: number): number {
    const len = this.varint();
    if (this.pos + len > limit) throw new ProtoError(`field of ${len} bytes at byte ${this.pos} runs past its end`);
    return this.pos + len;
  }

  string(limit: number): string {
    const end = this.lengthEnd(limit);
    const len = end - this.pos;
    if (len > MAX_STRING) throw new ProtoError(`string field of ${len} bytes at byte ${this.pos}`);
    const out = Buffer.alloc(len);
    if (len > 0 && readSync(this.fd, out, 0, len, this.pos) !== len) throw new ProtoError(`read failed at byte ${this.pos}`);
    this.pos = end;
    return out.toString('utf8');
  }

  skip(wire: number, limit: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.pos = this.lengthEnd(limit);
    else if (wire === 5) this.pos += 4;
    else throw new ProtoError(`unsupported wire type ${wire} at byte ${this.pos}`);
    if (this.pos > limit) throw new ProtoError(`field runs past its end at byte ${limit}`);
  }

  /** Calls `onField` for every field up to `end`; it returns false for fields to skip. */
  message(end: number, onField: (field: number, wire: number) => boolean): void {
    while (this.pos < end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      if (field === 0) throw new ProtoError(`field number 0 at byte ${this.pos}`);
      if (!onField(field, tag & 7)) this.skip(tag & 7, end);
    }
    if (this.pos !== end) throw new ProtoError(`message overruns its end at byte ${end}`);
  }
}

function parseNode(r: Reader, end: number, scan: GraphScan): void {
  const inputs: string[] = [];
  let name = '';
  let opType = '';
  let domain = '';
  const attrs = new Map<string, string | number>();
  r.message(end, (f, w) => {
    if (w !== 2) return false;
    if (f === 1) inputs.push(r.string(end));
    else if (f === 3) name = r.string(end);
    else if (f === 4) opType = r.string(end);
    else if (f === 7) domain = r.string(end);
    else if (f === 5) {
      const aEnd = r.lengthEnd(end);
      let aName = '';
      let value: string | number | undefined;
      r.message(aEnd, (af, aw) => {
        if (af === 1 && aw === 2) aName = r.string(aEnd);
        else if (af === 3 && aw === 0) value = r.varint();
        else if (af === 4 && aw === 2) value = r.string(aEnd);
        else return false;
        return true;
      });
      if (value !== undefined) attrs.set(aName, value);
    } else return false;
    return true;
  });
  const std = domain === '' || domain === 'ai.onnx';
  const key = std ? opType : `${domain}::${opType}`;
  scan.ops[key] = (scan.ops[key] ?? 0) + 1;
  scan.nodeCount++;
  const mode = String(attrs.get('mode') ?? 'nearest');
  if (std && opType === 'Resize' && mode === 'cubic') {
    scan.cubicResizes.push({ name, mode, antialias: Number(attrs.get('antialias') ?? 0) !== 0, inputs });
  }
}

// ValueInfoProto: name = 1, type = 2 (TypeProto: tensor_type = 1 (elem_type = 1,
// shape = 2 (TensorShapeProto: dim = 1 (dim_value = 1, dim_param = 2)))).
function parseValueInfo(r: Reader, end: number): ValueInfo {
  const v: ValueInfo & { shape: Array<number | string> } = { name: '', type: 'non-tensor', shape: [] };
  r.message(end, (f, w) => {
    if (f === 1 && w === 2) v.name = r.string(end);
    else if (f === 2 && w === 2) {
      const tEnd = r.lengthEnd(end);
      r.message(tEnd, (tf, tw) => {
        if (tf !== 1 || tw !== 2) return false;
        const ttEnd = r.lengthEnd(tEnd);
        r.message(ttEnd, (ef, ew) => {
          if (ef === 1 && ew === 0) v.type = ELEMENT_TYPES[r.varint()] ?? 'other';
          else if (ef === 2 && ew === 2) {
            const sEnd = r.lengthEnd(ttEnd);
            r.message(sEnd, (sf, sw) => {
              if (sf !== 1 || sw !== 2) return false;
              const dEnd = r.lengthEnd(sEnd);
              let dim: number | string = -1;
              r.message(dEnd, (df, dw) => {
                if (df === 1 && dw === 0) dim = r.varint();
                else if (df === 2 && dw === 2) dim = r.string(dEnd);
                else return false;
                return true;
              });
              v.shape.push(dim);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

// TensorProto: only its name (field 8); the data fields are skipped.
function parseInitializerName(r: Reader, end: number): string {
  let name = '';
  r.message(end, (f, w) => {
    if (f !== 8 || w !== 2) return false;
    name = r.string(end);
    return true;
  });
  return name;
}

function parseModel(r: Reader, scan: GraphScan): boolean {
  let hasGraph = false;
  r.message(r.size, (f, w) => {
    if (w !== 2 || (f !== 7 && f !== 8)) return false;
    const end = r.lengthEnd(r.size);
    if (f === 7) {
      hasGraph = true;
      const initializers = new Set<string>();
      const inputs: ValueInfo[] = [];
      r.message(end, (gf, gw) => {
        if (gw !== 2) return false;
        if (gf === 1) parseNode(r, r.lengthEnd(end), scan);
        else if (gf === 5) initializers.add(parseInitializerName(r, r.lengthEnd(end)));
        else if (gf === 11) inputs.push(parseValueInfo(r, r.lengthEnd(end)));
        else if (gf === 12) scan.outputs.push(parseValueInfo(r, r.lengthEnd(end)));
        else return false;
        return true;
      });
      scan.inputs = inputs.filter((i) => !initializers.has(i.name));
    } else {
      let domain = '';
      let version: number | undefined;
      r.message(end, (of, ow) => {
        if (of === 1 && ow === 2) domain = r.string(end);
        else if (of === 2 && ow === 0) version = r.varint();
        else return false;
        return true;
      });
      if ((domain === '' || domain === 'ai.onnx') && version !== undefined) scan.opset = version;
    }
    return true;
  });
  return hasGraph;
}

/** Scans the ONNX file at `path`; throws {@link ModelLoadError} if it is not a valid ONNX protobuf. */
export function scanOnnxGraph(path: string): GraphScan {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new ModelLoadError(`cannot open ONNX model ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const scan: GraphScan = { nodeCount: 0, ops: {}, cubicResizes: [], inputs: [], outputs: [] };
    const r = new Reader(fd, fstatSync(fd).size);
    if (!parseModel(r, scan)) throw new ProtoError('no graph field');
    return scan;
  } catch (e) {
    if (!(e instanceof ProtoError)) throw e;
    throw new ModelLoadError(`${path} is not a valid ONNX model: ${e.message}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}
