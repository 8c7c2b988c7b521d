/**
 * `buildEngine`: builds (or finds in the cache) the TensorRT engine of a model ahead
 * of time, e.g. at deploy time, so that services start without a build.
 * @module
 */
import { buildResult, ensureEngine, modelTarget, resolveTensorRTOptions } from '../backends/tensorrt/backend';
import { native } from '../native/binding';
import { resolveModel } from '../model/registry';
import type { BuildEngineOptions, EngineBuildResult } from '../types';
import { integerIn, invalid, optionalObject } from '../validate';

/**
 * Builds the TensorRT engine of a model (a registry name or an `.onnx` path) into the
 * engine cache, or returns the cached one when it matches. A first build of a ViT
 * takes minutes: follow it with `onProgress`, stop it with `signal`.
 *
 * @example
 * ```ts
 * import { buildEngine } from 'metric3d-trt';
 * const e = await buildEngine('vit-small', {
 *   precision: 'fp16',
 *   onProgress: (p) => console.log(`${p.phase}: ${p.percent}%`),
 * });
 * console.log(e.enginePath, e.cached ? 'cached' : `built in ${e.buildSeconds} s`);
 * ```
 */
export async function buildEngine(model: string, options: BuildEngineOptions = {}): Promise<EngineBuildResult> {
  if (typeof model !== 'string' || model.length === 0) invalid('a model name or .onnx path', 'model', model);
  const o = optionalObject(options, 'options') as BuildEngineOptions;
  let inputSize: [number, number] | undefined;
  if (o.inputSize !== undefined) {
    if (!Array.isArray(o.inputSize) || o.inputSize.length !== 2) invalid('[height, width]', 'options.inputSize', o.inputSize);
    inputSize = [integerIn(o.inputSize[0], 'options.inputSize[0]', 14, 8192), integerIn(o.inputSize[1], 'options.inputSize[1]', 14, 8192)];
  }
  if (o.cacheDir !== undefined && typeof o.cacheDir !== 'string') invalid('a folder path', 'options.cacheDir', o.cacheDir);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('a function', 'options.onProgress', o.onProgress);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) invalid('an AbortSignal', 'options.signal', o.signal);
  const { inputSize: _size, cacheDir: _cache, onProgress, signal, ...engineOptions } = o;
  const trt = resolveTensorRTOptions(engineOptions);
  native();
  const resolved = resolveModel(model, o.cacheDir);
  const target = modelTarget(resolved, inputSize, trt.profile);
  return buildResult(await ensureEngine(target, trt, { onProgress, signal }));
}
