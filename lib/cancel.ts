/**
 * Stopping one request: the caller's `signal` and `timeoutMs` combined into one internal
 * AbortSignal whose reason is the typed error ({@link AbortError} or {@link TimeoutError}).
 * The pipeline and the backends check it between steps, and the caller's promise is
 * raced against it, so a stopped request rejects at once while the step already running
 * finishes in the background and its result is dropped.
 * @internal
 */
import { AbortError, TimeoutError } from './errors';

/** The stop state of one request. */
export interface RequestStop {
  /** Aborted when the caller's signal aborts or the time limit passes; `reason` is the typed error. */
  readonly signal: AbortSignal;
  /** Rejects with the typed error once the request is stopped; never resolves. */
  readonly stopped: Promise<never>;
  /** Throws the typed error when the request has been stopped. */
  check(): void;
  /** Clears the timer and the listener on the caller's signal. */
  done(): void;
}

/**
 * The stop state of a `what` request (`'predict'`, `'pointcloud'`), or undefined when
 * neither a signal nor a time limit was given. Throws {@link AbortError} when the
 * signal is already aborted.
 */
export function requestStop(what: string, signal: AbortSignal | undefined, timeoutMs: number | undefined): RequestStop | undefined {
  if (!signal && timeoutMs === undefined) return undefined;
  const aborted = () => new AbortError(`the ${what} request was aborted`, { cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(aborted());
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs === undefined ? undefined : setTimeout(() => ctrl.abort(new TimeoutError(`the ${what} request timed out after ${timeoutMs} ms`)), timeoutMs);
  const stopped = new Promise<never>((_, reject) => {
    ctrl.signal.addEventListener('abort', () => reject(ctrl.signal.reason), { once: true });
  });
  stopped.catch(() => undefined); // observed through the race; never an unhandled rejection
  return {
    signal: ctrl.signal,
    stopped,
    check() {
      if (ctrl.signal.aborted) throw ctrl.signal.reason;
    },
    done() {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Throws the reason of an aborted internal signal (the typed error); nothing otherwise. */
export function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}
