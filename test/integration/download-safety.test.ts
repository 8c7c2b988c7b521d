// The downloader under concurrency and against hostile or broken servers, all on
// 127.0.0.1: the lock file (two processes, two calls, a stale and a live lock),
// symbolic links planted in the cache, If-Range across upstream versions, the size cap
// for bodies of unknown length, the minimum rate and the total deadline, redirects to
// other hosts, and registry entries without a checksum (UNVERIFIED, parsed as ONNX).
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { downloadEntry } from '../../dist/cjs/model/download.js';
import { registry } from '../../dist/cjs/model/registry.js';
import { CancelledError, DownloadError } from '../../dist/cjs/errors.js';
import type { RegistryEntry } from '../../dist/cjs/index.js';
import { models, rejection, root } from '../helpers';
import { startRouteServer, testEntry, type Handler, type RouteServer } from '../support/route-server';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const payload = randomBytes(2 * 1024 * 1024 + 777);
const payloadSha = sha(payload);
// Two versions of an ONNX graph, for entries without a sha256 (only their format is checked).
const versionA = readFileSync(join(root, 'models', 'demo.onnx'));
const versionB = readFileSync(join(models, 'random-net-community.onnx'));

let srv: RouteServer;
const routes = new Map<string, Handler>();
const counts = new Map<string, number>();
const seen: RouteServer['seen'] = [];
let base = '';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-download-safety-'));
let dirs = 0;
const freshCache = () => join(tmp, `cache-${++dirs}`);
const requests = (path: string) => seen.filter((s) => s.path === path);

beforeAll(async () => {
  srv = await startRouteServer(routes, counts, seen);
  base = srv.base;
});

afterAll(async () => {
  await srv?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function entry(over: Partial<RegistryEntry>): RegistryEntry {
  return testEntry(`${base}/ok/model.onnx`, 'm/model.onnx', payloadSha, payload.length, over);
}

/** Writes `body` in `chunk`-byte pieces every `everyMs`, stopping when the client goes away. */
function trickle(res: ServerResponse, body: Buffer, chunk: number, everyMs: number, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-length': String(body.length), ...headers });
  let off = 0;
  const t = setInterval(() => {
    if (res.destroyed || off >= body.length) {
      clearInterval(t);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(body.subarray(off, off + chunk));
    off += chunk;
  }, everyMs);
  res.on('close', () => clearInterval(t));
}

/** Collects the process warnings emitted while `fn` runs. */
async function warningsDuring<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; warnings: (Error & { code?: string })[] }> {
  const warnings: (Error & { code?: string })[] = [];
  const on = (w: Error) => warnings.push(w);
  process.on('warning', on);
  try {
    const value = await fn();
    await new Promise((ok) => setImmediate(ok));
    return { value, warnings };
  } catch (error) {
    await new Promise((ok) => setImmediate(ok));
    return { error, warnings };
  } finally {
    process.off('warning', on);
  }
}

routes.set('/ok/model.onnx', (_req, res) => {
  res.writeHead(200, { 'content-length': String(payload.length) });
  res.end(payload);
});

describe('the download lock', () => {
  it('lets one of two processes download while the other waits and then finds the verified file', async () => {
    routes.set('/conc/model.onnx', (_req, res) => trickle(res, payload, 64 * 1024, 40));
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/conc/model.onnx`, file: 'conc/model.onnx' });
    const script = `
      const { downloadEntry } = require(${JSON.stringify(join(root, 'dist/cjs/model/download.js'))});
      downloadEntry('conc', ${JSON.stringify(e)}, { cacheDir: ${JSON.stringify(cacheDir)} }).then(
        (r) => console.log(JSON.stringify(r)),
        (err) => { console.error(err.code, err.message); process.exitCode = 1; });`;
    const child = () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
        execFile(process.execPath, ['-e', script], { timeout: 60_000 }, (err, stdout, stderr) =>
          ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const [a, b] = await Promise.all([child(), child()]);
    expect(a.stderr + b.stderr).not.toMatch(/ERR_/);
    expect([a.code, b.code]).toEqual([0, 0]);
    const results = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    const dest = join(cacheDir, 'models', 'conc', 'model.onnx');
    for (const r of results) expect(r).toMatchObject({ path: dest, sha256: payloadSha, bytes: payload.length, verified: true });
    expect(results.map((r) => r.alreadyPresent).sort()).toEqual([false, true]);
    expect(sha(readFileSync(dest))).toBe(payloadSha);
    expect(requests('/conc/model.onnx')).toHaveLength(1);
    expect(a.stderr + b.stderr).toMatch(/is being downloaded by process \d+; waiting for it to finish/);
    expect(readdirSync(dirname(dest)).sort()).toEqual(['model.onnx']);
  }, 90_000);

  it('makes a second call in the same process wait for the first', async () => {
    routes.set('/same/model.onnx', (_req, res) => trickle(res, payload, 256 * 1024, 20));
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/same/model.onnx`, file: 'same/model.onnx' });
    const [r1, r2] = await Promise.all([downloadEntry('same', e, { cacheDir }), downloadEntry('same', e, { cacheDir })]);
    expect([r1.alreadyPresent, r2.alreadyPresent].sort()).toEqual([false, true]);
    expect(r1.sha256).toBe(payloadSha);
    expect(r2.sha256).toBe(payloadSha);
    expect(requests('/same/model.onnx')).toHaveLength(1);
    expect(readdirSync(join(cacheDir, 'models', 'same'))).toEqual(['model.onnx']);
  });

  it('takes over the lock of a process that is gone', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'stale', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(`${dest}.lock`, JSON.stringify({ pid: dead, host: hostname(), since: new Date().toISOString() }));
    const { value, warnings } = await warningsDuring(() => downloadEntry('stale', entry({ file: 'stale/model.onnx' }), { cacheDir }));
    expect(value).toMatchObject({ sha256: payloadSha, alreadyPresent: false });
    expect(warnings.some((w) => w.code === 'METRIC3D_DOWNLOAD' && w.message.includes(`took over the download lock ${dest}.lock of process ${dead}`))).toBe(true);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('waits for a live lock no longer than timeoutMs, without a request', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'held', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    // Held by this process, freshly refreshed: another download in progress.
    writeFileSync(`${dest}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    const before = seen.length;
    const t0 = Date.now();
    const { error } = await warningsDuring(() => downloadEntry('held', entry({ file: 'held/model.onnx' }), { cacheDir, timeoutMs: 300 }));
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toMatch(/timed out after 300 ms \(timeoutMs\) waiting for another call in this process to finish downloading/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(seen.length).toBe(before);
    expect(existsSync(`${dest}.lock`)).toBe(true); // not ours to remove
    expect(existsSync(dest)).toBe(false);
  });

  it('stops waiting for a lock when the signal aborts', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'held2', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const { error } = await warningsDuring(() => downloadEntry('held2', entry({ file: 'held2/model.onnx' }), { cacheDir, signal: ac.signal }));
    expect(error).toBeInstanceOf(CancelledError);
  });
});

describe('symbolic links in the cache', () => {
  it('refuses to write through a symbolic link planted at <file>.partial', async () => {
    const cacheDir = freshCache();
    const outside = join(tmp, `outside-${dirs}.txt`);
    writeFileSync(outside, 'precious');
    const dest = join(cacheDir, 'models', 'sl', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(outside, `${dest}.partial`);
    const before = seen.length;
    const err = await rejection(downloadEntry('sl', entry({ file: 'sl/model.onnx' }), { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toBe(`${dest}.partial is a symbolic link; refusing to write through it (remove it and run again)`);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    expect(seen.length).toBe(before);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('refuses a symbolic link planted at <file>.lock', async () => {
    const cacheDir = freshCache();
    const outside = join(tmp, `outside-lock-${dirs}.txt`);
    writeFileSync(outside, 'precious');
    const dest = join(cacheDir, 'models', 'sll', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(outside, `${dest}.lock`);
    const err = await rejection(downloadEntry('sll', entry({ file: 'sll/model.onnx' }), { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/model\.onnx\.lock is a symbolic link, not a download lock/);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
  });
});

describe('resume across upstream versions (If-Range)', () => {
  /** Serves `body` with ETag `etag`; a Range request gets 206 only when If-Range names `etag`, or when `ignoreIfRange`. */
  function serveVersion(req: IncomingMessage, res: ServerResponse, body: Buffer, etag: string, ignoreIfRange = false): void {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && (ignoreIfRange || req.headers['if-range'] === etag)) {
      const start = Number(m[1]);
      res.writeHead(206, { etag, 'content-length': String(body.length - start), 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(start));
    } else {
      res.writeHead(200, { etag, 'content-length': String(body.length) });
      res.end(body);
    }
  }
  /** First request: version A cut in the middle; later ones: version B. */
  function cutThenChange(path: string, ignoreIfRange: boolean): void {
    routes.set(path, (req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { etag: '"A"', 'content-length': String(versionA.length) });
        res.write(versionA.subarray(0, versionA.length >> 1));
        setTimeout(() => res.socket?.destroy(), 100);
      } else serveVersion(req, res, versionB, '"B"', ignoreIfRange);
    });
  }

  it('gets the whole new version, not a splice of two, when the file changed upstream', async () => {
    cutThenChange('/ver/model.onnx', false);
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/ver/model.onnx`, file: 'ver/model.onnx', sha256: null, size: null });
    expect((await warningsDuring(() => downloadEntry('ver', e, { cacheDir }))).error).toBeInstanceOf(DownloadError);
    const dest = join(cacheDir, 'models', 'ver', 'model.onnx');
    const kept = readFileSync(`${dest}.partial`);
    expect(kept.length).toBeGreaterThan(0);
    const { value } = await warningsDuring(() => downloadEntry('ver', e, { cacheDir }));
    expect(requests('/ver/model.onnx').at(-1)).toMatchObject({ range: `bytes=${kept.length}-`, ifRange: '"A"' });
    expect(value).toMatchObject({ resumed: false, verified: false, bytes: versionB.length });
    expect(readFileSync(dest).equals(versionB)).toBe(true);
  });

  it('starts over when a server ignores If-Range and sends a range of another version', async () => {
    cutThenChange('/ver2/model.onnx', true);
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/ver2/model.onnx`, file: 'ver2/model.onnx', sha256: null, size: null });
    await warningsDuring(() => downloadEntry('ver2', e, { cacheDir }));
    const { value } = await warningsDuring(() => downloadEntry('ver2', e, { cacheDir }));
    const tail = requests('/ver2/model.onnx').slice(-2);
    expect(tail[0].ifRange).toBe('"A"');
    expect(tail[1].range).toBeUndefined();
    expect(value).toMatchObject({ resumed: false, bytes: versionB.length });
    expect(readFileSync(join(cacheDir, 'models', 'ver2', 'model.onnx')).equals(versionB)).toBe(true);
  });

  it('does not resume a partial file without a recorded ETag or Last-Modified', async () => {
    routes.set('/noval/model.onnx', (req, res) => serveVersion(req, res, payload, '"P"', true));
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'noval', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.partial`, payload.subarray(0, 1000));
    const r = await downloadEntry('noval', entry({ url: `${base}/noval/model.onnx`, file: 'noval/model.onnx' }), { cacheDir });
    expect(requests('/noval/model.onnx').at(-1)).toEqual({ path: '/noval/model.onnx', range: undefined, ifRange: undefined });
    expect(r).toMatchObject({ resumed: false, sha256: payloadSha });
  });
});

describe('limits', () => {
  it('stops a body of unknown length at maxBytes and keeps nothing', async () => {
    routes.set('/endless/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
      let n = 0;
      const t = setInterval(() => {
        if (res.destroyed || ++n > 2000) {
          clearInterval(t);
          res.end();
          return;
        }
        res.write(randomBytes(16 * 1024));
      }, 2);
      res.on('close', () => clearInterval(t));
    });
    const cacheDir = freshCache();
    const err = await rejection(
      downloadEntry('endless', entry({ url: `${base}/endless/model.onnx`, file: 'endless/model.onnx', sha256: null, size: null }), { cacheDir, maxBytes: 200_000 }),
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/sent more than the 200000-byte limit for a file of unknown size \(maxBytes\); nothing was kept/);
    const dest = join(cacheDir, 'models', 'endless', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('refuses a Content-Length above maxBytes before the body', async () => {
    const cacheDir = freshCache();
    const err = await rejection(downloadEntry('big', entry({ file: 'big/model.onnx', sha256: null, size: null }), { cacheDir, maxBytes: 1000 }));
    expect(err.message).toBe(`${base}/ok/model.onnx is ${payload.length} bytes, more than the 1000-byte limit for a file of unknown size (maxBytes); nothing was kept`);
    expect(existsSync(join(cacheDir, 'models', 'big', 'model.onnx.partial'))).toBe(false);
  });

  it('fails a transfer under the minimum rate and keeps what arrived', async () => {
    routes.set('/trickle/model.onnx', (_req, res) => trickle(res, payload, 20, 100)); // 200 bytes/s
    const cacheDir = freshCache();
    const t0 = Date.now();
    const err = await rejection(
      downloadEntry('trickle', entry({ url: `${base}/trickle/model.onnx`, file: 'trickle/model.onnx' }), { cacheDir, idleTimeoutMs: 400, minBytesPerSecond: 1024 }),
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/is too slow: \d+ bytes in 0\.\d s, under the minimum of 1024 bytes\/s \(minBytesPerSecond\); \d+ bytes are kept/);
    expect(Date.now() - t0).toBeLessThan(3000);
    const kept = readFileSync(join(cacheDir, 'models', 'trickle', 'model.onnx.partial'));
    expect(kept.equals(payload.subarray(0, kept.length))).toBe(true);
  });

  it('gives up at the total deadline (timeoutMs) even while bytes flow', async () => {
    routes.set('/steady/model.onnx', (_req, res) => trickle(res, payload, 2048, 20));
    const cacheDir = freshCache();
    const t0 = Date.now();
    const err = await rejection(
      downloadEntry('steady', entry({ url: `${base}/steady/model.onnx`, file: 'steady/model.onnx' }), { cacheDir, timeoutMs: 500, minBytesPerSecond: 0 }),
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/timed out: not finished within 500 ms \(timeoutMs\); \d+ bytes are kept/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('redirects', () => {
  it('refuses a redirect to a host that is not allowed, without contacting it', async () => {
    routes.set('/away/model.onnx', (_req, res) => {
      res.writeHead(302, { location: 'http://elsewhere.invalid/model.onnx' });
      res.end();
    });
    const err = await rejection(downloadEntry('away', entry({ url: `${base}/away/model.onnx`, file: 'away/model.onnx' }), { cacheDir: freshCache() }));
    expect(err).toBeInstanceOf(DownloadError);
    const hosts = ['127.0.0.1', ...(registry().redirectHosts ?? [])].join(', ');
    expect(err.message).toBe(
      `${base}/away/model.onnx redirects to elsewhere.invalid, which is neither its own host nor an allowed download host (${hosts}); ` +
        "allow it with allowedHosts: ['elsewhere.invalid'] (metric3d download --allow-host elsewhere.invalid)",
    );
    expect(requests('/away/model.onnx')).toHaveLength(1);
  });

  it('follows a redirect to a host allowed by allowedHosts', async () => {
    routes.set('/away2/model.onnx', (_req, res) => {
      res.writeHead(302, { location: 'http://cdn.example.invalid/model.onnx' });
      res.end();
    });
    const err = await rejection(
      downloadEntry('away2', entry({ url: `${base}/away2/model.onnx`, file: 'away2/model.onnx' }), { cacheDir: freshCache(), allowedHosts: ['*.example.invalid'] }),
    );
    // The redirect was followed: what fails is the connection to the (unresolvable) host.
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/^network error downloading /);
  });
});

describe('registry entries without a sha256', () => {
  it('reports an ONNX graph as UNVERIFIED and places it', async () => {
    routes.set('/unv/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(versionA.length) });
      res.end(versionA);
    });
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/unv/model.onnx`, file: 'unv/model.onnx', sha256: null, size: null });
    const { value, warnings } = await warningsDuring(() => downloadEntry('unv', e, { cacheDir }));
    const dest = join(cacheDir, 'models', 'unv', 'model.onnx');
    expect(value).toMatchObject({ path: dest, verified: false, sha256: sha(versionA), bytes: versionA.length });
    expect(warnings.filter((w) => w.code === 'METRIC3D_UNVERIFIED').map((w) => w.message)).toEqual([
      `metric3d-trt: UNVERIFIED ${dest}: the registry has no sha256 for this file, so its content was not checked (it parses as an ONNX graph)`,
    ]);
    expect(readFileSync(dest).equals(versionA)).toBe(true);
  });

  it('refuses bytes that are not an ONNX graph and keeps nothing', async () => {
    routes.set('/junk/model.onnx', (_req, res) => {
      const junk = randomBytes(600_000);
      res.writeHead(200, { 'content-length': String(junk.length) });
      res.end(junk);
    });
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/junk/model.onnx`, file: 'junk/model.onnx', sha256: null, size: null });
    const err = await rejection(downloadEntry('junk', e, { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/junk\/model\.onnx is not an ONNX model: .*; the registry has no sha256 for it, so only its format could be checked; nothing was kept$/);
    const dest = join(cacheDir, 'models', 'junk', 'model.onnx');
    expect(readdirSync(dirname(dest))).toEqual([]);
  });

  it('downloads again a present file without a sha256 that does not parse as ONNX', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'unv2', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, randomBytes(5000));
    routes.set('/unv2/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(versionA.length) });
      res.end(versionA);
    });
    const e = entry({ url: `${base}/unv2/model.onnx`, file: 'unv2/model.onnx', sha256: null, size: null });
    const { value, warnings } = await warningsDuring(() => downloadEntry('unv2', e, { cacheDir }));
    expect(value).toMatchObject({ alreadyPresent: false, verified: false });
    expect(warnings.some((w) => w.code === 'METRIC3D_DOWNLOAD' && /failed verification \(not an ONNX model/.test(w.message))).toBe(true);
    expect(readFileSync(dest).equals(versionA)).toBe(true);
  });

  it('checks external data files against externalDataChecks', async () => {
    const data = randomBytes(50_000);
    routes.set('/xd/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.end(payload);
    });
    routes.set('/xd/model.onnx_data', (_req, res) => {
      res.writeHead(200, { 'content-length': String(data.length) });
      res.end(data);
    });
    const cacheDir = freshCache();
    const e = entry({
      url: `${base}/xd/model.onnx`,
      externalData: [`${base}/xd/model.onnx_data`],
      externalDataChecks: [{ sha256: '1'.repeat(64), size: data.length }],
      file: 'xd/model.onnx',
    });
    const err = await rejection(downloadEntry('xd', e, { cacheDir }));
    expect(err.message).toBe(`sha256 mismatch for ${base}/xd/model.onnx_data: expected ${'1'.repeat(64)}, got ${sha(data)} (${data.length} bytes); nothing was kept`);
    expect(readdirSync(join(cacheDir, 'models', 'xd'))).toEqual([]);
  });
});

describe('lock files left by a crash', () => {
  it('treats a lock untouched for over two minutes as stale even when its pid is alive', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'old', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.lock`, JSON.stringify({ pid: process.pid, host: 'another-host', since: '2000-01-01T00:00:00Z' }));
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(`${dest}.lock`, old, old);
    const { value } = await warningsDuring(() => downloadEntry('old', entry({ file: 'old/model.onnx' }), { cacheDir }));
    expect(value).toMatchObject({ sha256: payloadSha, alreadyPresent: false });
  });
});
