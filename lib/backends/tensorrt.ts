/**
 * TensorRT backend status.
 * @internal
 */
import type { BackendStatus } from '../types';

/** TensorRT availability on this machine. */
export function tensorrtStatus(): BackendStatus {
  return {
    available: false,
    reason: 'this build of metric3d-trt is compiled without TensorRT support (CPU inference runs on onnxruntime)',
  };
}
