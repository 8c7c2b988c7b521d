// A local HTTP server (127.0.0.1) whose answers are set per path by the test, recording
// every request it sees; and a registry entry pointing at it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { RegistryEntry } from '../../dist/cjs/index.js';

/** Answers a request to its path; `n` counts the requests to that path so far, this one included. */
export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface RouteServer {
  /** http://127.0.0.1:<port> */
  base: string;
  routes: Map<string, Handler>;
  counts: Map<string, number>;
  seen: { path: string; range?: string; ifRange?: string }[];
  close(): Promise<void>;
}

/** Starts the server on the given (or new) route table and logs; a path without a route answers 404. */
export async function startRouteServer(
  routes = new Map<string, Handler>(),
  counts = new Map<string, number>(),
  seen: RouteServer['seen'] = [],
): Promise<RouteServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    const h = routes.get(path);
    if (h) h(req, res, n);
    else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    routes,
    counts,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

/** A registry entry of a community-contract model at `url` with the given checksum, overridden by `over`. */
export function testEntry(url: string, file: string, sha256: string | null, size: number | null, over: Partial<RegistryEntry> = {}): RegistryEntry {
  return { description: 'test model', url, file, sha256, size, contract: 'community', inputSize: [616, 1064], licence: 'test', ...over };
}
