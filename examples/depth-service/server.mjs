// A small HTTP depth service on metric3d-trt and Fastify.
//
//   MODEL=vit-small node examples/depth-service/server.mjs   # PORT=3000 HOST=127.0.0.1; MODEL is required
//
//   POST /depth?fx=&fy=&cx=&cy=&format=png16|f32      body: image bytes
//   POST /pointcloud?fx=...&format=ply|pointcloud2&organised=0|1
//   GET  /healthz
//
// Needs fastify (npm install fastify); see README.md next to this file.
import { endianness } from 'node:os';
import { pathToFileURL } from 'node:url';

import Fastify from 'fastify';
import { Metric3D } from 'metric3d-trt';

import { POINT_STEP, toPointCloud2 } from '../ros2-pointcloud2/pointcloud2.mjs';

/** Defaults of {@link createServer}. */
export const DEFAULTS = Object.freeze({
  maxQueue: 8,
  concurrency: 2,
  bodyLimit: 20 * 1024 * 1024,
  maxPixels: 16_000_000,
  maxResponseBytes: 128 * 1024 * 1024,
  requestTimeout: 30_000,
  connectionTimeout: 120_000,
  keepAliveTimeout: 5_000,
  maxRequestsPerSocket: 100,
  maxConnections: 64,
  stuckAfter: 120_000,
  closeTimeout: 10_000,
});

/** Options of {@link createServer} that are integers, with their smallest value. */
const INTEGER_OPTIONS = {
  concurrency: 1,
  maxQueue: 0,
  bodyLimit: 1,
  maxPixels: 1,
  maxResponseBytes: 1,
  requestTimeout: 0,
  connectionTimeout: 0,
  keepAliveTimeout: 1,
  maxRequestsPerSocket: 0,
  maxConnections: 1,
  stuckAfter: 1,
  closeTimeout: 0,
};

/** Routes that run the model: admitted (or refused) before their body is read. */
const MODEL_ROUTES = new Set(['/depth', '/pointcloud']);

/** Units per metre of the 16-bit depth PNG (KITTI convention: value / 256 = metres). */
export const DEPTH_SCALE = 256;

/** Content types whose body is handed to the model as raw bytes. */
export const IMAGE_CONTENT_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/tiff',
  'image/gif',
  'image/heif',
  'image/heic',
  'image/avif',
  'application/octet-stream',
];

/** HTTP status per metric3d-trt error code; any other code is a 500. */
const STATUS_BY_CODE = {
  ERR_DECODE: 400,
  ERR_CHANNELS: 400,
  ERR_INTRINSICS: 400,
  ERR_INVALID_ARGUMENT: 400,
  ERR_IMAGE_TOO_LARGE: 413,
  ERR_DISPOSED: 503,
};

/** An error with a code and an HTTP status, shaped like the library's. */
class HttpError extends Error {
  constructor(statusCode, code, message) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** HTTP status of an error: the library's codes first, then Fastify's own statusCode, else 500. */
export function statusOf(err) {
  if (err instanceof HttpError) return err.statusCode;
  const mapped = STATUS_BY_CODE[err?.code];
  if (mapped) return mapped;
  if (typeof err?.code === 'string' && err.code.startsWith('ERR_')) return 500; // other library errors
  const s = err?.statusCode;
  return Number.isInteger(s) && s >= 400 && s < 600 ? s : 500;
}

/**
 * At most `concurrency` jobs run at once and at most `maxQueue` wait; `enter()`
 * answers null when both are full, else a promise of a release function.
 */
export class BoundedQueue {
  #waiting = [];
  #idle = [];
  /** The jobs holding a slot, each with its start time (`since`, ms). */
  #running = new Set();
  active = 0;

  constructor(concurrency, maxQueue) {
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  get waiting() {
    return this.#waiting.length;
  }

  /** How long the oldest running job has held its slot, in ms (0 when none runs). */
  longestRunningMs() {
    let oldest = Infinity;
    for (const job of this.#running) oldest = Math.min(oldest, job.since);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  }

  stats() {
    return {
      active: this.active,
      waiting: this.#waiting.length,
      max: this.maxQueue,
      concurrency: this.concurrency,
      longestRunningMs: this.longestRunningMs(),
    };
  }

  /** @returns {Promise<() => void> | null} */
  enter() {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.maxQueue) return null;
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#releaser())));
  }

  /** Resolves once nothing runs and nothing waits. */
  idle() {
    if (this.active === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #releaser() {
    let released = false;
    const job = { since: Date.now() };
    this.#running.add(job);
    return () => {
      if (released) return;
      released = true;
      this.#running.delete(job);
      const next = this.#waiting.shift();
      if (next) {
        next(); // the slot passes straight to the next waiter
      } else {
        this.active--;
        if (this.active === 0) for (const resolve of this.#idle.splice(0)) resolve();
      }
    };
  }
}

// ---------------------------------------------------------------------------------
// Query parsing

function queryNumber(query, name) {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    throw new HttpError(400, 'ERR_INTRINSICS', `query parameter ${name} must be a finite number, got ${JSON.stringify(v)}`);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new HttpError(400, 'ERR_INTRINSICS', `query parameter ${name} must be a finite number, got ${JSON.stringify(v)}`);
  return n;
}

/** `fx` (> 0), optional `fy` (> 0), `cx`, `cy` from the query; undefined when none is given. */
export function intrinsicsFromQuery(query) {
  const fx = queryNumber(query, 'fx');
  const fy = queryNumber(query, 'fy');
  const cx = queryNumber(query, 'cx');
  const cy = queryNumber(query, 'cy');
  if (fx === undefined) {
    if (fy !== undefined || cx !== undefined || cy !== undefined) {
      throw new HttpError(400, 'ERR_INTRINSICS', 'fx is required when fy, cx or cy is given');
    }
    return undefined;
  }
  if (!(fx > 0)) throw new HttpError(400, 'ERR_INTRINSICS', `fx must be > 0, got ${fx}`);
  if (fy !== undefined && !(fy > 0)) throw new HttpError(400, 'ERR_INTRINSICS', `fy must be > 0, got ${fy}`);
  const k = { fx };
  if (fy !== undefined) k.fy = fy;
  if (cx !== undefined) k.cx = cx;
  if (cy !== undefined) k.cy = cy;
  return k;
}

function queryChoice(query, name, choices) {
  const v = query[name] ?? choices[0];
  if (!choices.includes(v)) {
    throw new HttpError(400, 'ERR_INVALID_ARGUMENT', `query parameter ${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function queryBoolean(query, name) {
  const v = query[name];
  if (v === undefined || v === '0' || v === 'false') return false;
  if (v === '' || v === '1' || v === 'true') return true;
  throw new HttpError(400, 'ERR_INVALID_ARGUMENT', `query parameter ${name} must be 0, 1, true or false, got ${JSON.stringify(v)}`);
}

function imageBody(request) {
  const body = request.body;
  if (body !== undefined && body !== null && !Buffer.isBuffer(body)) {
    throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', `send the image bytes with Content-Type ${IMAGE_CONTENT_TYPES.join(', ')}`);
  }
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new HttpError(400, 'ERR_DECODE', `the request body must be the image bytes (Content-Type ${IMAGE_CONTENT_TYPES.join(', ')})`);
  }
  return body;
}

/** The bytes of a Float32Array as little-endian float32 (a copy). */
function float32LE(a) {
  const out = Buffer.from(a.buffer, a.byteOffset, a.byteLength); // view
  const copy = Buffer.allocUnsafe(a.byteLength);
  if (endianness() === 'LE') {
    out.copy(copy);
  } else {
    for (let i = 0; i < a.byteLength; i += 4) copy.writeFloatLE(a[i >> 2], i);
  }
  return copy;
}

function intrinsicsHeaders(reply, r) {
  const k = r.intrinsics;
  // The bundled demo model is a stand-in: its depth is not a measurement.
  if (r.standIn ?? r.prediction?.standIn) reply.header('X-Stand-In', 'true');
  reply.header('X-Intrinsics-Source', r.intrinsicsSource);
  reply.header('X-Intrinsics', `fx=${k.fx},fy=${k.fy},cx=${k.cx},cy=${k.cy}`);
}

function serverTiming(t) {
  return Object.entries(t)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k};dur=${v}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------

/** Resolves with `p`, or after `ms` when `p` takes longer. */
function within(p, ms) {
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Builds the service (routes, queue, model) without listening.
 *
 * @param {object} [options]
 * @param {string | Metric3D} [options.model] registry name or .onnx path (loaded here), or a
 *   loaded Metric3D instance; either way the server owns it and disposes it on close.
 * @param {number} [options.maxQueue] requests that may wait for a free slot (default 8).
 * @param {number} [options.concurrency] predictions that run at once (default 2).
 * @param {number} [options.bodyLimit] largest request body in bytes (default 20 MiB).
 * @param {number} [options.maxPixels] largest image in pixels (default 16 000 000), the
 *   maxPixels of the model loaded here (`loadOptions.maxPixels` wins; a given instance keeps its own).
 * @param {number} [options.maxResponseBytes] largest response body in bytes (default 128 MiB).
 * @param {number} [options.requestTimeout] ms to receive a whole request, headers and body (default 30 000; 0: none).
 * @param {number} [options.connectionTimeout] ms a connection may stay silent, a prediction included (default 120 000; 0: none).
 * @param {number} [options.keepAliveTimeout] ms an idle kept-alive connection stays open (default 5 000).
 * @param {number} [options.maxRequestsPerSocket] requests per connection (default 100; 0: no limit).
 * @param {number} [options.maxConnections] open connections; further ones are dropped (default 64).
 * @param {number} [options.stuckAfter] ms after which a running prediction makes /healthz fail (default 120 000).
 * @param {number} [options.closeTimeout] ms close() waits for predictions whose client went away (default 10 000).
 * @param {object} [options.loadOptions] more options for Metric3D.load (backend, maxPixels, ...).
 * @param {boolean | object} [options.logger] Fastify logger option (default false).
 * @returns {Promise<import('fastify').FastifyInstance>} with `metric3d` (the model),
 *   `depthQueue` (the queue) and `shutdown()` (= close()) decorations.
 */
export async function createServer(options = DEFAULTS) {
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, ...given };
  for (const [name, min] of Object.entries(INTEGER_OPTIONS)) {
    if (!Number.isSafeInteger(o[name]) || o[name] < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${o[name]}`);
  }

  if (o.model === undefined || o.model === '') {
    throw new TypeError("model is required: a registry name ('vit-small'), an .onnx path, a Metric3D instance, or 'demo' for the bundled stand-in");
  }
  const model =
    typeof o.model === 'string' ? await Metric3D.load({ maxPixels: o.maxPixels, ...o.loadOptions, model: o.model }) : o.model;
  if (!model || typeof model.predict !== 'function') throw new TypeError('model must be a model name, an .onnx path or a Metric3D instance');
  const standIn = model.model?.standIn === true;

  const queue = new BoundedQueue(o.concurrency, o.maxQueue);
  let closing = false;
  // Requests admitted to the model routes whose work has not ended: their bodies are
  // being read, wait for a slot or run. At most concurrency + maxQueue, so at most that
  // many bodies of bodyLimit bytes are held at once.
  let admitted = 0;
  const admissionLimit = o.concurrency + o.maxQueue;

  let app;
  try {
    app = Fastify({
      logger: o.logger ?? false,
      bodyLimit: o.bodyLimit,
      requestTimeout: o.requestTimeout,
      connectionTimeout: o.connectionTimeout,
      keepAliveTimeout: o.keepAliveTimeout,
      maxRequestsPerSocket: o.maxRequestsPerSocket,
      // Node checks requestTimeout every connectionsCheckingInterval (30 s by default).
      http: {
        connectionsCheckingInterval: o.requestTimeout > 0 ? Math.max(50, Math.min(1000, Math.floor(o.requestTimeout / 4))) : 30_000,
        headersTimeout: o.requestTimeout > 0 ? Math.min(60_000, o.requestTimeout) : 60_000,
      },
    });
  } catch (e) {
    await model.dispose();
    throw e;
  }
  app.server.maxConnections = o.maxConnections;
  app.decorate('metric3d', model);
  app.decorate('depthQueue', queue);
  app.decorate('shutdown', () => app.close());
  app.decorateRequest('admission', null);
  app.decorateRequest('busy', false);

  // Open connections, and how many requests each is handling or answering.
  const sockets = new Set();
  const busy = new Map();
  app.server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      busy.delete(socket);
    });
  });
  /** Marks the request's connection busy until its response has been handed to the OS (or the connection is lost). */
  function markBusy(request, reply) {
    if (request.busy) return;
    request.busy = true;
    const socket = request.raw.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    reply.raw.once('close', () => {
      const n = (busy.get(socket) ?? 1) - 1;
      if (n > 0) {
        busy.set(socket, n);
      } else {
        busy.delete(socket);
        if (closing) socket.end();
      }
    });
  }
  // server.close() calls closeIdleConnections(). Node's own also destroys a connection
  // whose response has been ended but not yet flushed (a large body to a slow reader),
  // truncating it. This one keeps every connection that handles or sends a response and
  // drops the rest: idle kept-alive connections and requests whose body is still arriving.
  app.server.closeIdleConnections = () => {
    for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
  };

  app.addContentTypeParser(IMAGE_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: o.bodyLimit }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status >= 500 && status !== 503) request.log.error(err);
    reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send({ error: typeof err.code === 'string' ? err.code : 'ERR_INTERNAL', message: err.message });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  // During shutdown: new requests get 503 (Fastify also answers 503 on kept-alive
  // connections once close() has started; new connections are refused).
  // Model routes are admitted here, before their body is read: a Content-Length over
  // bodyLimit gets 413 and a full service 503, and the connection is closed.
  app.addHook('onRequest', async (request, reply) => {
    if (closing && request.url !== '/healthz') {
      reply.header('Connection', 'close');
      throw new HttpError(503, 'ERR_SHUTTING_DOWN', 'the server is shutting down');
    }
    if (request.method !== 'POST' || !MODEL_ROUTES.has(request.routeOptions.url)) return;
    const length = Number(request.headers['content-length']);
    if (length > o.bodyLimit) {
      reply.header('Connection', 'close');
      throw new HttpError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', `the body of ${length} bytes is over bodyLimit (${o.bodyLimit} bytes)`);
    }
    if (admitted >= admissionLimit) {
      reply.header('Retry-After', '1').header('Connection', 'close');
      throw new HttpError(503, 'ERR_QUEUE_FULL', `busy: ${admitted} requests admitted (max ${admissionLimit}); retry later`);
    }
    admitted++;
    let released = false;
    request.admission = () => {
      if (released) return;
      released = true;
      admitted--;
    };
    reply.raw.once('close', request.admission);
  });
  app.addHook('preHandler', async (request, reply) => {
    markBusy(request, reply);
  });
  app.addHook('preClose', async () => {
    closing = true;
    app.server.closeIdleConnections(); // before Node 19, server.close() leaves them open
  });
  // Responses sent while closing end their connection: a kept-alive socket would
  // otherwise hold server.close() (and so the model's disposal) until its idle timeout.
  app.addHook('onSend', async (request, reply, payload) => {
    markBusy(request, reply);
    if (closing) reply.header('Connection', 'close');
    return payload;
  });
  // Runs after the HTTP server has closed, i.e. after in-flight requests answered.
  // Predictions of clients that went away may still run: they get closeTimeout.
  app.addHook('onClose', async () => {
    closing = true;
    const end = Date.now() + o.closeTimeout;
    await within(queue.idle(), o.closeTimeout);
    await model.dispose({ timeout: Math.max(0, end - Date.now()) });
  });

  /** Refuses a response body over maxResponseBytes. */
  function checkResponseSize(bytes, what) {
    if (bytes > o.maxResponseBytes) {
      throw new HttpError(
        413,
        'ERR_RESPONSE_TOO_LARGE',
        `the ${what} response would be ${bytes} bytes, over maxResponseBytes (${o.maxResponseBytes}); send a smaller image or ask for a smaller format`,
      );
    }
  }

  /**
   * Runs `fn` with a queue slot, or answers 503 + Retry-After when the queue is full
   * (the model is not touched then).
   */
  async function withSlot(request, reply, fn) {
    try {
      const entered = queue.enter();
      if (entered === null) {
        reply.header('Retry-After', '1');
        throw new HttpError(503, 'ERR_QUEUE_FULL', `busy: ${queue.active} running and ${queue.waiting} waiting (max ${queue.maxQueue}); retry later`);
      }
      const release = await entered;
      try {
        if (request.raw.socket?.destroyed) throw new HttpError(499, 'ERR_CLIENT_CLOSED', 'the client went away while the request waited');
        return await fn();
      } finally {
        release();
      }
    } finally {
      request.admission?.();
    }
  }

  app.get('/healthz', async (_request, reply) => {
    const stats = queue.stats();
    const stuck = stats.longestRunningMs > o.stuckAfter;
    const ok = !closing && !model.disposed && !stuck;
    reply.code(ok ? 200 : 503);
    return { ok, backend: model.backend, standIn, stuck, queue: stats };
  });

  app.post('/depth', async (request, reply) => {
    const intrinsics = intrinsicsFromQuery(request.query);
    const format = queryChoice(request.query, 'format', ['png16', 'f32']);
    const image = imageBody(request);
    return withSlot(request, reply, async () => {
      const r = await model.predict(image, { intrinsics, normals: false });
      intrinsicsHeaders(reply, r);
      reply.header('X-Width', String(r.width)).header('X-Height', String(r.height)).header('Server-Timing', serverTiming(r.timings));
      if (format === 'f32') {
        checkResponseSize(r.depth.byteLength, 'f32');
        reply.type('application/octet-stream').header('X-Dtype', 'float32le').header('X-Depth-Unit', 'm');
        return float32LE(r.depth);
      }
      const png = await r.toPNG16({ scale: DEPTH_SCALE });
      checkResponseSize(png.length, 'png16');
      reply.type('image/png').header('X-Depth-Scale', String(DEPTH_SCALE));
      return png;
    });
  });

  app.post('/pointcloud', async (request, reply) => {
    const intrinsics = intrinsicsFromQuery(request.query);
    const format = queryChoice(request.query, 'format', ['ply', 'pointcloud2']);
    const organised = queryBoolean(request.query, 'organised');
    const frameId = request.query.frame_id ?? 'camera_optical_frame';
    if (typeof frameId !== 'string' || !/^[A-Za-z0-9_/]{0,256}$/.test(frameId)) {
      throw new HttpError(400, 'ERR_INVALID_ARGUMENT', 'frame_id must be a ROS frame name (letters, digits, _ and /)');
    }
    const image = imageBody(request);
    return withSlot(request, reply, async () => {
      const cloud = await model.pointcloud(image, { intrinsics, organised, colour: true, normals: false });
      intrinsicsHeaders(reply, cloud);
      reply.header('Server-Timing', serverTiming(cloud.timings)).header('X-Point-Count', String(cloud.count));
      if (format === 'ply') {
        // x, y, z float32 and red, green, blue bytes per point, before the PLY header.
        checkResponseSize(cloud.count * 15, 'ply');
        const ply = cloud.toPLY();
        checkResponseSize(ply.length, 'ply');
        reply.type('application/x-ply').header('Content-Disposition', 'attachment; filename="cloud.ply"');
        return ply;
      }
      checkResponseSize(cloud.count * POINT_STEP, 'pointcloud2');
      const msg = toPointCloud2(cloud, { frameId });
      const { data, ...meta } = msg;
      reply
        .type('application/octet-stream')
        .header('X-PointCloud2', JSON.stringify(meta))
        .header('X-Width', String(msg.width))
        .header('X-Height', String(msg.height))
        .header('X-Point-Step', String(msg.point_step))
        .header('X-Row-Step', String(msg.row_step))
        .header('X-Is-Dense', String(msg.is_dense))
        .header('X-Is-Bigendian', String(msg.is_bigendian))
        .header('X-Frame-Id', msg.header.frame_id)
        .header('X-Fields', msg.fields.map((f) => `${f.name}:${f.offset}:${f.datatype}:${f.count}`).join(','));
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    });
  });

  return app;
}

// ---------------------------------------------------------------------------------
// Start-up when run as a script

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  const int = (v, d) => (v === undefined || v === '' ? d : Number(v));
  if (!env.MODEL) {
    console.error("MODEL is required: a registry name (MODEL=vit-small, after npx metric3d download vit-small), an .onnx path, or MODEL=demo for the bundled stand-in");
    process.exit(2);
  }
  const app = await createServer({
    model: env.MODEL,
    concurrency: int(env.CONCURRENCY, DEFAULTS.concurrency),
    maxQueue: int(env.MAX_QUEUE, DEFAULTS.maxQueue),
    bodyLimit: int(env.BODY_LIMIT, DEFAULTS.bodyLimit),
    maxPixels: int(env.MAX_PIXELS, DEFAULTS.maxPixels),
    maxResponseBytes: int(env.MAX_RESPONSE_BYTES, DEFAULTS.maxResponseBytes),
    requestTimeout: int(env.REQUEST_TIMEOUT_MS, DEFAULTS.requestTimeout),
    connectionTimeout: int(env.CONNECTION_TIMEOUT_MS, DEFAULTS.connectionTimeout),
    keepAliveTimeout: int(env.KEEP_ALIVE_TIMEOUT_MS, DEFAULTS.keepAliveTimeout),
    maxRequestsPerSocket: int(env.MAX_REQUESTS_PER_SOCKET, DEFAULTS.maxRequestsPerSocket),
    maxConnections: int(env.MAX_CONNECTIONS, DEFAULTS.maxConnections),
    stuckAfter: int(env.STUCK_AFTER_MS, DEFAULTS.stuckAfter),
    closeTimeout: int(env.CLOSE_TIMEOUT_MS, DEFAULTS.closeTimeout),
    logger: { level: env.LOG_LEVEL ?? 'info' },
  });
  const shutdownTimeoutMs = int(env.SHUTDOWN_TIMEOUT_MS, 30_000);

  // process.exit() joins the libuv thread pool, so it never returns while a native
  // decode or inference still runs there; SIGKILL ends the process in any case, once
  // the log line is written (or after a second).
  const kill = (message) => {
    app.log.error(message);
    const now = () => process.kill(process.pid, 'SIGKILL');
    setTimeout(now, 1000);
    app.log.flush?.(now);
  };
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      kill(`second signal (${signal}): killing the process`);
      return;
    }
    stopping = true;
    app.log.info({ signal, queue: app.depthQueue.stats() }, 'shutting down: refusing new requests, finishing in-flight ones');
    setTimeout(() => kill(`shutdown did not finish in ${shutdownTimeoutMs} ms; killing the process`), shutdownTimeoutMs).unref();
    try {
      await app.close(); // stops listening, waits for in-flight responses to be sent, then disposes the model
    } catch (e) {
      app.log.error(e, 'shutdown failed');
      process.exitCode = 1;
    }
    const { active } = app.depthQueue.stats();
    if (active > 0) {
      kill(`${active} prediction(s) still running ${int(env.CLOSE_TIMEOUT_MS, DEFAULTS.closeTimeout)} ms after the last response; killing the process`);
      return;
    }
    app.log.info('model disposed; bye');
    // Every connection has closed, so every response has been handed to the OS; the
    // process ends by itself once nothing else is pending.
    process.exitCode ??= 0;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  await app.listen({ port: int(env.PORT, 3000), host: env.HOST ?? '127.0.0.1' });
  app.log.info(`metric3d depth service: model ${app.metric3d.model.name ?? app.metric3d.model.path} on ${app.metric3d.backend}`);
  if (app.metric3d.model.standIn) {
    app.log.warn("STAND-IN: model 'demo' is the bundled stand-in, not Metric3D weights: its depth is not a measurement (responses carry X-Stand-In: true)");
  }
}
