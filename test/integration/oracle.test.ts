// End-to-end through load, decode, preprocess, inference, postprocess and back-projection
// with oracle models whose canonical depth is R + G / 256 of the input pixels: a
// synthetic picture of a known scene must come out at the right metres and points.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOracle, Metric3D } from '../helpers';

// Scene: a camera 1.5 m above flat ground looking at a wall 8 m away.
const W = 1280;
const H = 720;
const K = { fx: 900, fy: 900, cx: 640, cy: 360 };
const CAMERA_HEIGHT = 1.5;
const WALL = 8;
const JUNCTION = K.cy + (CAMERA_HEIGHT * K.fy) / WALL; // image row where the ground meets the wall

/** True metric depth of pixel row v (the scene does not vary along a row). */
function trueDepth(v: number): number {
  return v > JUNCTION ? (CAMERA_HEIGHT * K.fy) / (v - K.cy) : WALL;
}

/** The R and G bytes of row v: canonical depth encoded as R + G / 256 for a model input size. */
function encodeRow(v: number, inputHeight: number, inputWidth: number): [number, number] {
  const s = Math.min(inputHeight / H, inputWidth / W); // pipeline.md 1.1
  const fxScaled = K.fx * s; // pipeline.md 1.5
  const canonical = (trueDepth(v) * 1000) / fxScaled;
  const r = Math.floor(canonical);
  const g = Math.round((canonical - r) * 256);
  return g === 256 ? [r + 1, 0] : [r, g];
}

/** Renders the scene as the oracle's input: canonical depth encoded as R + G / 256, normals' cue in B. */
async function renderScene(inputHeight: number, inputWidth: number): Promise<Buffer> {
  const px = Buffer.alloc(W * H * 3);
  for (let v = 0; v < H; v++) {
    const [r, g] = encodeRow(v, inputHeight, inputWidth);
    const b = v > JUNCTION ? 255 : 128;
    for (let u = 0; u < W; u++) {
      const i = (v * W + u) * 3;
      px[i] = r;
      px[i + 1] = g;
      px[i + 2] = b;
    }
  }
  return sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
}

/** Rows far enough from the wall / ground junction that bilinear resampling of the kink does not reach them. */
const awayFromJunction = (v: number) => Math.abs(v - JUNCTION) > 3;

/**
 * Rows also far from a carry of the encoding (R steps by one while G wraps from ~255 to
 * ~0). The pre-processing resizes R and G as upstream does, each rounded to uint8
 * (pipeline.md 1.2), so an output row that blends both sides of a carry reads R rounded
 * with G averaged: up to one whole canonical unit off there, an artefact of this
 * encoding, not of the pipeline. Everywhere else the 1% bounds below hold.
 */
function steadyRows(inputHeight: number, inputWidth: number): (v: number) => boolean {
  const r = Array.from({ length: H }, (_, v) => encodeRow(v, inputHeight, inputWidth)[0]);
  return (v: number) => {
    if (!awayFromJunction(v)) return false;
    for (let d = Math.max(1, v - 3); d <= Math.min(H - 1, v + 4); d++) if (r[d] !== r[d - 1]) return false;
    return true;
  };
}
const steady = steadyRows(616, 1064);

describe('oracle model, upstream contract', () => {
  let m: Metric3D;
  let png: Buffer;
  beforeAll(async () => {
    m = await loadOracle('upstream', { contract: 'upstream' });
    png = await renderScene(616, 1064);
  });
  afterAll(() => m.dispose());

  it('loads with the upstream contract and a fixed 616x1064 input', () => {
    expect(m.model).toMatchObject({ contract: 'upstream', inputSize: [616, 1064], dynamicSize: false, hasNormals: false });
    expect(m.backend).toBe('onnxruntime');
  });

  it('recovers the scene depth in metres within 1%', async () => {
    const r = await m.predict(png, { intrinsics: K });
    expect([r.width, r.height]).toEqual([W, H]);
    expect(r.intrinsicsSource).toBe('caller');
    expect(r.normals).toBeUndefined();
    let worst = 0;
    for (let v = 0; v < H; v++) {
      if (!steady(v)) continue;
      const z = trueDepth(v);
      for (let u = 0; u < W; u += 7) worst = Math.max(worst, Math.abs(r.depth[v * W + u] - z) / z);
    }
    expect(worst).toBeLessThan(0.01);
    expect(r.depth[100 * W + 640]).toBeCloseTo(WALL, 1);
  });

  it('back-projects to the right 3D points: the wall at Z = 8 m, the ground at Y = 1.5 m', async () => {
    const c = await m.pointcloud(png, { intrinsics: K, organised: true });
    expect(c.organised).toBe(true);
    expect(c.points.length).toBe(W * H * 3);
    let worstWall = 0;
    let worstGround = 0;
    let worstX = 0;
    for (let v = 0; v < H; v += 3) {
      if (!steady(v)) continue;
      for (let u = 0; u < W; u += 11) {
        const [x, y, z] = c.points.subarray((v * W + u) * 3, (v * W + u) * 3 + 3);
        if (v < JUNCTION) worstWall = Math.max(worstWall, Math.abs(z - WALL) / WALL);
        else worstGround = Math.max(worstGround, Math.abs(y - CAMERA_HEIGHT) / CAMERA_HEIGHT);
        const xTrue = ((u - K.cx) * trueDepth(v)) / K.fx;
        worstX = Math.max(worstX, Math.abs(x - xTrue) / Math.max(1, Math.abs(xTrue)));
      }
    }
    expect(worstWall).toBeLessThan(0.01);
    expect(worstGround).toBeLessThan(0.01);
    expect(worstX).toBeLessThan(0.01);
    // Colours come from the decoded image: B = 128 on the wall, 255 on the ground.
    expect(c.colours![(100 * W + 5) * 3 + 2]).toBe(128);
    expect(c.colours![(700 * W + 5) * 3 + 2]).toBe(255);
  });

  it('a dense cloud keeps every pixel of this scene (all depths valid)', async () => {
    const c = await m.pointcloud(png, { intrinsics: K });
    expect(c.organised).toBe(false);
    expect(c.count).toBe(W * H);
    expect(c.indices![c.count - 1]).toBe(W * H - 1);
    const far = await m.pointcloud(png, { intrinsics: K, minDepth: 7.9 });
    // Only the wall (8 m) and the ground just in front of it remain.
    for (let i = 0; i < far.count; i++) expect(far.points[i * 3 + 2]).toBeGreaterThanOrEqual(7.9);
    expect(far.count).toBeGreaterThanOrEqual(Math.floor(JUNCTION) * W);
    expect(far.count).toBeLessThan(W * H);
  });

  it('a wrong focal length scales the metres proportionally', async () => {
    const r = await m.predict(png, { intrinsics: { ...K, fx: K.fx * 2 } });
    expect(r.depth[100 * W + 640] / WALL).toBeCloseTo(2, 2);
  });
});

describe('oracle model, community contract (dynamic size, normals)', () => {
  let m: Metric3D;
  beforeAll(async () => {
    m = await loadOracle('community', { contract: 'community' });
  });
  afterAll(() => m.dispose());

  it('detects the community contract with normals', () => {
    expect(m.model).toMatchObject({ contract: 'community', dynamicSize: true, hasNormals: true, inputSize: [616, 1064] });
  });

  it('recovers metres, unit normals and confidence', async () => {
    const png = await renderScene(616, 1064);
    const r = await m.predict(png, { intrinsics: K });
    const wallN = [0, -1, 0.5].map((x) => x / Math.hypot(0, 1, 0.5));
    const gN = [127 / 128, -1, 0.5];
    const groundN = gN.map((x) => x / Math.hypot(...gN));
    let worstDepth = 0;
    let worstNormal = 0;
    for (let v = 0; v < H; v += 2) {
      if (!steady(v)) continue;
      const want = v < JUNCTION ? wallN : groundN;
      for (let u = 0; u < W; u += 13) {
        const p = v * W + u;
        worstDepth = Math.max(worstDepth, Math.abs(r.depth[p] - trueDepth(v)) / trueDepth(v));
        for (let c = 0; c < 3; c++) worstNormal = Math.max(worstNormal, Math.abs(r.normals![p * 3 + c] - want[c]));
      }
    }
    expect(worstDepth).toBeLessThan(0.01);
    expect(worstNormal).toBeLessThan(1e-5);
    expect(r.normalConfidence![100 * W]).toBeCloseTo(12.8, 4);
    expect(r.normalConfidence![700 * W]).toBeCloseTo(25.5, 4);
  });

  it('a smaller model input still gives the right metres', async () => {
    const small = await loadOracle('community', { inputSize: [308, 532] });
    try {
      const png = await renderScene(308, 532);
      const r = await small.predict(png, { intrinsics: K });
      expect(r.letterbox).toMatchObject({ inputHeight: 308, inputWidth: 532 });
      expect(r.depth[100 * W + 640]).toBeCloseTo(WALL, 1);
      expect(Math.abs(r.depth[650 * W + 640] - trueDepth(650)) / trueDepth(650)).toBeLessThan(0.01);
    } finally {
      await small.dispose();
    }
  });

  it('normals can be switched off', async () => {
    const png = await renderScene(616, 1064);
    const r = await m.predict(png, { intrinsics: K, normals: false });
    expect(r.normals).toBeUndefined();
    expect(r.normalConfidence).toBeUndefined();
  });
});
