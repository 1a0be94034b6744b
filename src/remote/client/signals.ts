import type { Readable } from 'node:stream';
import { abortError } from '../../core/index.js';

const callbacks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` when `signal` aborts; returns the way to stop listening. All
 * callers on one signal share a single 'abort' listener: one action's
 * transfers put a dozen calls at once on its signal, and Node prints
 * MaxListenersExceededWarning past 10 listeners. Like addEventListener, it
 * never calls `fn` for a signal that has already aborted: check first.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) return () => undefined;
  let set = callbacks.get(signal);
  if (set === undefined) {
    const fns = new Set<() => void>();
    set = fns;
    callbacks.set(signal, fns);
    signal.addEventListener(
      'abort',
      () => {
        callbacks.delete(signal);
        for (const f of [...fns]) f();
      },
      { once: true },
    );
  }
  const mine = set;
  mine.add(fn);
  return () => void mine.delete(fn);
}

/** stream.addAbortSignal through onAbort: the stream is destroyed with an AbortError when `signal` aborts. */
export function destroyOnAbort<S extends Readable>(signal: AbortSignal, stream: S): S {
  if (signal.aborted) {
    stream.destroy(abortError());
    return stream;
  }
  const off = onAbort(signal, () => stream.destroy(abortError()));
  stream.once('close', off);
  return stream;
}


/**
 * Stops waiting for a shared promise (without cancelling it: others may
 * wait for it too) when `signal` aborts, rejecting with an AbortError.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    // Not waited for, but still running: its failure is nobody's to report.
    p.catch(() => undefined);
    return Promise.reject(abortError());
  }
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(signal, () => reject(abortError()));
    p.then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}
