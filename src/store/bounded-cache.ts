/**
 * A map that forgets its least recently used entries once it holds more than
 * `maxEntries` or more than `maxWeight` in total. The tree memos live as long
 * as a daemon does, so every one of them needs a bound.
 */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, { readonly value: V; readonly weight: number }>();
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  #weight = 0;

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
    // Re-inserting moves the entry to the end: Map order is our recency order.
    this.#map.delete(key);
    this.#map.set(key, e);
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
    this.#map.set(key, { value, weight });
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

  clear(): void {
    this.#map.clear();
    this.#weight = 0;
  }
}
