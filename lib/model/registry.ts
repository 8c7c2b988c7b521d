/**
 * The model registry (`models/registry.json`): names, download URLs, checksums,
 * contracts and input sizes of the known Metric3D v2 ONNX files.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';

import { InvalidArgumentError, ModelLoadError } from '../errors';
import { defaultCacheDir, packageRoot } from '../paths';
import type { Registry, ResolvedModel } from '../types';


let cached: Registry | undefined;

/**
 * The registry shipped with the package.
 *
 * @example
 * ```ts
 * for (const [name, e] of Object.entries(registry().models)) console.log(name, e.contract, e.url ?? '(export it yourself)');
 * ```
 * @group Core
 */
export function registry(): Registry {
  if (!cached) cached = JSON.parse(readFileSync(join(packageRoot(), 'models', 'registry.json'), 'utf8')) as Registry;
  return cached;
}


/**
 * Where a registry model lives on disk (it may not exist yet).
 *
 * @example
 * ```ts
 * modelPath('vit-small'); // e.g. /home/me/.cache/metric3d-trt/models/metric3d-vit-small/model.onnx
 * ```
 * @group Core
 */
export function modelPath(name: string, cacheDir = defaultCacheDir()): string {
  const entry = registry().models[name];
  if (!entry) throw new InvalidArgumentError(`unknown model '${name}'; known: ${Object.keys(registry().models).join(', ')}`);
  return entry.bundled ? join(packageRoot(), 'models', entry.file) : join(cacheDir, 'models', entry.file);
}

/**
 * Resolves a registry name or a file path, checking that the file exists.
 *
 * @example
 * ```ts
 * const { path, entry } = resolveModel('demo');
 * console.log(path, entry?.inputSize);
 * ```
 * @group Core
 */
export function resolveModel(model: string, cacheDir = defaultCacheDir()): ResolvedModel {
  const reg = registry();
  const entry = Object.prototype.hasOwnProperty.call(reg.models, model) ? reg.models[model] : undefined;
  if (entry) {
    const path = modelPath(model, cacheDir);
    if (!existsSync(path)) {
      const how = entry.url
        ? `Run \`npx metric3d download ${model}\` (or downloadModel('${model}')), or download ${entry.url}${entry.sha256 ? ` (sha256 ${entry.sha256})` : ''} to that path`
        : 'Export it as its registry description says and place it at that path';
      throw new ModelLoadError(`model '${model}' is not available: ${path} does not exist. ${how}, or pass model: '/path/to/model.onnx'.`);
    }
    return { name: model, path, entry };
  }
  const looksLikePath = model.endsWith('.onnx') || model.includes('/') || model.includes('\\') || isAbsolute(model);
  if (!looksLikePath) {
    throw new ModelLoadError(`unknown model '${model}': not a registry name (${Object.keys(reg.models).join(', ')}) and not an .onnx path`);
  }
  const path = resolve(model);
  if (!existsSync(path)) throw new ModelLoadError(`model file ${path} does not exist`);
  return { path };
}

/**
 * The registry's other export of the same network in another float type, by the
 * registry's naming: `<name>-fp16` is the float16 export of the float32 model `<name>`.
 * Undefined when `name` is not a registry model or the registry has no such sibling.
 *
 * @example
 * ```ts
 * registrySibling('vit-small', 'float16');      // 'vit-small-fp16'
 * registrySibling('vit-small-fp16', 'float32'); // 'vit-small'
 * registrySibling('vit-giant2', 'float16');     // undefined
 * ```
 */
export function registrySibling(name: string, type: 'float16' | 'float32'): string | undefined {
  const models = registry().models;
  const has = (n: string) => Object.prototype.hasOwnProperty.call(models, n);
  if (!has(name)) return undefined;
  const isHalf = name.endsWith('-fp16');
  if (type === 'float16') return !isHalf && has(`${name}-fp16`) ? `${name}-fp16` : undefined;
  const base = name.slice(0, -'-fp16'.length);
  return isHalf && has(base) ? base : undefined;
}

/**
 * Whether a model is a stand-in rather than Metric3D weights: a registry entry marked
 * `standIn` (the bundled `demo`), by name or by its file's path.
 *
 * @example
 * ```ts
 * isStandIn(modelPath('demo'));                      // true
 * isStandIn('/models/metric3d-vit-small/model.onnx'); // false
 * ```
 */
export function isStandIn(path: string, name?: string): boolean {
  const models = registry().models;
  if (name !== undefined && Object.prototype.hasOwnProperty.call(models, name)) return models[name].standIn === true;
  const abs = resolve(path);
  return Object.values(models).some((e) => e.standIn === true && e.bundled === true && join(packageRoot(), 'models', e.file) === abs);
}

/** A Triton model name from a registry name or a file path. */
export function tritonModelName(model: string, registryName?: string): string {
  const base = registryName ? `metric3d_${registryName}` : basename(model).replace(/\.onnx$/i, '');
  return base.replace(/[^A-Za-z0-9_-]+/g, '_');
}
