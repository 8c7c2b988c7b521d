/**
 * The reference input of the `tensorrt.verify` parity check.
 * @internal
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../paths';
import type { Intrinsics } from '../types';

/** The bundled photo and its intrinsics used by the parity check. */
export function verificationImage(): { path: string; intrinsics: Intrinsics } {
  const dir = join(packageRoot(), 'models');
  const intrinsics = JSON.parse(readFileSync(join(dir, 'sample-nyu.json'), 'utf8')).intrinsics as Intrinsics;
  return { path: join(dir, 'sample-nyu.jpg'), intrinsics };
}
