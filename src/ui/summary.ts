import { palette as makePalette, type Palette } from './colors.js';

/** The order sources are told in, and how each is said. */
const SOURCES: readonly (readonly [string, string])[] = [
  ['ran locally', 'ran locally'],
  ['remote', 'ran remotely'],
  ['local cache', 'from the local cache'],
  ['remote cache', 'from the remote cache'],
];

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
   * `12 ran locally, 388 from the local cache` — sources in a fixed order,
   * zero counts left out; `none` when no process was asked for.
   */
  parts(colors: Palette = makePalette(false)): string {
    const known = SOURCES.map(([k]) => k);
    const parts: string[] = [];
    for (const [k, said] of [...SOURCES, ...[...this.#counts.keys()].filter((k) => !known.includes(k)).sort().map((k) => [k, k] as const)]) {
      const n = this.#counts.get(k) ?? 0;
      if (n === 0) continue;
      const text = `${n} ${said}`;
      parts.push(k === 'local cache' || k === 'remote cache' ? colors.cyan(text) : text);
    }
    if (this.#failed > 0) parts.push(colors.red(`${this.#failed} could not run`));
    return parts.length > 0 ? parts.join(', ') : 'none';
  }
}

/** `0.42s`, `1m03s`: how long something took, for result lines. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

/** `0.42s`, `4.2s`, `1m03s`: the wall time of a whole goal, for its summary. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(ms);
}

export interface SummaryParts {
  /** What the goal did, told by the goal: `Tests: 58 passed, 2 failed, 60 total`. */
  readonly results?: string;
  /** How the processes were served: ProcessTally.parts(). */
  readonly processes: string;
  readonly elapsedMs: number;
  /**
   * Wraps the elapsed time, for a run recorded for replay
   * (cli/replay-record.ts): the record leaves it out, and a replay prints
   * its own time there, not the recorded run's.
   */
  readonly markElapsed?: (elapsed: string) => string;
}

/**
 * The one line that ends a goal, as Turborepo's and Jest's do:
 * `Tests: 58 passed, 2 failed, 60 total · Processes: 12 ran locally, 108 from the local cache · Time: 4.2s`.
 */
export function summaryLine(p: SummaryParts, colors: Palette = makePalette(false)): string {
  const elapsed = formatElapsed(p.elapsedMs);
  const parts = [...(p.results !== undefined ? [p.results] : []), `${colors.bold('Processes:')} ${p.processes}`, `${colors.bold('Time:')} ${p.markElapsed?.(elapsed) ?? elapsed}`];
  return parts.join(colors.dim(' · '));
}

export interface Counted {
  readonly count: number;
  /** `passed`, `failed`, `could not run`. */
  readonly label: string;
  readonly tone?: 'good' | 'bad';
}

/**
 * `Tests: 58 passed, 2 failed, 60 total (40 memoized)`: zero counts left
 * out, except that something always precedes the total.
 */
export function countsLine(title: string, counts: readonly Counted[], total: number, memoized: number, colors: Palette = makePalette(false)): string {
  const shown = counts.filter((c) => c.count > 0);
  const parts = shown.map((c) => {
    const text = `${c.count} ${c.label}`;
    return c.tone === 'good' ? colors.green(text) : c.tone === 'bad' ? colors.red(colors.bold(text)) : text;
  });
  parts.push(`${total} total`);
  const memo = memoized > 0 ? ` (${memoized} memoized)` : '';
  return `${colors.bold(`${title}:`)} ${parts.join(', ')}${memo}`;
}
