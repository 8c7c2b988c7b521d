/**
 * Error classes. Every error the library raises is a {@link Metric3DError} with a
 * stable string `code`; native code throws the same classes.
 *
 * @example
 * ```ts
 * try { await m.predict(buf); }
 * catch (e) { if (e instanceof IntrinsicsError) console.error(e.code, e.message); }
 * ```
 * @module
 */

/** Stable error codes, one per error class. @group Errors */
export const ErrorCode = {
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  DECODE: 'ERR_DECODE',
  INTRINSICS: 'ERR_INTRINSICS',
  CHANNELS: 'ERR_CHANNELS',
  IMAGE_TOO_LARGE: 'ERR_IMAGE_TOO_LARGE',
  MODEL_LOAD: 'ERR_MODEL_LOAD',
  MODEL_CONTRACT: 'ERR_MODEL_CONTRACT',
  BACKEND_UNAVAILABLE: 'ERR_BACKEND_UNAVAILABLE',
  DISPOSED: 'ERR_DISPOSED',
  NONFINITE_OUTPUT: 'ERR_NONFINITE_OUTPUT',
  INFERENCE: 'ERR_INFERENCE',
  OUT_OF_MEMORY: 'ERR_OUT_OF_MEMORY',
  GPU_UNAVAILABLE: 'ERR_GPU_UNAVAILABLE',
  CUDA: 'ERR_CUDA',
  NATIVE: 'ERR_NATIVE',
  ENGINE_BUILD: 'ERR_ENGINE_BUILD',
  ENGINE_LOAD: 'ERR_ENGINE_LOAD',
  CANCELLED: 'ERR_CANCELLED',
  VERIFY: 'ERR_VERIFY',
  DOWNLOAD: 'ERR_DOWNLOAD',
  OUTPUT: 'ERR_OUTPUT',
} as const;

/** One of the values of {@link ErrorCode}. @group Errors */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error raised by metric3d-trt. @group Errors */
export class Metric3DError extends Error {
  /** Stable machine-readable code, e.g. `'ERR_DECODE'`. */
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument has the wrong type or value ("expected X for Y, got Z"), or an option key the call does not know ("unknown option options.intrinsic; did you mean options.intrinsics?"). @group Errors */
export class InvalidArgumentError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.INVALID_ARGUMENT, message, options);
  }
}
/** The image could not be decoded: corrupt, truncated, empty or unreadable; a decoder warning; a format outside `inputFormats` (SVG unless listed); a decode over `decodeTimeout`. @group Errors */
export class DecodeError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.DECODE, message, options);
  }
}
/** Intrinsics are missing, non-finite, zero or negative. @group Errors */
export class IntrinsicsError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.INTRINSICS, message, options);
  }
}
/** Raw pixels have a channel count other than 1, 3 or 4. @group Errors */
export class ChannelsError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CHANNELS, message, options);
  }
}
/** The image exceeds the pixel limit (`maxPixels`, default 40 MP), or is over 1 MP with more than 4 096 pixels per input byte; checked from the header before decoding. @group Errors */
export class ImageTooLargeError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.IMAGE_TOO_LARGE, message, options);
  }
}
/** The model file is missing or is not a loadable ONNX graph. @group Errors */
export class ModelLoadError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.MODEL_LOAD, message, options);
  }
}
/** The ONNX graph does not match a known Metric3D v2 contract or its registry entry, or a model output has another shape than `[1, C, H, W]` for the input size (leading 1s may be left out): at load where the graph declares it, at every run. @group Errors */
export class ModelContractError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.MODEL_CONTRACT, message, options);
  }
}
/** The requested inference backend cannot run on this machine; the message says why. @group Errors */
export class BackendUnavailableError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BACKEND_UNAVAILABLE, message, options);
  }
}
/** The instance was disposed. @group Errors */
export class DisposedError extends Metric3DError {
  constructor(message = 'this Metric3D instance has been disposed', options?: { cause?: unknown }) {
    super(ErrorCode.DISPOSED, message, options);
  }
}
/** The model produced NaN or Inf values. @group Errors */
export class NonFiniteOutputError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NONFINITE_OUTPUT, message, options);
  }
}
/** The inference backend failed while running the model. @group Errors */
export class InferenceError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.INFERENCE, message, options);
  }
}
/** A native allocation failed. @group Errors */
export class OutOfMemoryError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.OUT_OF_MEMORY, message, options);
  }
}
/** A GPU was asked for but none can be used here; the message says why. @group Errors */
export class GpuUnavailableError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.GPU_UNAVAILABLE, message, options);
  }
}
/** A CUDA runtime call failed (the message names the call and the CUDA error). @group Errors */
export class CudaError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CUDA, message, options);
  }
}
/** An unexpected failure inside the native library. @group Errors */
export class NativeError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NATIVE, message, options);
  }
}
/** TensorRT could not build an engine from the ONNX file; the message says why and what to change. @group Errors */
export class EngineBuildError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ENGINE_BUILD, message, options);
  }
}
/** A serialized TensorRT engine could not be loaded (another TensorRT version or GPU, or a damaged file; cached engines are then rebuilt), or the engine cache folder is not private (see docs/tensorrt.md). @group Errors */
export class EngineLoadError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ENGINE_LOAD, message, options);
  }
}
/** Long work (an engine build, a download) was stopped through its AbortSignal. @group Errors */
export class CancelledError extends Metric3DError {
  constructor(message = 'cancelled', options?: { cause?: unknown }) {
    super(ErrorCode.CANCELLED, message, options);
  }
}
/**
 * A request (`predict`, `pointcloud`) was stopped through its `signal`; `cause` is the
 * signal's reason. A subclass of `CancelledError`, with its code.
 *
 * @group Errors
 */
export class AbortError extends CancelledError {
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}
/** A request (`predict`, `pointcloud`) ran past its `timeoutMs`. A subclass of `CancelledError`, with its code. @group Errors */
export class TimeoutError extends CancelledError {
  constructor(message = 'timed out', options?: { cause?: unknown }) {
    super(message, options);
  }
}
/** A parity check (`tensorrt.verify`) found the engine's depth too far from onnxruntime's: AbsRel, missing pixels, a flat or saturated map. @group Errors */
export class VerifyError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.VERIFY, message, options);
  }
}
/**
 * A model download failed: HTTP status, network, timeout or minimum rate, a size / sha256 mismatch or a file that is
 * not ONNX, or a redirect to a host that is not allowed. Nothing is placed in the cache; after a network error or a
 * timeout the partial file is kept for a resume.
 * @group Errors
 */
export class DownloadError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.DOWNLOAD, message, options);
  }
}
/** A result could not be written in the requested format. @group Errors */
export class OutputError extends Metric3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.OUTPUT, message, options);
  }
}

const byCode: Record<string, new (message: string, options?: { cause?: unknown }) => Metric3DError> = {
  [ErrorCode.INVALID_ARGUMENT]: InvalidArgumentError,
  [ErrorCode.DECODE]: DecodeError,
  [ErrorCode.INTRINSICS]: IntrinsicsError,
  [ErrorCode.CHANNELS]: ChannelsError,
  [ErrorCode.IMAGE_TOO_LARGE]: ImageTooLargeError,
  [ErrorCode.MODEL_LOAD]: ModelLoadError,
  [ErrorCode.MODEL_CONTRACT]: ModelContractError,
  [ErrorCode.BACKEND_UNAVAILABLE]: BackendUnavailableError,
  [ErrorCode.DISPOSED]: DisposedError,
  [ErrorCode.NONFINITE_OUTPUT]: NonFiniteOutputError,
  [ErrorCode.INFERENCE]: InferenceError,
  [ErrorCode.OUT_OF_MEMORY]: OutOfMemoryError,
  [ErrorCode.GPU_UNAVAILABLE]: GpuUnavailableError,
  [ErrorCode.CUDA]: CudaError,
  [ErrorCode.NATIVE]: NativeError,
  [ErrorCode.ENGINE_BUILD]: EngineBuildError,
  [ErrorCode.ENGINE_LOAD]: EngineLoadError,
  [ErrorCode.CANCELLED]: CancelledError,
  [ErrorCode.VERIFY]: VerifyError,
  [ErrorCode.DOWNLOAD]: DownloadError,
  [ErrorCode.OUTPUT]: OutputError,
};

/**
 * Builds the error class registered for `code` (used by the native binding).
 * @internal
 */
export function errorFromCode(code: string, message: string): Metric3DError {
  const Ctor = byCode[code] ?? NativeError;
  return new Ctor(message);
}
