/**
 * Data shapes exchanged with the native addon (images, tensors, clouds, GPU times).
 * @internal
 */
/** Interleaved 8-bit pixels as the native steps take them. */
export interface NativeImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
  order: 'rgb' | 'bgr';
  stride?: number;
  /**
   * The library made these pixels (decoded them) and no other code holds them while a
   * native call runs: the call reads them in place instead of copying them first.
   */
  owned?: boolean;
}

/** Element type of a model tensor. */
export type TensorDType = 'float32' | 'float16';
/** Tensor elements: float32, or float16 bits. */
export type TensorData = Float32Array | Uint16Array;

/** A point cloud as the native back-projection returns it. */
export interface NativeCloud {
  organised: boolean;
  count: number;
  points: Float32Array;
  colours?: Uint8Array;
  normals?: Float32Array;
  indices?: Uint32Array;
}

/** Back-projection settings of a fused GPU request. */
export interface NativeCloudRequest {
  intrinsics: { fx: number; fy: number; cx: number; cy: number };
  minDepth: number;
  maxDepth: number;
  organised: boolean;
  colour: boolean;
  normals: boolean;
}

/** GPU time per stage of a fused request, in milliseconds (wall: enqueue to results). */
export interface GpuTimes {
  upload: number;
  preprocess: number;
  engine: number;
  postprocess: number;
  backproject: number;
  download: number;
  wall: number;
}

/** One raw model output's shape, as the addon's `checkOutputs` takes it. */
export interface NativeOutputShape {
  name: string;
  dims: number[];
  dtype: TensorDType;
}
