import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Digest } from '../core/index.js';
import { digestMismatch } from './store-failures.js';

export interface VerifyHooks {
  /** Called once when the content matched. */
  onVerified?(): void;
  /** Called once when it did not; the stream errors after the returned promise settles (e.g. the bad file is gone). */
  onMismatch?(): void | Promise<void>;
}

/**
 * Passes bytes through while hashing them, and errors (FailureError
 * `digest-mismatch`) instead of ending when they do not hash to `expected`.
 * It errors as soon as there are more bytes than the digest's size, so a
 * wrong or hostile stream never fills a disk.
 */
export class DigestVerifier extends Transform {
  readonly #expected: Digest;
  readonly #what: string;
  readonly #hooks: VerifyHooks;
  readonly #hash = createHash('sha256');
  #size = 0;

  constructor(expected: Digest, what: string, hooks: VerifyHooks = {}) {
    super();
    this.#expected = expected;
    this.#what = what;
    this.#hooks = hooks;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#expected.sizeBytes) {
      this.#fail(digestMismatch(this.#expected, { sizeAtLeast: this.#size }, this.#what), callback);
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const hash = this.#hash.digest('hex');
    if (hash !== this.#expected.hash || this.#size !== this.#expected.sizeBytes) {
      this.#fail(digestMismatch(this.#expected, { hash, sizeBytes: this.#size }, this.#what), callback);
      return;
    }
    this.#hooks.onVerified?.();
    callback();
  }

  #fail(error: Error, callback: TransformCallback): void {
    Promise.resolve()
      .then(() => this.#hooks.onMismatch?.())
      .catch(() => undefined)
      .then(() => callback(error), () => callback(error));
  }
}
