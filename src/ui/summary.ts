/** Counts how processes were served, for the line that ends a run. */
export class ProcessTally {
  readonly #counts = new Map<string, number>();
  #failed = 0;

  add(source: string): void {
    this.#counts.set(source, (this.#counts.get(source) ?? 0) + 1);
  }

  failed(): void {
    this.#failed += 1;
  }

  get total(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n + this.#failed;
  }

  count(source: string): number {
    return this.#counts.get(source) ?? 0;
  }

  /**
   * `400 processes: 12 ran locally, 388 from the local cache` — sources in a fixed
   * order, zero counts left out.
   */
  line(): string {
    const order = ['ran locally', 'remote', 'local cache', 'remote cache'];
    const parts: string[] = [];
    const keys = [...order, ...[...this.#counts.keys()].filter((k) => !order.includes(k)).sort()];
    for (const k of keys) {
      const n = this.#counts.get(k) ?? 0;
      if (n === 0) continue;
      parts.push(k === 'ran locally' || k === 'remote' ? `${n} ${k === 'remote' ? 'ran remotely' : k}` : `${n} from the ${k}`);
    }
    if (this.#failed > 0) parts.push(`${this.#failed} could not run`);
    const total = this.total;
    return `${total} process${total === 1 ? '' : 'es'}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
  }
}

/** `0.42s`, `1m03s`: how long something took, for result lines. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
