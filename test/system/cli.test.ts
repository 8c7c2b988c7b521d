// The metric3d command as a user runs it: real processes, exit codes, files on disk.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluate, photos, root } from '../helpers';

const bin = join(root, 'bin', 'metric3d.js');
const tmp = mkdtempSync(join(tmpdir(), 'metric3d-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, env: { ...process.env, METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10', ...env }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(path);
  const headerLen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLen).toString('latin1');
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number);
  const start = 10 + headerLen;
  return { shape, data: new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length)) };
}

const nyuK = ['--fx', '518.8579', '--fy', '519.46961', '--cx', '325.58245', '--cy', '253.73617'];

describe('metric3d --help and usage errors', () => {
  it('lists every command', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['download', 'predict', 'build-engine', 'info', 'bench']) expect(r.stdout).toContain(c);
  });

  it('has help for each command', async () => {
    for (const c of ['download', 'predict', 'build-engine', 'info']) {
      const r = await cli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: metric3d ${c}`);
    }
    expect((await cli(['predict', '--help'])).stdout).toContain('Exit codes: 0 all written, 1 some inputs failed');
  });

  it('exits 2 with a message on stderr for usage errors', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const noOut = await cli(['predict', 'x.jpg']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("required option '-o, --output <dir>' not specified");
    const badFx = await cli(['predict', 'x.jpg', '-o', tmp, '--fx', '-3']);
    expect(badFx.code).toBe(2);
    expect(badFx.stderr).toContain('--fx must be a positive number');
    const badFormat = await cli(['predict', 'x.jpg', '-o', tmp, '--formats', 'png16,gif']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("unknown format 'gif'");
  });
});

describe('metric3d predict', () => {
  const input = join(tmp, 'photos');
  const out = join(tmp, 'out');
  let run: Run;

  beforeAll(async () => {
    mkdirSync(input);
    copyFileSync(join(root, 'models', 'sample-nyu.jpg'), join(input, 'nyu.jpg'));
    copyFileSync(join(photos, 'kitti_0000000005.png'), join(input, 'kitti.png'));
    writeFileSync(join(input, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
    run = await cli(['predict', input, '-o', out, '--model', 'demo', ...nyuK, '-j', '2']);
  }, 60_000);

  it('writes every format for the good images, reports the bad one and exits 1', () => {
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: .*broken\.jpg: ERR_DECODE: cannot decode/);
    expect(run.stderr).toContain('2 of 3 images written');
    const files = readdirSync(out).sort();
    for (const stem of ['kitti', 'nyu']) {
      for (const suffix of ['.depth.png', '.depth.npy', '.depth.exr', '.depth-preview.png', '.normals.png', '.ply', '.json']) {
        expect(files).toContain(`${stem}${suffix}`);
      }
    }
    expect(files.some((f) => f.startsWith('broken'))).toBe(false);
  });

  it('writes a sidecar with intrinsics, their source, model, backend and timings', () => {
    const j = JSON.parse(readFileSync(join(out, 'nyu.json'), 'utf8'));
    expect(j.intrinsics).toEqual({ fx: 518.8579, fy: 519.46961, cx: 325.58245, cy: 253.73617 });
    expect(j.intrinsicsSource).toBe('caller');
    expect(j.model).toBe('demo');
    expect(j.backend).toBe('onnxruntime');
    expect([j.width, j.height]).toEqual([640, 480]);
    expect(j.depth.png16).toEqual({ file: 'nyu.depth.png', metresPerUnit: 1 / 256, invalid: 0 });
    expect(j.timings.total).toBeGreaterThan(0);
  });

  it('writes depth whose PNG, NPY and point cloud agree value by value', async () => {
    const j = JSON.parse(readFileSync(join(out, 'nyu.json'), 'utf8'));
    const npy = readNpy(join(out, 'nyu.depth.npy'));
    expect(npy.shape).toEqual([480, 640]);
    const { data, info } = await sharp(join(out, 'nyu.depth.png')).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([640, 480, 1]);
    const png = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
    let valid = 0;
    for (let i = 0; i < npy.data.length; i++) {
      const d = npy.data[i];
      const expected = d > 0 ? Math.min(65535, Math.round(d * 256)) : 0;
      expect(png[i]).toBe(expected);
      if (d > 0 && Number.isFinite(d)) valid++;
    }
    const ply = readFileSync(join(out, 'nyu.ply'));
    const geometry = new PLYLoader().parse(ply.buffer.slice(ply.byteOffset, ply.byteOffset + ply.length));
    const pos = geometry.getAttribute('position');
    expect(pos.count).toBe(valid);
    expect(j.pointcloud.points).toBe(valid);
    expect(geometry.getAttribute('color').count).toBe(valid);
    // The first point is the first valid pixel, back-projected with the sidecar intrinsics.
    const first = npy.data.findIndex((d) => d > 0);
    const u = first % 640;
    const v = Math.floor(first / 640);
    const z = npy.data[first];
    expect(pos.getZ(0)).toBeCloseTo(z, 5);
    expect(pos.getX(0)).toBeCloseTo(((u - j.intrinsics.cx) * z) / j.intrinsics.fx, 4);
    expect(pos.getY(0)).toBeCloseTo(((v - j.intrinsics.cy) * z) / j.intrinsics.fy, 4);
  });

  it('warns when the scale is a guess, and takes cameras from a JSON file or --fov', async () => {
    const guessOut = join(tmp, 'guess');
    const guess = await cli(['predict', join(input, 'kitti.png'), '-o', guessOut, '--model', 'demo', '--formats', 'json']);
    expect(guess.code).toBe(0);
    expect(guess.stderr).toMatch(/warning: .*kitti\.png: no intrinsics .*the metric scale is a guess/);
    expect(JSON.parse(readFileSync(join(guessOut, 'kitti.json'), 'utf8')).intrinsicsSource).toBe('default-fov');

    const camera = join(tmp, 'camera.json');
    writeFileSync(camera, JSON.stringify({ intrinsics: { fx: 721.5377, fy: 721.5377, cx: 609.5593, cy: 172.854 } }));
    const camOut = join(tmp, 'cam');
    const cam = await cli(['predict', join(input, 'kitti.png'), '-o', camOut, '--model', 'demo', '--camera', camera, '--formats', 'json']);
    expect(cam.code).toBe(0);
    expect(JSON.parse(readFileSync(join(camOut, 'kitti.json'), 'utf8')).intrinsics).toEqual({ fx: 721.5377, fy: 721.5377, cx: 609.5593, cy: 172.854 });

    const fovOut = join(tmp, 'fov');
    const fov = await cli(['predict', join(input, 'kitti.png'), '-o', fovOut, '--model', 'demo', '--fov', '90', '--formats', 'json']);
    expect(fov.code).toBe(0);
    const k = JSON.parse(readFileSync(join(fovOut, 'kitti.json'), 'utf8'));
    expect(k.intrinsicsSource).toBe('caller');
    expect(k.intrinsics.fx).toBeCloseTo(1242 / 2, 6);
  }, 60_000);

  it('expands quoted glob patterns and reports patterns that match nothing', async () => {
    const globOut = join(tmp, 'glob');
    const r = await cli(['predict', `${input}/*.png`, `${input}/*.webp`, '-o', globOut, '--model', 'demo', '--formats', 'json', ...nyuK]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*\*\.webp: no such file, folder or matching image/);
    expect(readdirSync(globOut)).toEqual(['kitti.json']);
  }, 60_000);
});

describe('metric3d eval', () => {
  it('prints the metric table, writes the JSON report (same numbers as evaluate()) and exits 0', async () => {
    const json = join(tmp, 'eval.json');
    const r = await cli(['eval', photos, '--model', 'demo', '--max-depth', '80', '--crop', 'garg', '--json', json, '--quiet']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^subset +images +failed +AbsRel +SqRel +RMSE +RMSElog +log10 +d1 +d2 +d3$/);
    expect(lines.map((l) => l.split(/ +/)[0])).toEqual(['subset', 'kitti', 'nyu', expect.stringMatching(/^-+$/), 'overall']);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const direct = await evaluate(photos, { model: 'demo', maxDepth: 80, crop: 'garg' });
    expect(report.overall.images).toBe(2);
    expect(report.overall.depth).toEqual(JSON.parse(JSON.stringify(direct.overall.depth)));
    expect(lines[4]).toContain(direct.overall.depth!.absRel.toFixed(4));
  }, 60_000);

  it('exits 1 when an image fails and 3 when the dataset cannot be read', async () => {
    const ds = join(tmp, 'dataset');
    mkdirSync(ds);
    for (const f of readdirSync(photos)) copyFileSync(join(photos, f), join(ds, f));
    writeFileSync(join(ds, 'nyu_00000.jpg'), Buffer.from('not a jpeg'));
    const r = await cli(['eval', ds, '--model', 'demo', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*nyu_00000\.jpg: .*Decode/);
    expect(r.stdout).toMatch(/^nyu +1 +1 /m);
    const missing = await cli(['eval', join(tmp, 'no-such-dataset'), '--model', 'demo', '--quiet']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('ERR_INVALID_ARGUMENT');
  }, 60_000);
});

describe('metric3d info and build-engine', () => {
  it('info --json reports backends and the cache', async () => {
    const cache = join(tmp, 'cache');
    const r = await cli(['info', '--json', '--cache-dir', cache]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.backends.onnxruntime.available).toBe(true);
    expect(info.backends.tensorrt.available).toBe(false);
    expect(info.backends.tensorrt.reason).toContain('/nonexistent/libnvinfer.so.10');
    expect(info.cache.dir).toBe(cache);
    expect(info.cache.models).toEqual([]);
    const text = await cli(['info', '--cache-dir', cache]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/tensorrt +no +TensorRT not found/);
  });

  it('build-engine says clearly that TensorRT is absent and exits 3', async () => {
    const r = await cli(['build-engine', 'demo']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error \[ERR_BACKEND_UNAVAILABLE\]: tensorrt backend not available: TensorRT not found/);
  });
});
