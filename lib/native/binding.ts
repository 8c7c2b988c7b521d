/**
 * Loader and typed surface of the native addon (`metric3d.node`).
 * @internal
 */
import { errorFromCode, NativeError } from '../errors';
import { packageRoot } from '../paths';
import type { GpuStatus, Letterbox } from '../types';
import type { GpuTimes, NativeCloud, NativeCloudRequest, NativeImage, NativeOutputShape, TensorData, TensorDType } from './types';

export type { GpuTimes, NativeCloud, NativeCloudRequest, NativeImage, NativeOutputShape, TensorData, TensorDType };

export interface NativeBinding {
  readonly version: string;
  /** Every error code of the package (native/core/include/m3d/error.h). */
  readonly errorCodes: string[];
  /** Input-size limits (native/core/include/m3d/limits.h). */
  readonly limits: { maxInputSide: number; minInputSide: number; patch: number; defaultInputSize: [number, number] };
  /**
   * The model-output rule: throws ModelContractError / InferenceError, else the layout.
   * `declared`: the shapes a graph declares (-1 = unknown dim, [] = unknown rank).
   */
  checkOutputs(req: {
    height: number;
    width: number;
    depth: NativeOutputShape;
    normal?: NativeOutputShape;
    confidence?: NativeOutputShape;
    declared?: boolean;
  }): { dtype: TensorDType; normalChannels: number; confidence: boolean; confidenceInNormals: boolean };
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  letterbox(srcHeight: number, srcWidth: number, inputHeight: number, inputWidth: number): Letterbox;
  setNumThreads(n: number): void;
  /**
   * Detaches an array the addon returned over its pooled memory, handing the block back
   * at once instead of after a garbage collection; false (and nothing done) for any other
   * array. Only for arrays the library made for itself and no longer reads.
   */
  release(array: ArrayBufferView): boolean;
  numThreads(): number;
  gpuInfo(device?: number): GpuStatus;
  preprocess(req: {
    image: NativeImage;
    inputHeight: number;
    inputWidth: number;
    normaliseInGraph: boolean;
    dtype: TensorDType;
    maxPixels: number;
    out?: TensorData;
  }): Promise<{ tensor: TensorData; letterbox: Letterbox }>;
  postprocess(req: {
    letterbox: Letterbox;
    metricScale: number;
    minDepth: number;
    maxDepth: number;
    dtype: TensorDType;
    depth: TensorData;
    normals?: TensorData;
    normalPlaneStride?: number;
    confidence?: TensorData;
    outDepth?: Float32Array;
    /** The model outputs are the library's own (no other code holds them): read in place, not copied. */
    owned?: boolean;
  }): Promise<{ depth: Float32Array; normals?: Float32Array; confidence?: Float32Array }>;
  backproject(req: {
    depth: Float32Array;
    width: number;
    height: number;
    intrinsics: { fx: number; fy: number; cx: number; cy: number };
    minDepth: number;
    maxDepth: number;
    organised: boolean;
    image?: NativeImage;
    normals?: Float32Array;
    outPoints?: Float32Array;
    /** depth and normals are the library's own (no other code holds them): read in place, not copied. */
    owned?: boolean;
  }): Promise<NativeCloud>;
}

/** One engine I/O tensor as TensorRT reports it. */
export interface EngineTensor {
  name: string;
  input: boolean;
  type: string;
  shape: number[];
  minShape?: number[];
  maxShape?: number[];
}

export interface NativeTensorRTInfo {
  available: boolean;
  reason: string;
  version: string;
  libraryPath: string;
  modulePath: string;
  hasParser: boolean;
  /** The ONNX parser in use ("" when none). */
  parserPath: string;
  /** Why there is no usable ONNX parser ("" when there is one, or when no TensorRT is available). */
  parserReason: string;
  /** libnvinfer_plugin's plugins were registered. */
  plugins: boolean;
  /** The plugin library whose plugins were registered ("" when none). */
  pluginPath: string;
  stronglyTyped: boolean;
  modules: number[];
  moduleDir: string;
  /** Every libnvinfer tried, in order (an explicit METRIC3D_TENSORRT_LIB is the only one), with why it was or was not used. */
  attempts: Array<{
    major: number;
    library: string;
    version: string;
    module: string;
    /** The libnvonnxparser accepted for this library ("" when none). */
    parser: string;
    /** Why none was accepted ("" when one was, or when the attempt stopped before looking). */
    parserReason: string;
    /** The plugins of pluginPath were registered. */
    plugins: boolean;
    /** The libnvinfer_plugin found for this library ("" when none). */
    pluginPath: string;
    /** Why no plugin library was found, or why its plugins were not registered ("" otherwise). */
    pluginReason: string;
    loaded: boolean;
    reason: string;
  }>;
}

export interface NativeBuildEvent {
  kind: 'start' | 'step' | 'finish';
  phase: string;
  parent?: string;
  step: number;
  steps: number;
}

/** Opaque handle of a loaded engine. */
export type EngineHandle = { readonly __engine: unique symbol };

export interface NativeTensorRT {
  /** What the TensorRT loader found; its first call opens TensorRT on the calling thread. */
  tensorrtInfo(): NativeTensorRTInfo;
  /** Opens TensorRT and starts the CUDA driver off the event loop, then resolves with {@link NativeTensorRT.tensorrtInfo}. */
  tensorrtLoad(req?: { device?: number }): Promise<NativeTensorRTInfo>;
  trtBuild(req: {
    onnxPath: string;
    precision: string;
    minShape: [number, number];
    optShape: [number, number];
    maxShape: [number, number];
    workspaceBytes?: number;
    optimizationLevel?: number;
    device?: number;
    timingCache?: Uint8Array;
    /** Set cancel[0] to non-zero to cancel; it must be backed by a SharedArrayBuffer (the build thread reads it). */
    cancel?: Int32Array;
    onProgress?: (e: NativeBuildEvent) => void;
  }): Promise<{ engine: Uint8Array; timingCache?: Uint8Array; precision: string; fp32Layers: number; layers: number }>;
  trtLoad(req: {
    plan: Uint8Array;
    input: string;
    depth: string;
    normal?: string;
    confidence?: string;
    contexts?: number;
    device?: number;
  }): Promise<{ tensors: EngineTensor[]; slots: number; deviceMemory: number; handle: EngineHandle }>;
  trtRun(req: {
    handle: EngineHandle;
    slot: number;
    image: NativeImage;
    inputHeight: number;
    inputWidth: number;
    maxPixels: number;
    normaliseInGraph: boolean;
    metricScale: number;
    maxDepth: number;
    normals: boolean;
    cloud?: NativeCloudRequest;
  }): Promise<{
    depth: Float32Array;
    normals?: Float32Array;
    confidence?: Float32Array;
    letterbox: Letterbox;
    cloud?: NativeCloud;
    gpuTimes: GpuTimes;
  }>;
  trtFree(handle: EngineHandle): void;
}

let binding: (NativeBinding & NativeTensorRT) | undefined;
let bindingPath: string | undefined;
let loadError: Error | undefined;

/** The loaded addon file (a prebuild under prebuilds/ or a local build under build/). */
export function nativePath(): string | undefined {
  return bindingPath;
}

/** Loads the addon once: a local build from build/ when there is one, else the prebuild for this platform. */
export function native(): NativeBinding & NativeTensorRT {
  if (binding) return binding;
  if (loadError) throw loadError;
  const root = packageRoot();
  try {
    const gypBuild = require('node-gyp-build') as { path(dir: string): string };
    const file = gypBuild.path(root);
    const b = require(file) as NativeBinding & NativeTensorRT;
    b.setErrorFactory(errorFromCode);
    bindingPath = file;
    binding = b;
    return b;
  } catch (cause) {
    loadError = new NativeError(
      `metric3d-trt: no native addon could be loaded for ${process.platform}-${process.arch}, ` +
        `Node ${process.versions.node} (N-API ${process.versions.napi}).\n` +
        `  reason: ${(cause as Error)?.message ?? String(cause)}\n` +
        `  fix: build it for this machine with \`npx metric3d rebuild\` (CMake >= 3.18 and a C++17 compiler give the full\n` +
        `       build with CUDA when nvcc is found; without CMake it builds the CPU-only addon with node-gyp),\n` +
        `       or use a platform that has a prebuilt binary in ${root}/prebuilds.`,
      { cause },
    );
    throw loadError;
  }
}
