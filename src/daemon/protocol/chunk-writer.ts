import type { Writable } from 'node:stream';

/**
 * Puts encoded chunks on a socket in the order they are given, from any number of
 * producers (stdout, stderr, stdin requests, heartbeats, the exit code), so the
 * peer sees them in exactly that order. Backpressure is per call: a callback is
 * held until the socket has drained, which is what lets a producer (a Writable's
 * `_write`) slow down to the pace of the peer without the socket's buffer growing
 * without bound.
 *
 * Once closed, chunks are dropped and every callback runs at once: the peer is
 * gone, and the daemon must never fail a run (or crash) because output could
 * not be delivered; the session's AbortSignal says that the peer left.
 */
export class ChunkWriter {
  readonly #socket: Writable;
  #waiting: (() => void)[] = [];
  #closed = false;
  #corked = false;

  constructor(socket: Writable) {
    this.#socket = socket;
  }

  get closed(): boolean {
    return this.#closed || this.#socket.destroyed || this.#socket.writableEnded;
  }

  /** True while callbacks are being held for a drain. */
  get blocked(): boolean {
    return this.#waiting.length > 0;
  }

  write(frame: Buffer, done?: () => void): void {
    if (this.closed) {
      done?.();
      return;
    }
    // The chunks of one tick (a build's fifty result lines) leave in one
    // writev, not a system call each; the order is the same.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    const roomLeft = this.#socket.write(frame);
    if (roomLeft && this.#waiting.length === 0) {
      done?.();
      return;
    }
    if (this.#waiting.length === 0) this.#socket.once('drain', this.#onDrain);
    this.#waiting.push(done ?? noop);
  }

  /** Drops everything from now on and releases every held callback. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.off('drain', this.#onDrain);
    this.#release();
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  readonly #onDrain = (): void => {
    this.#release();
  };

  #release(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const done of waiting) done();
  }
}

function noop(): void {}
