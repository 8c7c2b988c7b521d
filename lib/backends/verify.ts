/**
 * The `tensorrt.verify` parity check: depth of a TensorRT engine against onnxruntime's
 * on a bundled photo.
 * @internal
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { VerifyError } from '../errors';
import { depthAgreement } from '../eval/metrics';
import { registry } from '../model/registry';
import { packageRoot } from '../paths';
import { predict, type PipelineContext } from '../pipeline';
import type { Intrinsics, Verification } from '../types';
import { hostBackend } from './host';
import { createOnnxRuntimeBackend } from './onnxruntime';
import { modelInfo, type Selection } from './select';

/** The bundled photo and its intrinsics used by the parity check. */
export function verificationImage(): { path: string; intrinsics: Intrinsics } {
  const dir = join(packageRoot(), 'models');
  const intrinsics = JSON.parse(readFileSync(join(dir, 'sample-nyu.json'), 'utf8')).intrinsics as Intrinsics;
  return { path: join(dir, 'sample-nyu.jpg'), intrinsics };
}

/** Depth of the selected engine against onnxruntime's on the bundled photo; throws VerifyError past `maxAbsRel`. */
export async function verifyEngine(s: Selection, maxAbsRel: number | undefined, threads: number | undefined): Promise<Verification> {
  const sample = verificationImage();
  const reference = hostBackend(await createOnnxRuntimeBackend(s.model.path, registry().contracts, threads));
  let v: Verification;
  try {
    const opts = { intrinsics: sample.intrinsics, normals: false };
    const refCtx: PipelineContext = { ...s, backend: reference, model: modelInfo(reference.contract, s.model.inputSize, s.model.path) };
    const mine = await predict(s, sample.path, opts);
    const ref = await predict(refCtx, sample.path, opts);
    const agreement = depthAgreement(mine.result.depth, ref.result.depth);
    v = { ...agreement, reference: 'onnxruntime', image: sample.path, precision: s.backend.engine?.precision ?? s.backend.name };
  } finally {
    await reference.dispose();
  }
  if (maxAbsRel !== undefined && !(v.absRel <= maxAbsRel)) {
    throw new VerifyError(
      `the ${v.precision} engine's depth differs from onnxruntime's by AbsRel ${v.absRel.toFixed(4)} ` +
        `(limit ${maxAbsRel}) on ${v.image}; rebuild with precision 'fp32' or check the export`,
    );
  }
  return v;
}
