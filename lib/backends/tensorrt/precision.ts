/**
 * The engine precision, decided before the ONNX parser runs from the TensorRT library
 * (weakly typed 10, strongly typed 11) and the float type of the ONNX file.
 *
 * - TensorRT 10 builds FP16 from a float32 file with a builder flag: the default stays
 *   `'fp16'`.
 * - TensorRT 11 networks are always strongly typed and have no FP16 builder flag:
 *   precision follows the file. `'fp16'` of a float32 file uses the registry's float16
 *   export (`<name>-fp16`) when there is one, and is refused with what to do otherwise.
 *   The default is FP16 the same way: the registry's float16 export when there is
 *   one, else `'best'` (what the file holds), so a default never fails a build.
 * - `'fp32'` of a float16 file is refused on every major: it would be an FP16 engine.
 * @internal
 */
import type { GraphScan } from '../../model/onnx-graph';
import type { EnginePrecision } from '../../types';

/** What the precision decision depends on. */
export interface PrecisionQuestion {
  /** The `precision` option; undefined when the caller left it out. */
  requested?: EnginePrecision;
  /** The library's networks are always strongly typed (TensorRT 11). */
  stronglyTyped: boolean;
  /** TensorRT version, for messages. */
  version: string;
  /** Float type of the ONNX file's inputs and outputs. */
  graph: 'float32' | 'float16';
  /** The model in messages: "registry model 'vit-small'" or a path. */
  label: string;
  /** The registry's float16 export of this float32 model, when there is one. */
  float16Sibling?: string;
  /** The registry's float32 export of this float16 model, when there is one. */
  float32Sibling?: string;
}

/** What to build, or why not. */
export type PrecisionDecision =
  /** Build this file with this precision; `note` explains a choice the caller did not make. */
  | { action: 'build'; precision: EnginePrecision; note?: string }
  /** Build the registry's float16 export `model` instead, in FP16. */
  | { action: 'use-sibling'; model: string; precision: 'fp16'; note: string }
  /** The request cannot be honoured; `message` says what to do. */
  | { action: 'refuse'; message: string };

/** The float type of a scanned graph: float16 when an input or output is float16 or bfloat16. */
export function graphFloatType(scan: Pick<GraphScan, 'inputs' | 'outputs'>): 'float32' | 'float16' {
  const half = (t: string) => t === 'float16' || t === 'bfloat16';
  return [...scan.inputs, ...scan.outputs].some((v) => half(v.type)) ? 'float16' : 'float32';
}

/** The precision rules per TensorRT major (see the module comment). A pure function. */
export function decidePrecision(q: PrecisionQuestion): PrecisionDecision {
  const trt = `TensorRT ${q.version || '(unknown version)'}`;
  if (q.requested === 'fp32' && q.graph === 'float16') {
    const instead = q.float32Sibling ? `use model '${q.float32Sibling}' (the float32 export)` : 'pass the float32 export of the model';
    return {
      action: 'refuse',
      message:
        `precision 'fp32' was asked for, but ${q.label} is a float16 export, so its engine would compute in FP16. ` +
        `For an FP32 engine ${instead}; to build this file, use precision 'fp16' or 'best', or leave precision out`,
    };
  }
  if (!q.stronglyTyped) return { action: 'build', precision: q.requested ?? 'fp16' };

  const typed = `${trt} is strongly typed: precision follows the ONNX file`;
  if (q.requested === undefined) {
    if (q.graph === 'float32' && q.float16Sibling) {
      return {
        action: 'use-sibling',
        model: q.float16Sibling,
        precision: 'fp16',
        note: `default precision fp16: ${typed}, so the registry's float16 export '${q.float16Sibling}' is built instead of the float32 ${q.label}`,
      };
    }
    const hint = q.graph === 'float32' ? '; for FP16 pass a float16 export of the model' : '';
    return { action: 'build', precision: 'best', note: `${typed}, ${q.graph} here${hint}` };
  }
  if (q.requested !== 'fp16' || q.graph === 'float16') return { action: 'build', precision: q.requested };
  if (q.float16Sibling) {
    return {
      action: 'use-sibling',
      model: q.float16Sibling,
      precision: 'fp16',
      note: `precision 'fp16': ${typed}, so the registry's float16 export '${q.float16Sibling}' is built instead of the float32 ${q.label}`,
    };
  }
  return {
    action: 'refuse',
    message:
      `precision 'fp16' cannot be built from ${q.label}: ${typed}, and this file is float32 (TensorRT 11 has no FP16 builder flag). ` +
      `Export the model in float16 and pass that file, or use precision 'best' (builds what the file holds: FP32 here) or 'fp32'. ` +
      `If the file already computes in float16 behind float32 inputs and outputs, precision 'best' builds it as it is`,
  };
}
