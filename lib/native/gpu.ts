/**
 * CUDA availability of the native core.
 * @internal
 */
import { native } from './binding';
import type { GpuStatus } from '../types';

/** CUDA GPU availability for the native pre- and post-processing, with the reason when missing. */
export function gpuStatus(device = 0): GpuStatus {
  const g = native().gpuInfo(device);
  const reason = g.available ? g.reason : `${g.reason}; the CPU path is used`;
  return { ...g, reason };
}
