import { FailureError, abortError, digestString, isAbortError, isFailureError, type Digest, type Logger } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';
import { describeError } from './describe-error.js';
import type { ByteStoreProvider } from './provider.js';
import { abortable, onAbort } from './signals.js';
import { SoonTimer } from './soon-timer.js';

/**
 * Output files of remotely executed actions, downloaded after their result
 * was handed on (`cache_content_behavior` = `fetch` with remote execution):
 * the next action needs only their digests (the server holds them), so the
 * chain of actions does not wait for their bytes. Downloads of several
 * actions go together, as few BatchReadBlobs as the limits allow, when
 *
 * - `delayMs` has passed since the first one waiting (others join it),
 * - the bytes waiting reach `maxWaitingBytes`,
 * - something local reads one of them (`need`: the fetching store, a
 *   sandbox, an upload after the server lost it), or
 * - the run ends (`drain`): a run is not over before every output is in
 *   the local store, and a download that failed fails the run there.
 *
 * Each blob is verified as any download is (`downloadTo`). A blob whose
 * download failed stays owed: reading it later tries again, and fails with
 * that download's error if it fails again.
 */
export interface OutputFetcher {
  /** Downloads these soon (`what` names each in errors); the download stops only when every run signal it was scheduled under has aborted. */
  schedule(outputs: readonly { readonly digest: Digest; readonly what: string }[], signal?: AbortSignal): void;
  /** Whether `d` was scheduled and is not known to be in the local store yet. */
  owes(d: Digest): boolean;
  /** Fetches `d` now if it is owed (with whatever else waits), resolving once it is in the local store; throws that download's failure. */
  need(d: Digest, signal?: AbortSignal): Promise<void>;
  /** Sends everything waiting and waits for every download; throws for the first output whose download failed since the last drain (aborted ones are not failures here). */
  drain(): Promise<void>;
}

export interface OutputFetcherOptions {
  /** The plain local store (not a fetching wrapper: no download may wait for itself). */
  readonly local: BlobStore;
  readonly remote: () => Promise<ByteStoreProvider>;
  readonly delayMs?: number;
  readonly maxWaitingBytes?: number;
  readonly logger: Logger;
}

/**
 * How long the first output waiting for a download waits for others. Nothing
 * waits on it (a read sends it at once, and so does the run's end), so it
 * only sets how many actions' outputs share a BatchReadBlobs: a step of a
 * chain is ~100 ms on loopback.
 */
export const OUTPUT_FETCH_DELAY_MS = 1000;
/** Bytes waiting that send a download at once (a batch's worth, roughly). */
const MAX_WAITING_BYTES = 2 * 1024 * 1024;
/** Failed downloads remembered for a retry on read; past this they are forgotten (a read then just misses). */
const MAX_FAILED = 100_000;

export function createOutputFetcher(o: OutputFetcherOptions): OutputFetcher {
  return new Fetcher(o);
}

interface Owed {
  readonly digest: Digest;
  readonly what: string;
  /** Settles when the download that carries it ends (undefined while it only waits). */
  flight: Promise<void> | undefined;
  /** The failure of its last download. */
  error: unknown;
  /** Whether a drain has reported its error (it stays owed, for a retry on read). */
  reported: boolean;
  readonly signals: Set<AbortSignal | undefined>;
}

class Fetcher implements OutputFetcher {
  readonly #o: OutputFetcherOptions;
  readonly #delayMs: number;
  readonly #maxBytes: number;
  /** Every digest scheduled and not yet in the local store (waiting, in flight, or failed). */
  readonly #owed = new Map<string, Owed>();
  #waiting: Owed[] = [];
  #waitingBytes = 0;
  readonly #timer = new SoonTimer(() => this.#send());
  readonly #flights = new Set<Promise<void>>();

  constructor(o: OutputFetcherOptions) {
    this.#o = o;
    this.#delayMs = o.delayMs ?? OUTPUT_FETCH_DELAY_MS;
    this.#maxBytes = o.maxWaitingBytes ?? MAX_WAITING_BYTES;
  }

  schedule(outputs: readonly { readonly digest: Digest; readonly what: string }[], signal?: AbortSignal): void {
    for (const { digest: d, what } of outputs) {
      if (d.sizeBytes === 0) continue; // its content is known: never downloaded
      const key = digestString(d);
      const known = this.#owed.get(key);
      if (known !== undefined) {
        known.signals.add(signal);
        if (known.flight === undefined && known.error !== undefined) this.#enqueue(known);
        continue;
      }
      const owed: Owed = { digest: d, what, flight: undefined, error: undefined, reported: false, signals: new Set([signal]) };
      this.#owed.set(key, owed);
      this.#enqueue(owed);
    }
    if (this.#waitingBytes >= this.#maxBytes) this.#timer.soon(0);
    else if (this.#waiting.length > 0) this.#timer.soon(this.#delayMs);
  }

  owes(d: Digest): boolean {
    return this.#owed.has(digestString(d));
  }

  async need(d: Digest, signal?: AbortSignal): Promise<void> {
    const owed = this.#owed.get(digestString(d));
    if (owed === undefined) return;
    if (signal?.aborted) throw abortError();
    owed.signals.add(signal);
    if (owed.flight === undefined) {
      if (owed.error !== undefined) {
        // A failed download owed again: try once more, now.
        owed.error = undefined;
        owed.reported = false;
        this.#enqueue(owed);
      }
      this.#send();
    }
    await abortable(owed.flight!, signal);
    if (owed.error !== undefined) throw outputFailure(owed);
  }

  async drain(): Promise<void> {
    this.#send();
    while (this.#flights.size > 0) await Promise.all([...this.#flights]);
    const failed = [...this.#owed.values()].filter((o) => o.error !== undefined && !o.reported && !isAbortError(o.error));
    for (const o of failed) o.reported = true;
    if (failed[0] !== undefined) throw outputFailure(failed[0], failed.length - 1);
  }

  #enqueue(owed: Owed): void {
    this.#waiting.push(owed);
    this.#waitingBytes += owed.digest.sizeBytes;
  }

  /** One download for everything waiting; each owed digest's `flight` settles with it. */
  #send(): void {
    this.#timer.cancel();
    const batch = this.#waiting;
    this.#waiting = [];
    this.#waitingBytes = 0;
    if (batch.length === 0) return;
    // Abandoned only when every run that scheduled one of them has aborted.
    const controller = new AbortController();
    const signals = new Set<AbortSignal | undefined>();
    for (const o of batch) for (const s of o.signals) if (s === undefined || !s.aborted) signals.add(s);
    // Only runs cut short (Ctrl-C) scheduled these: nothing will read them.
    if (signals.size === 0) controller.abort();
    let live = signals.has(undefined) ? Infinity : signals.size;
    const offs = [...signals].filter((s): s is AbortSignal => s !== undefined).map((s) => onAbort(s, () => --live === 0 && controller.abort()));
    const flight = this.#download(batch, controller.signal).finally(() => {
      for (const off of offs) off();
      this.#flights.delete(flight);
    });
    this.#flights.add(flight);
    for (const o of batch) o.flight = flight;
  }

  async #download(batch: readonly Owed[], signal: AbortSignal): Promise<void> {
    const errors = new Map<Owed, unknown>();
    try {
      const remote = await this.#o.remote();
      const error = await failureOf(remote.downloadTo(this.#o.local, batch.map((o) => o.digest), signal));
      if (error !== undefined) {
        // One bad blob fails a whole batch: those of it not stored go again
        // one by one, so each output is blamed for its own failure only.
        const missing = new Set((await this.#o.local.findMissing(batch.map((o) => o.digest)).catch(() => batch.map((o) => o.digest))).map(digestString));
        const again = batch.filter((o) => missing.has(digestString(o.digest)));
        if (again.length === 1 || isAbortError(error)) for (const o of again) errors.set(o, error);
        else {
          await Promise.all(
            again.map(async (o) => {
              const e = await failureOf(remote.downloadTo(this.#o.local, [o.digest], signal));
              if (e !== undefined) errors.set(o, e);
            }),
          );
        }
      }
    } catch (e) {
      for (const o of batch) errors.set(o, e); // the provider could not be had
    }
    for (const o of batch) {
      o.flight = undefined;
      const error = errors.get(o);
      if (error !== undefined) {
        o.error = error;
        o.reported = false;
        o.signals.clear();
        if (!isAbortError(error)) this.#o.logger.debug(`remote execution: downloading ${o.what} failed: ${describeError(error)}`);
      } else this.#owed.delete(digestString(o.digest));
    }
    if (this.#owed.size > MAX_FAILED) this.#forgetFailed();
  }

  #forgetFailed(): void {
    for (const [k, o] of this.#owed) if (o.flight === undefined && o.error !== undefined) this.#owed.delete(k);
  }
}

/** What `p` failed with, or undefined when it succeeded. */
async function failureOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e ?? new Error('failed');
  }
}

/** The failure of an output's download, naming the output (the download's own message names only the blob). */
function outputFailure(o: Owed, others = 0): unknown {
  const e = o.error;
  if (!isFailureError(e)) return e;
  const f = e.failure;
  const more = others > 0 ? ` (and ${others} other output${others === 1 ? '' : 's'})` : '';
  return new FailureError({ ...f, message: `cannot download ${o.what}${more} into the local store: ${f.message}` });
}
