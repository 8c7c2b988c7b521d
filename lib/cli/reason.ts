/**
 * The command line's one-line form of `Metric3D.backendReason`: when `auto` fell back to
 * onnxruntime because TensorRT is not there, the reason (every library path tried and
 * why each failed) shrinks to what happened and where the details are.
 */
export function shortBackendReason(reason: string): string {
  const m = /^auto: tensorrt not available \((.*)\); using onnxruntime on the CPU \((.*)\)$/s.exec(reason);
  if (!m) return reason;
  const why = m[1].startsWith('TensorRT not found') ? 'TensorRT not installed' : m[1].split(/[:;(]/)[0].trim();
  return `${why}: see metric3d doctor/info; using onnxruntime on the CPU (${m[2]})`;
}
