import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

let root: string | undefined;

/** The package's root folder (holds package.json, models/, build/, prebuilds/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'metric3d-trt') return (root = dir);
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`metric3d-trt: cannot locate the package root above ${__dirname}`);
    dir = up;
  }
}

/** The package version from package.json. */
export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
}

/**
 * Default cache folder for downloaded models and built engines:
 * `$METRIC3D_CACHE`, else `$XDG_CACHE_HOME/metric3d-trt`, else `~/.cache/metric3d-trt`
 * (`%LOCALAPPDATA%\metric3d-trt` on Windows).
 *
 * @example
 * ```ts
 * console.log(defaultCacheDir()); // e.g. /home/me/.cache/metric3d-trt
 * ```
 * @group Core
 */
export function defaultCacheDir(): string {
  const env = process.env;
  if (env.METRIC3D_CACHE) return env.METRIC3D_CACHE;
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'metric3d-trt');
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'metric3d-trt');
  return join(homedir(), '.cache', 'metric3d-trt');
}
