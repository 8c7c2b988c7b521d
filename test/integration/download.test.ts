// Model download against a local HTTP server: progress, resume (If-Range), restart,
// verification, errors, idle timeout, cancel, external data and mirrors. No network
// beyond 127.0.0.1. Locks, symbolic links, limits and redirects: download-safety.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as lib from '../../dist/cjs/index.js';
import { downloadEntry, downloadModel } from '../../dist/cjs/model/download.js';
import { CancelledError, DownloadError, InvalidArgumentError } from '../../dist/cjs/errors.js';
import type { DownloadProgress, RegistryEntry } from '../../dist/cjs/index.js';
import { rejection } from '../helpers';
import { startRouteServer, testEntry, type Handler, type RouteServer } from '../support/route-server';

const payload = randomBytes(2 * 1024 * 1024 + 12345);
const payloadSha = createHash('sha256').update(payload).digest('hex');
const data2 = randomBytes(300_000);
const data2Sha = createHash('sha256').update(data2).digest('hex');

let srv: RouteServer;
const routes = new Map<string, Handler>();
const counts = new Map<string, number>();
const seen: RouteServer['seen'] = [];
/** The ETag every route of this file serves its body with. */
const ETAG = '"v1"';
let base = '';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-download-'));
let dirs = 0;
const freshCache = () => join(tmp, `cache-${++dirs}`);

/**
 * Answers a Range request with 206 and the rest of `body` when its If-Range (if any)
 * names this body's ETag, else 200 and all of it.
 */
function serveRange(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (m && (ifRange === undefined || ifRange === ETAG)) {
    const start = Number(m[1]);
    res.writeHead(206, {
      etag: ETAG,
      'content-length': String(body.length - start),
      'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      'content-type': 'application/octet-stream',
    });
    res.end(body.subarray(start));
  } else {
    res.writeHead(200, { etag: ETAG, 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
    res.end(body);
  }
}

/** Plants `<dest>.partial` holding `bytes`, recorded as coming from `url` with the ETag the routes serve. */
function plantPartial(dest: string, url: string, bytes: Buffer, total = payload.length): void {
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(`${dest}.partial`, bytes);
  writeFileSync(`${dest}.partial.json`, JSON.stringify({ url, etag: ETAG, total }));
}

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

routes.set('/ok/model.onnx', (req, res) => serveRange(req, res, payload));

describe('downloadModel / downloadEntry', () => {
  it('is exported from the package index', () => {
    expect(lib.downloadModel).toBe(downloadModel);
  });

  it('downloads a file with monotonic progress and verifies it', async () => {
    const cacheDir = freshCache();
    const events: DownloadProgress[] = [];
    const r = await downloadEntry('t1', entry({}), { cacheDir, onProgress: (p) => events.push(p) });
    const dest = join(cacheDir, 'models', 'm', 'model.onnx');
    expect(r).toEqual({
      name: 't1',
      path: dest,
      bytes: payload.length,
      sha256: payloadSha,
      files: [dest],
      alreadyPresent: false,
      resumed: false,
      verified: true,
    });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
    expect(existsSync(`${dest}.partial.json`)).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
    expect(statSync(dest).mode & 0o111).toBe(0);
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < events.length; i++) expect(events[i].receivedBytes).toBeGreaterThanOrEqual(events[i - 1].receivedBytes);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ task: 'download', file: 'model.onnx', url: `${base}/ok/model.onnx`, resumed: false });
    expect(last.receivedBytes).toBe(payload.length);
    expect(last.totalBytes).toBe(payload.length);
    expect(last.percent).toBe(100);
    expect(last.etaSeconds).toBe(0);
    expect(events.slice(0, -1).every((e) => (e.percent ?? 0) < 100)).toBe(true);
  });

  it('resumes an interrupted download with a Range request naming the ETag (If-Range)', async () => {
    const half = payload.length >> 1;
    routes.set('/cut/model.onnx', (req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { etag: ETAG, 'content-length': String(payload.length) });
        res.write(payload.subarray(0, half));
        setTimeout(() => res.socket?.destroy(), 100);
      } else serveRange(req, res, payload);
    });
    const cacheDir = freshCache();
    const e = entry({ url: `${base}/cut/model.onnx`, file: 'cut/model.onnx' });
    const dest = join(cacheDir, 'models', 'cut', 'model.onnx');

    const err = await rejection(downloadEntry('cut', e, { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('ERR_DOWNLOAD');
    expect(existsSync(dest)).toBe(false);
    const kept = readFileSync(`${dest}.partial`);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(half);
    expect(kept.equals(payload.subarray(0, kept.length))).toBe(true);

    const events: DownloadProgress[] = [];
    const r = await downloadEntry('cut', e, { cacheDir, onProgress: (p) => events.push(p) });
    const last = seen.filter((s) => s.path === '/cut/model.onnx').at(-1)!;
    expect(last.range).toBe(`bytes=${kept.length}-`);
    expect(last.ifRange).toBe(ETAG);
    expect(r.resumed).toBe(true);
    expect(r.bytes).toBe(payload.length);
    expect(r.sha256).toBe(payloadSha);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
    expect(events[0].receivedBytes).toBe(kept.length);
    expect(events.every((p) => p.resumed)).toBe(true);
    expect(events.at(-1)!.percent).toBe(100);
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    routes.set('/norange/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.end(payload);
    });
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'nr', 'model.onnx');
    plantPartial(dest, `${base}/norange/model.onnx`, randomBytes(1000)); // not a prefix of the payload
    const r = await downloadEntry('nr', entry({ url: `${base}/norange/model.onnx`, file: 'nr/model.onnx' }), { cacheDir });
    expect(seen.filter((s) => s.path === '/norange/model.onnx').at(-1)).toMatchObject({ range: 'bytes=1000-', ifRange: ETAG });
    expect(r.resumed).toBe(false);
    expect(r.sha256).toBe(payloadSha);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('follows redirects and keeps the Range header across them', async () => {
    routes.set('/redir/model.onnx', (_req, res) => {
      res.writeHead(302, { location: `${base}/ok/model.onnx` });
      res.end();
    });
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'rd', 'model.onnx');
    plantPartial(dest, `${base}/redir/model.onnx`, payload.subarray(0, 4096));
    const before = seen.length;
    const r = await downloadEntry('rd', entry({ url: `${base}/redir/model.onnx`, file: 'rd/model.onnx' }), { cacheDir });
    expect(seen.slice(before)).toEqual([
      { path: '/redir/model.onnx', range: 'bytes=4096-', ifRange: ETAG },
      { path: '/ok/model.onnx', range: 'bytes=4096-', ifRange: ETAG },
    ]);
    expect(r).toMatchObject({ bytes: payload.length, sha256: payloadSha, resumed: true });
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('treats a complete partial file as done on 416', async () => {
    routes.set('/416/model.onnx', (req, res) => {
      if (req.headers.range) {
        res.writeHead(416, { 'content-range': `bytes */${payload.length}` });
        res.end();
      } else serveRange(req, res, payload);
    });
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'r416', 'model.onnx');
    plantPartial(dest, `${base}/416/model.onnx`, payload);
    const r = await downloadEntry('r416', entry({ url: `${base}/416/model.onnx`, file: 'r416/model.onnx' }), { cacheDir });
    expect(r).toMatchObject({ bytes: payload.length, sha256: payloadSha, resumed: true, alreadyPresent: false });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('rejects a wrong sha256 and leaves nothing in the cache', async () => {
    const cacheDir = freshCache();
    const wrong = '0'.repeat(64);
    const err = await rejection(downloadEntry('bad', entry({ sha256: wrong, file: 'bad/model.onnx' }), { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/sha256/);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(payloadSha);
    const dest = join(cacheDir, 'models', 'bad', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('rejects a size that differs from the registry before reading the body', async () => {
    const cacheDir = freshCache();
    const err = await rejection(downloadEntry('sz', entry({ size: payload.length + 1, file: 'sz/model.onnx' }), { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(String(payload.length + 1));
    expect(err.message).toContain(String(payload.length));
    const dest = join(cacheDir, 'models', 'sz', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('reports an HTTP 404 with the status and URL and leaves no file', async () => {
    const cacheDir = freshCache();
    const url = `${base}/missing/model.onnx`;
    const err = await rejection(downloadEntry('nf', entry({ url, file: 'nf/model.onnx' }), { cacheDir }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain('404');
    expect(err.message).toContain(url);
    const dest = join(cacheDir, 'models', 'nf', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('times out when the server sends headers and then nothing', async () => {
    routes.set('/slow/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.flushHeaders();
    });
    const cacheDir = freshCache();
    const t0 = Date.now();
    const err = await rejection(downloadEntry('slow', entry({ url: `${base}/slow/model.onnx`, file: 'slow/model.onnx' }), { cacheDir, idleTimeoutMs: 300 }));
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/timed out/);
    expect(err.message).toContain('300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
    const dest = join(cacheDir, 'models', 'slow', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false); // no bytes arrived, so nothing to resume
  });

  it('returns alreadyPresent for a verified file without any request', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'here', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, payload);
    const before = seen.length;
    const r = await downloadEntry('here', entry({ url: `${base}/never/model.onnx`, file: 'here/model.onnx' }), { cacheDir });
    expect(seen.length).toBe(before);
    expect(r).toEqual({ name: 'here', path: dest, bytes: payload.length, sha256: payloadSha, files: [dest], alreadyPresent: true, resumed: false, verified: true });
  });

  it('downloads again, with a warning, when the file present fails verification', async () => {
    const cacheDir = freshCache();
    const dest = join(cacheDir, 'models', 'corrupt', 'model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, randomBytes(payload.length));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const r = await downloadEntry('corrupt', entry({ file: 'corrupt/model.onnx' }), { cacheDir });
      await new Promise((ok) => setImmediate(ok));
      expect(r.alreadyPresent).toBe(false);
      expect(readFileSync(dest).equals(payload)).toBe(true);
      expect(warnings.some((w) => (w as Error & { code?: string }).code === 'METRIC3D_DOWNLOAD' && /failed verification/.test(w.message))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('downloads external data files next to the .onnx, before it', async () => {
    routes.set('/ext/model.onnx', (req, res) => serveRange(req, res, payload));
    routes.set('/ext/model.onnx_data', (req, res) => serveRange(req, res, data2));
    const cacheDir = freshCache();
    const before = seen.length;
    const r = await downloadEntry(
      'ext',
      entry({
        url: `${base}/ext/model.onnx`,
        externalData: [`${base}/ext/model.onnx_data`],
        externalDataChecks: [{ sha256: data2Sha, size: data2.length }],
        file: 'ext/model.onnx',
      }),
      { cacheDir },
    );
    const dir = join(cacheDir, 'models', 'ext');
    expect(r.files).toEqual([join(dir, 'model.onnx_data'), join(dir, 'model.onnx')]);
    expect(r.path).toBe(join(dir, 'model.onnx'));
    expect(r.sha256).toBe(payloadSha);
    expect(r.verified).toBe(true);
    expect(readFileSync(join(dir, 'model.onnx')).equals(payload)).toBe(true);
    expect(readFileSync(join(dir, 'model.onnx_data')).equals(data2)).toBe(true);
    expect(createHash('sha256').update(readFileSync(join(dir, 'model.onnx_data'))).digest('hex')).toBe(data2Sha);
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/ext/model.onnx_data', '/ext/model.onnx']);

    const again = seen.length;
    const r2 = await downloadEntry(
      'ext',
      entry({
        url: `${base}/ext/model.onnx`,
        externalData: [`${base}/ext/model.onnx_data`],
        externalDataChecks: [{ sha256: data2Sha, size: data2.length }],
        file: 'ext/model.onnx',
      }),
      { cacheDir },
    );
    expect(seen.length).toBe(again);
    expect(r2).toMatchObject({ alreadyPresent: true, sha256: payloadSha, files: r.files });
  });

  it('builds URLs from a mirror (option and $METRIC3D_MIRROR)', async () => {
    routes.set('/mirror/mir/model.onnx', (req, res) => serveRange(req, res, payload));
    routes.set('/mirror/mir/model.onnx_data', (req, res) => serveRange(req, res, data2));
    const e = entry({
      url: 'https://huggingface.invalid/org/repo/resolve/main/onnx/model.onnx',
      externalData: ['https://huggingface.invalid/org/repo/resolve/main/onnx/model.onnx_data'],
      file: 'mir/model.onnx',
    });
    let before = seen.length;
    const r = await downloadEntry('mir', e, { cacheDir: freshCache(), mirror: `${base}/mirror/` });
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/mirror/mir/model.onnx_data', '/mirror/mir/model.onnx']);
    expect(readFileSync(r.path).equals(payload)).toBe(true);
    expect(readFileSync(r.files[0]).equals(data2)).toBe(true);
    expect(r.verified).toBe(false); // the data file has no sha256 in this entry

    const old = process.env.METRIC3D_MIRROR;
    process.env.METRIC3D_MIRROR = `${base}/mirror`;
    try {
      before = seen.length;
      const r2 = await downloadEntry('mir', e, { cacheDir: freshCache() });
      expect(seen.slice(before).map((s) => s.path)).toEqual(['/mirror/mir/model.onnx_data', '/mirror/mir/model.onnx']);
      expect(r2.sha256).toBe(payloadSha);
    } finally {
      if (old === undefined) delete process.env.METRIC3D_MIRROR;
      else process.env.METRIC3D_MIRROR = old;
    }
  });

  it('stops with CancelledError when the signal aborts mid-transfer, keeping the partial file', async () => {
    const part = 500_000;
    routes.set('/stall/model.onnx', (_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.write(payload.subarray(0, part)); // then nothing: only the abort ends this
    });
    const cacheDir = freshCache();
    const ac = new AbortController();
    const err = await rejection(
      downloadEntry('stall', entry({ url: `${base}/stall/model.onnx`, file: 'stall/model.onnx' }), {
        cacheDir,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.receivedBytes > 0) ac.abort();
        },
      }),
    );
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).code).toBe('ERR_CANCELLED');
    const dest = join(cacheDir, 'models', 'stall', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    const kept = readFileSync(`${dest}.partial`);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(part);
    expect(kept.equals(payload.subarray(0, kept.length))).toBe(true);

    const pre = new AbortController();
    pre.abort();
    const before = seen.length;
    expect(await rejection(downloadEntry('stall', entry({ file: 'stall2/model.onnx' }), { cacheDir, signal: pre.signal }))).toBeInstanceOf(CancelledError);
    expect(seen.length).toBe(before);
  });

  it('refuses unknown, bundled and unhosted registry models without a request', async () => {
    const before = seen.length;
    const unknown = await rejection(downloadModel('no-such-model', { cacheDir: freshCache() }));
    expect(unknown).toBeInstanceOf(InvalidArgumentError);
    expect(unknown.message).toMatch(/unknown model 'no-such-model'.*vit-small/);
    const bundled = await rejection(downloadModel('demo', { cacheDir: freshCache() }));
    expect(bundled).toBeInstanceOf(InvalidArgumentError);
    expect(bundled.message).toMatch(/bundled/);
    const cacheDir = freshCache();
    const unhosted = await rejection(downloadModel('upstream-vit-small', { cacheDir }));
    expect(unhosted).toBeInstanceOf(InvalidArgumentError);
    expect(unhosted.message).toMatch(/not hosted/);
    expect(unhosted.message).toMatch(/[Ee]xport it/);
    expect(unhosted.message).toContain(join(cacheDir, 'models'));
    expect(await rejection(downloadModel('vit-small', { idleTimeoutMs: 0 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(downloadModel('vit-small', { mirror: 'ftp://x' }))).toBeInstanceOf(InvalidArgumentError);
    expect(seen.length).toBe(before);
  });
});
