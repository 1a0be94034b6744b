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
