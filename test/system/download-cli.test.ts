// `metric3d download` against a local server on 127.0.0.1: as a separate process for the
// shipped registry (bytes that do not match the registry are refused with exit 3), and
// in process for entries added to the loaded registry (the success, UNVERIFIED, redirect
// and deadline paths), so that the test does not depend on the state of the hosted files.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main, type Io } from '../../dist/cjs/cli/main.js';
import { registry } from '../../dist/cjs/model/registry.js';
import type { RegistryEntry } from '../../dist/cjs/index.js';
import { root } from '../helpers';
import { testEntry } from '../support/route-server';

const bin = join(root, 'bin', 'metric3d.js');
const tmp = mkdtempSync(join(tmpdir(), 'metric3d-download-cli-'));
const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 255));
const payloadSha = createHash('sha256').update(payload).digest('hex');
const graph = readFileSync(join(root, 'models', 'demo.onnx'));
const seen: string[] = [];
let server: Server;
let base = '';

function send(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'content-length': String(body.length) });
  res.end(body);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    seen.push(url);
    if (url === '/metric3d-vit-small/model_fp16.onnx' || url === '/metric3d-vit-small/model.onnx' || url === '/ok/model.onnx') send(res, payload);
    else if (url === '/graph/model.onnx') send(res, graph);
    else if (url === '/away/model.onnx') {
      res.writeHead(302, { location: 'http://mirror.example.invalid/model.onnx' });
      res.end();
    } else if (url === '/slow/model.onnx') {
      res.writeHead(200, { 'content-length': String(payload.length) });
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(payload.subarray(0, 4096))), 50);
      res.on('close', () => clearInterval(t));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const models = registry().models;
  const test = (url: string, file: string, over: Partial<RegistryEntry> = {}): RegistryEntry =>
    testEntry(`${base}${url}`, file, payloadSha, payload.length, over);
  models['cli-ok'] = test('/ok/model.onnx', 'cli-ok/model.onnx');
  models['cli-graph'] = test('/graph/model.onnx', 'cli-graph/model.onnx', { sha256: null, size: null });
  models['cli-away'] = test('/away/model.onnx', 'cli-away/model.onnx');
  models['cli-slow'] = test('/slow/model.onnx', 'cli-slow/model.onnx');
});

afterAll(async () => {
  for (const n of ['cli-ok', 'cli-graph', 'cli-away', 'cli-slow']) delete registry().models[n];
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI in this process (the registry edits above are visible to it). */
async function cliHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { out: (s) => void (stdout += s), err: (s) => void (stderr += s), isTTY: false };
  const code = await main(['node', 'metric3d', ...args], io);
  return { code, stdout, stderr };
}

/** Runs the installed command as a user does (the shipped registry only). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('metric3d download', () => {
  it('refuses bytes that do not match the registry size and sha256, exit 3, nothing in the cache', async () => {
    const cache = join(tmp, 'wrong');
    const r = await cli(['download', 'vit-small-fp16', '--mirror', base, '--cache-dir', cache, '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `error [ERR_DOWNLOAD]: size mismatch for ${base}/metric3d-vit-small/model_fp16.onnx: expected ${registry().models['vit-small-fp16'].size} bytes, ` +
        `the server sends ${payload.length}; nothing was kept\n`,
    );
    expect(readdirSync(join(cache, 'models', 'metric3d-vit-small'))).toEqual([]);
  });

  it('never accepts bytes that are not the model as vit-small (exit 3, nothing in the cache)', async () => {
    const cache = join(tmp, 'junk');
    const r = await cli(['download', 'vit-small', '--mirror', base, '--cache-dir', cache, '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error \[ERR_DOWNLOAD\]: /);
    expect(r.stdout).toBe('');
    expect(readdirSync(join(cache, 'models', 'metric3d-vit-small'))).toEqual([]);
  });

  it('exits 3 with the HTTP status when the file is not there', async () => {
    const r = await cli(['download', 'vit-large', '--mirror', base, '--cache-dir', join(tmp, 'dl404'), '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ERR_DOWNLOAD.*404/);
  });

  it('downloads a checked file into the cache, then finds it there', async () => {
    const cache = join(tmp, 'ok');
    const before = seen.length;
    const r = await cliHere(['download', 'cli-ok', '--cache-dir', cache, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = join(cache, 'models', 'cli-ok', 'model.onnx');
    expect(r.stdout).toBe(`downloaded: ${file} (0.3 MiB, sha256 ${payloadSha})\n`);
    expect(readFileSync(file).equals(payload)).toBe(true);
    expect(readdirSync(join(cache, 'models', 'cli-ok'))).toEqual(['model.onnx']);
    const again = await cliHere(['download', 'cli-ok', '--cache-dir', cache, '--quiet']);
    expect(again).toEqual({ code: 0, stdout: `already present: ${file} (0.3 MiB, sha256 ${payloadSha})\n`, stderr: '' });
    expect(seen.slice(before)).toEqual(['/ok/model.onnx']);
  });

  it('says UNVERIFIED for a file the registry has no sha256 for', async () => {
    const cache = join(tmp, 'unverified');
    const r = await cliHere(['download', 'cli-graph', '--cache-dir', cache, '--quiet']);
    expect(r.code).toBe(0);
    const file = join(cache, 'models', 'cli-graph', 'model.onnx');
    const digest = createHash('sha256').update(graph).digest('hex');
    expect(r.stdout).toBe(
      `downloaded: ${file} (0.0 MiB, sha256 ${digest}, UNVERIFIED: the registry has no sha256 for every file of this model; a graph without one is only parsed as ONNX)\n`,
    );
  });

  it('refuses a redirect to another host unless --allow-host names it', async () => {
    const refused = await cliHere(['download', 'cli-away', '--cache-dir', join(tmp, 'away'), '--quiet']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error \[ERR_DOWNLOAD\]: .* redirects to mirror\.example\.invalid, which is neither its own host nor an allowed download host/);
    const allowed = await cliHere(['download', 'cli-away', '--cache-dir', join(tmp, 'away'), '--quiet', '--allow-host', '*.example.invalid']);
    expect(allowed.code).toBe(3);
    expect(allowed.stderr).toMatch(/^error \[ERR_DOWNLOAD\]: network error downloading /);
  });

  it('gives up after --timeout seconds and keeps the partial file', async () => {
    const cache = join(tmp, 'slow');
    const t0 = Date.now();
    const r = await cliHere(['download', 'cli-slow', '--cache-dir', cache, '--quiet', '--timeout', '0.4']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error \[ERR_DOWNLOAD\]: the download of .* timed out: not finished within 400 ms \(timeoutMs\); \d+ bytes are kept in /);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(join(cache, 'models', 'cli-slow', 'model.onnx.partial'))).toBe(true);
    expect(existsSync(join(cache, 'models', 'cli-slow', 'model.onnx.lock'))).toBe(false);
  });

  it('documents --timeout and --allow-host in --help', async () => {
    const r = await cliHere(['download', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--timeout <seconds>');
    expect(r.stdout).toContain('--allow-host <host>');
    expect(r.stdout).toContain('UNVERIFIED');
  });
});
