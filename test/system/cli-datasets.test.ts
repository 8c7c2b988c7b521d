// The metric3d command on dataset folders and the points users meet first: the model is
// required and the stand-in says so, folder trees kept under -o, ground-truth PNGs not
// taken for photos, a dataset cameras.json as the camera file, brace globs, fixed preview
// names, only the work the formats need, Triton from the command line, and the usage
// errors and messages of bench, demo, info and export-triton. Real processes of
// bin/metric3d.js, files on disk.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cameras, photos, pngChunk, root, runCli as cli } from '../helpers';
import { startKServe } from '../support/kserve-server.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-cli-ds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const nyuK = ['--fx', '518.8579', '--fy', '519.46961', '--cx', '325.58245', '--cy', '253.73617'];
const sample = join(root, 'models', 'sample-nyu.jpg');

/** Every file under a folder, '/'-separated and sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) visit(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  visit(dir);
  return out.sort();
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const standInLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('STAND-IN: '));

// A dataset folder as `metric3d eval` reads it, with a photo in two sub-folders under the same name:
//   cameras.json, kitti_0000000005.png, kitti_0000000005_depth.png,
//   a/nyu_00000.jpg, a/nyu_00000_depth.png, b/nyu_00000.jpg
const ds = join(tmp, 'dataset');
beforeAll(() => {
  mkdirSync(join(ds, 'a'), { recursive: true });
  mkdirSync(join(ds, 'b'));
  copyFileSync(join(photos, 'cameras.json'), join(ds, 'cameras.json'));
  copyFileSync(join(photos, 'kitti_0000000005.png'), join(ds, 'kitti_0000000005.png'));
  copyFileSync(join(photos, 'kitti_0000000005_depth.png'), join(ds, 'kitti_0000000005_depth.png'));
  copyFileSync(join(photos, 'nyu_00000.jpg'), join(ds, 'a', 'nyu_00000.jpg'));
  copyFileSync(join(photos, 'nyu_00000_depth.png'), join(ds, 'a', 'nyu_00000_depth.png'));
  copyFileSync(join(photos, 'nyu_00000.jpg'), join(ds, 'b', 'nyu_00000.jpg'));
});

describe('a model is required; the stand-in runs only when named, and says so', () => {
  it('predict and eval without --model are usage errors (exit 2)', async () => {
    const p = await cli(['predict', sample, '-o', join(tmp, 'nomodel')]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("required option '-m, --model <model>' not specified");
    expect(existsSync(join(tmp, 'nomodel'))).toBe(false);
    const e = await cli(['eval', photos]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("required option '-m, --model <model>' not specified");
  });

  it('--model demo prints one STAND-IN line and marks the sidecar and the preview', async () => {
    const out = join(tmp, 'standin');
    const r = await cli(['predict', sample, '-o', out, '--model', 'demo', ...nyuK, '-f', 'json,preview', '-q']);
    expect(r.code).toBe(0);
    expect(standInLines(r.stderr)).toHaveLength(1);
    expect(standInLines(r.stderr)[0]).toContain("model 'demo' is the bundled stand-in");
    const side = json(join(out, 'sample-nyu.json'));
    expect(side.standIn).toBe(true);
    expect(side.model).toBe('demo');
    const { pngText } = await import('../../dist/cjs/io/writers/png-text.js');
    expect(pngText(readFileSync(join(out, 'sample-nyu.depth-preview.png')))['metric3d:stand-in']).toMatch(/^true: /);
  }, 60_000);

  it('a registry model that is not downloaded names the download command (exit 3)', async () => {
    const cache = join(tmp, 'empty-cache');
    const r = await cli(['predict', sample, '-o', join(tmp, 'vs'), '--model', 'vit-small', '--cache-dir', cache]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`run \`npx metric3d download vit-small --cache-dir ${cache}\``);
    expect(r.stderr).toContain('ERR_MODEL_LOAD');
  });
});

describe('predict on a dataset folder', () => {
  it('-r keeps the folder tree under -o and skips 16-bit ground-truth PNGs; json alone makes no cloud and no normals', async () => {
    const out = join(tmp, 'tree');
    const r = await cli(['predict', ds, '-r', '-o', out, '--model', 'demo', ...nyuK, '-f', 'json']);
    expect(r.code).toBe(0);
    expect(tree(out)).toEqual(['a/nyu_00000.json', 'b/nyu_00000.json', 'kitti_0000000005.json']);
    expect(r.stderr).toMatch(/note: skipped 2 16-bit single-channel PNG\(s\)/);
    expect(r.stderr).toContain('3 of 3 images written');
    expect(json(join(out, 'b', 'nyu_00000.json')).image).toBe(join(ds, 'b', 'nyu_00000.jpg'));
    const k = json(join(out, 'kitti_0000000005.json'));
    expect(k.timings.backproject).toBeUndefined();
    expect(k.pointcloud).toBeUndefined();
    expect(k.normals).toBeUndefined();
    expect(k.depth).toEqual({});
  }, 60_000);

  it('brace globs; --include-grey16 takes the 16-bit PNGs as photos', async () => {
    const out = join(tmp, 'brace');
    const r = await cli(['predict', `${ds}/**/*.{jpg,png}`, '-o', out, '--model', 'demo', ...nyuK, '--include-grey16', '-f', 'json', '-j', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('skipped');
    expect(tree(out)).toEqual(['a/nyu_00000.json', 'a/nyu_00000_depth.json', 'b/nyu_00000.json', 'kitti_0000000005.json', 'kitti_0000000005_depth.json']);
  }, 90_000);

  it("--camera takes the dataset's cameras.json: each image the camera of its subset, or of --subset", async () => {
    const out = join(tmp, 'cams');
    const cams = join(ds, 'cameras.json');
    const r = await cli(['predict', ds, '-r', '-o', out, '--model', 'demo', '--camera', cams, '-f', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('warning');
    for (const f of ['a/nyu_00000.json', 'b/nyu_00000.json']) {
      const s = json(join(out, f));
      expect(s.intrinsics).toEqual(cameras.nyu.intrinsics);
      expect(s.intrinsicsSource).toBe('caller');
      expect(s.cameraSubset).toBe('nyu');
    }
    const k = json(join(out, 'kitti_0000000005.json'));
    expect(k.intrinsics).toEqual(cameras.kitti.intrinsics);
    expect(k.cameraSubset).toBe('kitti');
    const forced = join(tmp, 'forced');
    const f = await cli(['predict', join(ds, 'a', 'nyu_00000.jpg'), '-o', forced, '--model', 'demo', '--camera', cams, '--subset', 'kitti', '-f', 'json']);
    expect(f.code).toBe(0);
    expect(json(join(forced, 'nyu_00000.json'))).toMatchObject({ intrinsics: cameras.kitti.intrinsics, cameraSubset: 'kitti' });
  }, 90_000);

  it('an image that fits no subset, an unknown subset and --subset without a dataset file are usage errors', async () => {
    const other = join(tmp, 'other.jpg');
    copyFileSync(sample, other);
    const cams = join(ds, 'cameras.json');
    const none = await cli(['predict', other, '-o', join(tmp, 'x1'), '--model', 'demo', '--camera', cams]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/1 image\(s\) fit no single subset's "rgb" template of .*cameras\.json: .*other\.jpg; name the subset with --subset/);
    const unknown = await cli(['predict', other, '-o', join(tmp, 'x2'), '--model', 'demo', '--camera', cams, '--subset', 'eth3d']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no subset 'eth3d'");
    expect(unknown.stderr).toContain('kitti, nyu');
    const noFile = await cli(['predict', other, '-o', join(tmp, 'x3'), '--model', 'demo', '--subset', 'nyu']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('--subset needs --camera with a dataset cameras.json');
  });
});

describe('formats', () => {
  it('--formats all writes every file; the preview has a fixed name, its range in the sidecar and in PNG text', async () => {
    const out = join(tmp, 'all');
    const r = await cli(['predict', sample, '-o', out, '--model', 'demo', ...nyuK, '-f', 'all', '-q']);
    expect(r.code).toBe(0);
    expect(tree(out)).toEqual(
      ['depth.exr', 'depth.npy', 'depth.png', 'depth-preview.png', 'json', 'normals.png', 'ply'].map((s) => `sample-nyu.${s}`).sort(),
    );
    const side = json(join(out, 'sample-nyu.json'));
    expect(side.depth.preview).toMatchObject({ file: 'sample-nyu.depth-preview.png', colourMap: 'turbo' });
    expect(side.depth.preview.max).toBeGreaterThan(side.depth.preview.min);
    const png = readFileSync(join(out, 'sample-nyu.depth-preview.png'));
    const { pngText } = await import('../../dist/cjs/io/writers/png-text.js');
    const text = pngText(png);
    expect(Number(text['metric3d:depth-min-m'])).toBe(side.depth.preview.min);
    expect(Number(text['metric3d:depth-max-m'])).toBe(side.depth.preview.max);
    // The chunk is well-formed (CRC as an independent encoder writes it), and the PNG still decodes.
    const chunk = pngChunk('tEXt', Buffer.from(`metric3d:depth-min-m\0${text['metric3d:depth-min-m']}`, 'latin1'));
    expect(png.includes(chunk)).toBe(true);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([640, 480]);
    // With ply the cloud is made: the back-projection is timed.
    expect(side.timings.backproject).toBeGreaterThanOrEqual(0);
    expect(side.pointcloud.points).toBeGreaterThan(0);
  }, 60_000);
});

describe('usage errors and messages', () => {
  it('bench --help and demo --help are the command help (exit 0); bad bench options exit 2', async () => {
    const bench = await cli(['bench', '--help']);
    expect(bench.code).toBe(0);
    expect(bench.stderr).toBe('');
    expect(bench.stdout).toContain('Usage: metric3d bench [options]');
    expect(bench.stdout).toContain('--iterations <n>');
    const demo = await cli(['demo', '--help']);
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain('Usage: metric3d demo [options] [image]');
    expect(demo.stdout).not.toContain('npm run demo');
    const bad = await cli(['bench', '--iterations', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--iterations must be an integer');
    const unknown = await cli(['bench', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate'");
  });

  it('--fov out of (0, 180) and --fx with --fov exit 2 before anything runs', async () => {
    const wide = await cli(['predict', sample, '-o', join(tmp, 'fov'), '--model', 'demo', '--fov', '200']);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toContain('--fov must be a field of view in degrees between 0 and 180');
    const both = await cli(['predict', sample, '-o', join(tmp, 'fov'), '--model', 'demo', '--fx', '500', '--fov', '60']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --fx (with --fy, --cx, --cy) or --fov, not both');
    expect(existsSync(join(tmp, 'fov'))).toBe(false);
  });

  it('inputs with the same stem get distinct outputs: a.jpg, a.png and a-2.jpg write three sidecars', async () => {
    const dir = join(tmp, 'stems');
    mkdirSync(dir);
    copyFileSync(sample, join(dir, 'a.jpg'));
    copyFileSync(sample, join(dir, 'a-2.jpg'));
    await sharp(sample).png().toFile(join(dir, 'a.png'));
    const out = join(tmp, 'stems-out');
    const r = await cli(['predict', join(dir, 'a.jpg'), join(dir, 'a.png'), join(dir, 'a-2.jpg'), '-o', out, '--model', 'demo', ...nyuK, '-f', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('3 of 3 images written');
    const files = tree(out);
    expect(files).toHaveLength(3);
    expect(new Set(files.map((f) => json(join(out, f)).image))).toEqual(new Set(['a.jpg', 'a.png', 'a-2.jpg'].map((f) => join(dir, f))));
  }, 60_000);

  it('a missing input is counted apart from the images: "1 of 1 images written; 1 input(s) not found", exit 1', async () => {
    const out = join(tmp, 'missing');
    const r = await cli(['predict', sample, join(tmp, 'no-such.jpg'), '-o', out, '--model', 'demo', ...nyuK, '-f', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*no-such\.jpg: no such file, folder or matching image/);
    expect(r.stderr).toMatch(/1 of 1 images written to .* in [0-9.]+ s; 1 input\(s\) not found\n/);
    expect(r.stderr).not.toContain('failed');
    expect(tree(out)).toEqual(['sample-nyu.json']);
  }, 60_000);

  it('info --cache-dir shows <dir>/engines and lists triton in the text form', async () => {
    const cache = join(tmp, 'info-cache');
    const env = { METRIC3D_ENGINE_CACHE: undefined };
    const r = await cli(['info', '--json', '--cache-dir', cache], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).cache).toMatchObject({ dir: cache, engineDir: join(cache, 'engines'), engines: [] });
    const text = await cli(['info', '--cache-dir', cache], env);
    expect(text.stdout).toContain(`engines ${join(cache, 'engines')}\n`);
    expect(text.stdout).toMatch(/\n {2}triton +yes +/);
  });

  it('export-triton into an existing model folder says --overwrite', async () => {
    const repo = join(tmp, 'repo');
    const first = await cli(['export-triton', 'demo', repo, '-q']);
    expect(first.code).toBe(0);
    const again = await cli(['export-triton', 'demo', repo, '-q']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`${join(repo, 'metric3d_demo')} exists; pass --overwrite to replace it`);
    expect(again.stderr).not.toContain('overwrite: true');
    expect((await cli(['export-triton', 'demo', repo, '-q', '--overwrite'])).code).toBe(0);
  }, 60_000);
});

describe('-b triton --triton-url', () => {
  let server: { url: string; close(): Promise<void>; stats: { infer: number } };
  beforeAll(async () => {
    server = await startKServe({ models: { metric3d_demo: join(root, 'models', 'demo.onnx') } });
  });
  afterAll(() => server?.close());

  it('predict sends inference to the server; -b triton without --triton-url is a usage error', async () => {
    const out = join(tmp, 'triton');
    const r = await cli(['predict', sample, '-o', out, '--model', 'demo', '-b', 'triton', '--triton-url', server.url, ...nyuK, '-f', 'json', '-q']);
    expect(r.code).toBe(0);
    expect(server.stats.infer).toBe(1);
    const side = json(join(out, 'sample-nyu.json'));
    expect(side.backend).toBe('triton');
    expect(side.standIn).toBe(true);
    expect(side.intrinsics).toEqual({ fx: 518.8579, fy: 519.46961, cx: 325.58245, cy: 253.73617 });
    const noUrl = await cli(['predict', sample, '-o', out, '--model', 'demo', '-b', 'triton']);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('-b triton needs --triton-url <url>');
    const clash = await cli(['predict', sample, '-o', out, '--model', 'demo', '-b', 'onnxruntime', '--triton-url', server.url]);
    expect(clash.code).toBe(2);
  }, 60_000);
});

describe('metric3d eval on a dataset with a subset without ground truth', () => {
  it('skips it (not predicted, not in overall), uses per-subset settings, marks the stand-in', async () => {
    const dir = join(tmp, 'eval-ds');
    mkdirSync(join(dir, 'raw'), { recursive: true });
    for (const f of ['kitti_0000000005.png', 'kitti_0000000005_depth.png', 'nyu_00000.jpg', 'nyu_00000_depth.png']) copyFileSync(join(photos, f), join(dir, f));
    for (const id of ['r1', 'r2', 'r3']) copyFileSync(join(photos, 'nyu_00000.jpg'), join(dir, 'raw', `${id}.jpg`));
    writeFileSync(
      join(dir, 'cameras.json'),
      JSON.stringify({
        kitti: { ...cameras.kitti, images: ['0000000005'], rgb: 'kitti_{id}.png', depth: 'kitti_{id}_depth.png', maxDepth: 80, crop: 'garg' },
        nyu: { ...cameras.nyu, rgb: 'nyu_{id}.jpg', depth: 'nyu_{id}_depth.png', maxDepth: 10, crop: 'eigen' },
        raw: { intrinsics: null, images: '*', rgb: 'raw/{id}.jpg' },
      }),
    );
    const report = join(tmp, 'eval.json');
    const r = await cli(['eval', dir, '--model', 'demo', '--json', report, '-q']);
    expect(r.code).toBe(0);
    expect(standInLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("skipped: subset 'raw' (3 images): no ground truth");
    const j = json(report);
    expect(j.standIn).toBe(true);
    expect(Object.keys(j.subsets)).toEqual(['kitti', 'nyu']);
    expect(j.overall.images).toBe(2);
    expect(j.images.map((x: { id: string }) => x.id)).toEqual(['0000000005', '00000']);
    expect(j.skipped).toEqual([{ subset: 'raw', images: 3, reason: 'no ground truth (no "depth" or "normals" template)' }]);
    expect(j.options.subsetSettings).toEqual({ kitti: { minDepth: 0.001, maxDepth: 80, crop: 'garg' }, nyu: { minDepth: 0.001, maxDepth: 10, crop: 'eigen' } });
    expect(r.stdout.split('\n').map((l) => l.split(/ +/)[0])).toEqual(['subset', 'kitti', 'nyu', expect.stringMatching(/^-+$/), 'overall', '']);
  }, 60_000);
});
