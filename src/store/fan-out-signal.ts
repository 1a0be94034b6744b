import { setMaxListeners } from 'node:events';

/**
 * Runs `fn` with a signal of our own that follows `parent`. Every stream
 * pipeline given a signal adds an abort listener to it, and Node warns
 * (on stderr, once per process) past 10 listeners on one signal; dozens of
 * concurrent file copies are normal here. The caller's signal is not ours
 * to reconfigure, so the copies share a private one without that limit.
 */
export async function withFanOutSignal<T>(parent: AbortSignal | undefined, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (parent === undefined) return fn(undefined);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(controller.signal);
  } finally {
    parent.removeEventListener('abort', onAbort);
  }
}
