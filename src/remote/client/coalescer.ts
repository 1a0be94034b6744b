import { abortError, type Digest } from '../../core/index.js';
import { forEachLimit } from './blob-transfer.js';
import type { CallContext } from './request-metadata.js';
import { onAbort } from './signals.js';
import { SoonTimer } from './soon-timer.js';

/**
 * Gathers the requests of concurrent callers (actions) for a short window
 * and sends them as few calls as their limits allow: when a build finishes,
 * the actions that waited for it start together, and each asking the server
 * on its own costs a round trip apiece (REAPI's batch methods take the
 * digests of any number of actions).
 *
 * An item is keyed by its digest; the same digest asked for by two callers
 * goes once. A group is sent when the window ends (timed from the first
 * request waiting) or at once when the waiting items fill `maxItems` or
 * `maxCost`; a group larger than that is split, and the parts go out
 * together. A caller gets the answers for its own items, or the error of a
 * call that carried one of them. An aborted caller leaves at once; the
 * call goes on for the others and is itself aborted only when every caller
 * it carries has left.
 */
export interface CoalescerOptions<I extends { readonly digest: Digest }, O> {
  /** How long the first waiting request waits for others. */
  readonly windowMs: number;
  /** Items per call at most. */
  readonly maxItems: number;
  /** The cost of an item (e.g. its encoded size) and the most one call may carry; default: no cost limit. */
  readonly cost?: (item: I) => number;
  readonly maxCost?: () => Promise<number>;
  /** Calls in flight at once when a group is split. */
  readonly concurrency: number;
  /**
   * Callers known to be on their way (e.g. actions preparing their upload):
   * once that many wait, and at least `min`, the window ends at once
   * rather than when its time is up.
   */
  readonly expected?: { readonly count: () => number; readonly min: number };
  /** One call for these items (distinct keys): an answer per key, or absent. Throws for the whole call. */
  readonly send: (items: readonly I[], signal: AbortSignal, call: CallContext | undefined) => Promise<ReadonlyMap<string, O>>;
}

interface Waiter<I, O> {
  readonly items: readonly I[];
  readonly signal: AbortSignal | undefined;
  readonly call: CallContext | undefined;
  readonly resolve: (answers: Map<string, O>) => void;
  readonly reject: (e: unknown) => void;
  settled: boolean;
}

const keyOf = (d: Digest): string => `${d.hash}/${d.sizeBytes}`;

export class Coalescer<I extends { readonly digest: Digest }, O> {
  readonly #o: CoalescerOptions<I, O>;
  #waiting: Waiter<I, O>[] = [];
  #waitingItems = 0;
  #waitingCost = 0;
  #maxCost: number | undefined;
  readonly #timer = new SoonTimer(() => void this.#flush());
  /** Calls sent so far. */
  calls = 0;

  constructor(o: CoalescerOptions<I, O>) {
    this.#o = o;
  }

  /** The answers for `items`, keyed `hash/size`. */
  submit(items: readonly I[], signal?: AbortSignal, call?: CallContext): Promise<Map<string, O>> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (items.length === 0) return Promise.resolve(new Map());
    return new Promise<Map<string, O>>((resolve, reject) => {
      let off = (): void => undefined;
      const w: Waiter<I, O> = {
        items,
        signal,
        call,
        resolve: (a) => {
          off();
          resolve(a);
        },
        reject: (e) => {
          off();
          reject(e);
        },
        settled: false,
      };
      if (signal !== undefined) off = onAbort(signal, () => settle(w, () => w.reject(abortError())));
      this.#waiting.push(w);
      this.#waitingItems += items.length;
      if (this.#o.cost !== undefined) for (const i of items) this.#waitingCost += this.#o.cost(i);
      const full = this.#waitingItems >= this.#o.maxItems || (this.#maxCost !== undefined && this.#waitingCost >= this.#maxCost);
      this.#timer.soon(full || this.#allIn() ? 0 : this.#o.windowMs);
    });
  }

  /** A caller that was expected will not come after all: the waiting ones may not need to wait. */
  reconsider(): void {
    if (this.#waiting.length > 0 && this.#allIn()) this.#timer.soon(0);
  }

  #allIn(): boolean {
    const e = this.#o.expected;
    if (e === undefined) return false;
    const n = e.count();
    return n >= e.min && this.#waiting.filter((w) => !w.settled).length >= n;
  }

  async #flush(): Promise<void> {
    const waiters = this.#waiting.filter((w) => !w.settled);
    this.#waiting = [];
    this.#waitingItems = 0;
    this.#waitingCost = 0;
    if (waiters.length === 0) return;
    // The call is abandoned only when every caller it carries has left.
    const controller = new AbortController();
    let left = waiters.length;
    const offs: (() => void)[] = [];
    for (const w of waiters) {
      if (w.signal === undefined) left = Infinity;
      else offs.push(onAbort(w.signal, () => --left === 0 && controller.abort()));
    }
    const unique = new Map<string, I>();
    for (const w of waiters) for (const i of w.items) unique.set(keyOf(i.digest), i);
    let groups: I[][];
    try {
      groups = await this.#split([...unique.values()]);
    } catch (e) {
      for (const w of waiters) settle(w, () => w.reject(e));
      return;
    }
    const answers = new Map<string, O>();
    const failed = new Map<string, unknown>();
    const call = sharedCall(waiters);
    await forEachLimit(groups, this.#o.concurrency, async (group) => {
      this.calls++;
      try {
        const got = await this.#o.send(group, controller.signal, call);
        for (const [k, v] of got) answers.set(k, v);
      } catch (e) {
        for (const i of group) failed.set(keyOf(i.digest), e);
      }
    }).catch(() => undefined);
    for (const off of offs) off();
    for (const w of waiters) {
      settle(w, () => {
        const mine = new Map<string, O>();
        for (const i of w.items) {
          const k = keyOf(i.digest);
          const e = failed.get(k);
          if (e !== undefined) return w.reject(e);
          const a = answers.get(k);
          if (a !== undefined) mine.set(k, a);
        }
        w.resolve(mine);
      });
    }
  }

  /** Groups within `maxItems` and `maxCost`, first fit in order. */
  async #split(items: readonly I[]): Promise<I[][]> {
    const maxCost = this.#o.maxCost === undefined ? Infinity : await this.#o.maxCost();
    this.#maxCost = maxCost;
    const cost = this.#o.cost ?? (() => 0);
    const groups: I[][] = [];
    let current: I[] = [];
    let used = 0;
    for (const i of items) {
      const c = cost(i);
      if (current.length > 0 && (current.length >= this.#o.maxItems || used + c > maxCost)) {
        groups.push(current);
        current = [];
        used = 0;
      }
      current.push(i);
      used += c;
    }
    if (current.length > 0) groups.push(current);
    return groups;
  }
}

function settle<I, O>(w: Waiter<I, O>, fn: () => void): void {
  if (w.settled) return;
  w.settled = true;
  fn();
}

/** The RequestMetadata of a call made for several callers: the run they share, and an action only when all are one action. */
function sharedCall<I, O>(waiters: readonly Waiter<I, O>[]): CallContext | undefined {
  const first = waiters[0]?.call;
  if (first === undefined) return undefined;
  const same = <K extends keyof CallContext>(k: K): CallContext[K] | undefined => (waiters.every((w) => w.call?.[k] === first[k]) ? first[k] : undefined);
  const invocationId = same('invocationId');
  const actionId = same('actionId');
  const mnemonic = same('mnemonic');
  return { ...(invocationId !== undefined ? { invocationId } : {}), ...(actionId !== undefined ? { actionId } : {}), ...(mnemonic !== undefined ? { mnemonic } : {}) };
}
