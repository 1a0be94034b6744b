/**
 * A batch's send, scheduled: a later request can bring it forward (0: at the
 * next turn) but never put it off, so the first item waiting bounds the
 * batch's delay. Used by the upload coalescer and the background output
 * fetcher alike.
 */
export class SoonTimer {
  #timer: NodeJS.Timeout | undefined;
  readonly #fire: () => void;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Fires in `ms`, unless a call is already due; `0` brings a due call forward. */
  soon(ms: number): void {
    if (this.#timer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, ms);
  }

  /** Forgets a due call (the batch is being sent now, or never). */
  cancel(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
