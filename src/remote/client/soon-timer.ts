/**
 * A batch's send, scheduled: a later request can bring it forward (0: at the
 * next turn) but never put it off, so the first item waiting bounds the
 * batch's delay. Used by the upload coalescer and the background output
 * fetcher alike.
 *
 * "The next turn" is setImmediate, not setTimeout(0): Node makes a 0 ms
 * timeout 1 ms, which was ~1.4 ms between the last action of a step
 * joining an upload and the upload being sent (bench/README.md, "remote
 * execution, the plumbing of a step").
 */
export class SoonTimer {
  #due: { readonly cancel: () => void } | undefined;
  readonly #fire: () => void;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Fires in `ms`, unless a call is already due; `0` brings a due call forward. */
  soon(ms: number): void {
    if (this.#due !== undefined) {
      if (ms > 0) return;
      this.#due.cancel();
    }
    const fire = (): void => {
      this.#due = undefined;
      this.#fire();
    };
    if (ms <= 0) {
      const h = setImmediate(fire);
      this.#due = { cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(fire, ms);
      this.#due = { cancel: () => clearTimeout(h) };
    }
  }

  /** Forgets a due call (the batch is being sent now, or never). */
  cancel(): void {
    if (this.#due === undefined) return;
    this.#due.cancel();
    this.#due = undefined;
  }
}
