/**
 * Detection of a Metric3D v2 ONNX contract from the graph's inputs and outputs,
 * cross-checked against the registry (pipeline.md section 2).
 * @module
 */
import { ModelContractError } from '../errors';
import type { ContractKind, ContractSpec, ModelContract, RegistryEntry, ValueInfo } from '../types';
import { DEFAULT_INPUT_SIZE, PATCH } from './limits';


function isStatic(d: number | string | undefined): d is number {
  return typeof d === 'number' && d > 0;
}

function describeGraph(inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): string {
  const f = (v: ValueInfo) => `${v.name}: ${v.type}[${v.shape.join(', ')}]`;
  return `inputs {${inputs.map(f).join('; ')}} outputs {${outputs.map(f).join('; ')}}`;
}

/**
 * Detects the contract of a graph, or throws ModelContractError saying why it fits neither.
 *
 * @example
 * ```ts
 * const c = detectContract(
 *   [{ name: 'pixel_values', type: 'float32', shape: [1, 3, 'height', 'width'] }],
 *   [{ name: 'predicted_depth', type: 'float32', shape: [1, 'height', 'width'] },
 *    { name: 'predicted_normal', type: 'float32', shape: [1, 3, 'height', 'width'] }],
 *   registry().contracts,
 * );
 * c.kind; // 'community'
 * ```
 * @group Core
 */
export function detectContract(
  inputs: readonly ValueInfo[],
  outputs: readonly ValueInfo[],
  specs: Record<ContractKind, ContractSpec>,
): ModelContract {
  const graph = describeGraph(inputs, outputs);
  const fail = (why: string): never => {
    throw new ModelContractError(
      `the ONNX graph fits neither Metric3D v2 contract (upstream: '${specs.upstream.input}' -> '${specs.upstream.outputs.depth}'; ` +
        `community: '${specs.community.input}' -> depth, normal, confidence): ${why}. Graph: ${graph}`,
    );
  };
  if (inputs.length !== 1) fail(`expected exactly one input, found ${inputs.length}`);
  const input = inputs[0];
  const kind: ContractKind | undefined =
    input.name === specs.upstream.input ? 'upstream' : input.name === specs.community.input ? 'community' : undefined;
  if (!kind) fail(`unknown input name '${input.name}'`);
  const spec = specs[kind!];
  if (input.type !== 'float32' && input.type !== 'float16') fail(`input type ${input.type} is not float32 or float16`);
  const s = input.shape;
  if (s.length !== 4) fail(`input rank ${s.length}, expected 4 (NCHW)`);
  if (isStatic(s[0]) && s[0] !== 1) fail(`batch dimension ${s[0]}, expected 1`);
  if (s[1] !== 3) fail(`channel dimension ${String(s[1])}, expected 3`);
  const fixed = isStatic(s[2]) && isStatic(s[3]);
  if (!fixed && (isStatic(s[2]) || isStatic(s[3]))) fail('input height and width must both be fixed or both dynamic');

  const names = outputs.map((o) => o.name);
  let depth: string | undefined;
  let normal: string | undefined;
  let confidence: string | undefined;
  if (kind === 'upstream') {
    depth = names.includes(spec.outputs.depth) ? spec.outputs.depth : undefined;
    if (!depth) fail(`output '${spec.outputs.depth}' is missing`);
  } else {
    // Community exports: read the names from the graph; fall back on the usual words.
    const has = (n?: string) => (n && names.includes(n) ? n : undefined);
    depth = has(spec.outputs.depth) ?? names.find((n) => /depth/i.test(n));
    normal =
      has(spec.outputs.normal) ??
      names.find((n) => /normal/i.test(n) && !/conf/i.test(n)) ??
      names.find((n) => /normal/i.test(n)); // one output holding normals and confidence
    confidence = has(spec.outputs.confidence) ?? names.find((n) => /conf/i.test(n) && n !== normal);
    if (!depth) fail('no depth output');
    if (!normal) fail('no normal output');
  }
  for (const name of [depth, normal, confidence]) {
    if (!name) continue;
    const o = outputs.find((v) => v.name === name)!;
    if (o.type !== 'float32' && o.type !== 'float16') fail(`output '${name}' has type ${o.type}`);
  }
  return {
    kind: kind!,
    input: input.name,
    inputType: input.type as 'float32' | 'float16',
    normaliseInGraph: spec.normaliseInGraph,
    dynamicSize: !fixed,
    fixedSize: fixed ? [s[2] as number, s[3] as number] : undefined,
    outputs: { depth: depth!, normal, confidence },
  };
}

/** Checks a detected contract against a registry entry or an explicitly expected kind. */
function crossCheck(contract: ModelContract, expected: { entry?: RegistryEntry; kind?: ContractKind; label: string }): void {
  const want = expected.kind ?? expected.entry?.contract;
  if (want && want !== contract.kind) {
    throw new ModelContractError(
      `${expected.label} should have the ${want} contract, but its graph has the ${contract.kind} contract (input '${contract.input}')`,
    );
  }
  const size = expected.entry?.inputSize;
  if (size && contract.fixedSize && (contract.fixedSize[0] !== size[0] || contract.fixedSize[1] !== size[1])) {
    throw new ModelContractError(
      `${expected.label} should take ${size[0]}x${size[1]} input, but its graph is fixed at ${contract.fixedSize[0]}x${contract.fixedSize[1]}`,
    );
  }
}

/** Chooses the model input [height, width]: the graph's fixed size, else the requested or default size. */
function chooseInputSize(contract: ModelContract, requested: [number, number] | undefined, fallback: [number, number]): [number, number] {
  if (contract.fixedSize) {
    if (requested && (requested[0] !== contract.fixedSize[0] || requested[1] !== contract.fixedSize[1])) {
      throw new ModelContractError(
        `inputSize ${requested[0]}x${requested[1]} was requested but the graph is fixed at ${contract.fixedSize[0]}x${contract.fixedSize[1]}`,
      );
    }
    return contract.fixedSize;
  }
  const size = requested ?? fallback;
  if (size[0] % PATCH !== 0 || size[1] % PATCH !== 0) {
    throw new ModelContractError(`inputSize ${size[0]}x${size[1]} must be multiples of ${PATCH} (ViT patch size)`);
  }
  return size;
}

/**
 * The model input [height, width] of a loaded graph: its contract checked against the
 * registry entry (and an explicitly expected kind), then the graph's fixed size, the
 * requested size, the entry's size or the default.
 */
export function modelInputSize(
  contract: ModelContract,
  expected: { entry?: RegistryEntry; kind?: ContractKind; label: string; inputSize?: [number, number] },
): [number, number] {
  crossCheck(contract, expected);
  return chooseInputSize(contract, expected.inputSize, expected.entry?.inputSize ?? [...DEFAULT_INPUT_SIZE]);
}
