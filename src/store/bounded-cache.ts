/**
 * A map that forgets its least recently used entries once it holds more than
 * `maxEntries` or more than `maxWeight` in total. The tree memos live as long
 * as a daemon does, so every one of them needs a bound.
 *
 * The count bound alone lets a daemon's memos fill up to it over a long
 * session of edits (every edit makes new digests; the old ones are never
 * asked for again), so entries also carry the period (a daemon's run, see
 * `tick`) they were last used in, and `forgetIdle` drops those no recent
 * period used, as the engine does with its graph.
 */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, { readonly value: V; readonly weight: number; readonly stamp: number }>();
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  #weight = 0;
  #clock = 0;

  constructor(maxEntries: number, maxWeight = Number.POSITIVE_INFINITY) {
    this.#maxEntries = maxEntries;
    this.#maxWeight = maxWeight;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    // Re-inserting moves the entry to the end: Map order is our recency order
    // (and so the stamps never decrease along it, which forgetIdle relies on).
    this.#map.delete(key);
    this.#map.set(key, e.stamp === this.#clock ? e : { ...e, stamp: this.#clock });
    return e.value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V, weight = 1): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#weight -= old.weight;
      this.#map.delete(key);
    }
    // Something heavier than the whole budget is not worth keeping.
    if (weight > this.#maxWeight) return;
    this.#map.set(key, { value, weight, stamp: this.#clock });
    this.#weight += weight;
    while (this.#map.size > this.#maxEntries || this.#weight > this.#maxWeight) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#weight -= this.#map.get(oldest.value)?.weight ?? 0;
      this.#map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    const old = this.#map.get(key);
    if (old === undefined) return;
    this.#weight -= old.weight;
    this.#map.delete(key);
  }

  /** Ends a period: entries used from now on are stamped with the next one. */
  tick(): void {
    this.#clock++;
  }

  /**
   * Forgets the entries none of the last `periods` periods used (the current
   * one included: 1 keeps only what the current period used); returns how
   * many. 0 or less forgets nothing. Costs the number forgotten, not the size.
   */
  forgetIdle(periods: number): number {
    if (periods <= 0) return 0;
    const oldest = this.#clock - periods + 1;
    let n = 0;
    for (const [key, e] of this.#map) {
      if (e.stamp >= oldest) break;
      this.#weight -= e.weight;
      this.#map.delete(key);
      n++;
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
    this.#weight = 0;
  }
}
