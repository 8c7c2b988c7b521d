/**
 * `buildEngine`: builds (or finds in the cache) the TensorRT engine of a model ahead
 * of time, e.g. at deploy time, so that services start without a build.
 * @module
 */
import { buildResult, ensureEngine, prepareEngine } from '../backends/tensorrt/engine';
import { resolveTensorRTOptions } from '../backends/tensorrt/options';
import { native } from '../native/binding';
import type { BuildEngineOptions, EngineBuildResult } from '../types';
import { invalid, optionalFunction, optionalInputSize, optionalObject, optionalSignal } from '../validate';

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
 * @group Deployment
 */
export async function buildEngine(model: string, options: BuildEngineOptions = {}): Promise<EngineBuildResult> {
  if (typeof model !== 'string' || model.length === 0) invalid('a model name or .onnx path', 'model', model);
  const o = optionalObject(options, 'options') as BuildEngineOptions;
  const inputSize = optionalInputSize(o.inputSize, 'options.inputSize');
  if (o.cacheDir !== undefined && typeof o.cacheDir !== 'string') invalid('a folder path', 'options.cacheDir', o.cacheDir);
  const onProgress = optionalFunction<NonNullable<BuildEngineOptions['onProgress']>>(o.onProgress, 'options.onProgress');
  const signal = optionalSignal(o.signal, 'options.signal');
  const { inputSize: _size, cacheDir: _cache, onProgress: _progress, signal: _signal, ...engineOptions } = o;
  const trt = resolveTensorRTOptions(engineOptions);
  native();
  const p = await prepareEngine(model, trt, { cacheDir: o.cacheDir, inputSize, onProgress, signal });
  return buildResult(await ensureEngine(p.target, p.options, { onProgress, signal }));
}
