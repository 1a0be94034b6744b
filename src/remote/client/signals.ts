import { abortError } from '../../core/index.js';

/**
 * Aborted when any of `signals` is. AbortSignal.any() appeared in Node
 * 20.3; trews supports every Node 20, so this is the fallback.
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const native = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (native !== undefined) return native.call(AbortSignal, [...signals]);
  const ctl = new AbortController();
  const listeners = new Map<AbortSignal, () => void>();
  const detach = (): void => {
    for (const [s, l] of listeners) s.removeEventListener('abort', l);
  };
  for (const s of signals) {
    if (s.aborted) {
      detach();
      ctl.abort(s.reason);
      return ctl.signal;
    }
    const l = (): void => {
      detach();
      ctl.abort(s.reason);
    };
    listeners.set(s, l);
    s.addEventListener('abort', l, { once: true });
  }
  return ctl.signal;
}

/**
 * Stops waiting for a shared promise (without cancelling it: others may
 * wait for it too) when `signal` aborts, rejecting with an AbortError.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
