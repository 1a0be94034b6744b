import type { Failure } from '../core/index.js';
import type { Provenance } from '../runtime/index.js';
import { failureHeadline, naturalCompare, renderFailure, type Palette } from '../ui/index.js';

/**
 * What the goals that run processes (`test`, `build`, `check`, `export`)
 * share in their result lines, so the four read alike.
 */

/** `(local cache)`: dim when the process ran, cyan when a cache or the graph served it. */
export function provenanceText(p: Provenance | undefined, colors: Palette): string {
  const text = `(${p})`;
  return p === 'ran locally' || p === 'remote' ? colors.dim(text) : colors.cyan(text);
}

/** The same failure, whichever target reached it: what it says and where, not how each target got there. */
export function failureKey(f: Failure): string {
  return JSON.stringify([f.tag, f.reason, failureHeadline(f), f.notes ?? [], f.hints ?? []]);
}

/** `a:t1, a:t2, … and 12 more`. */
export function addressList(addresses: readonly string[], max = 10): string {
  const names = [...addresses].sort(naturalCompare);
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

interface Group {
  readonly failure: Failure;
  readonly addresses: string[];
}

/**
 * Failures of targets that could not get a result (a dependency's build
 * failed): the first target to reach one prints it whole, the others say
 * it is the same; `recap` tells each once with the targets it stopped.
 */
export class FailureGroups {
  readonly #groups = new Map<string, Group>();

  /** The lines to print now for `address`, whose line is `headline`. */
  add(address: string, headline: string, f: Failure, colors: Palette): string {
    const key = failureKey(f);
    const same = this.#groups.get(key);
    if (same === undefined) {
      this.#groups.set(key, { failure: f, addresses: [address] });
      return `${headline}\n${renderFailure(f, { colors }).trimEnd()}`;
    }
    same.addresses.push(address);
    return `${headline} ${colors.dim(`(the same error as ${same.addresses[0]!}, above)`)}`;
  }

  get size(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.addresses.length;
    return n;
  }

  /** `✕ BUILD:4:1: … failed` / `    2 tests could not run: a, b`, by headline. */
  recap(noun: string, what: string, colors: Palette): string[] {
    const lines: string[] = [];
    const groups = [...this.#groups.values()].sort((a, b) => naturalCompare(failureHeadline(a.failure), failureHeadline(b.failure)));
    for (const g of groups) {
      const n = g.addresses.length;
      lines.push(`${colors.red('✕')} ${failureHeadline(g.failure)}`, `    ${n} ${noun}${n === 1 ? '' : 's'} ${what}: ${addressList(g.addresses)}`);
    }
    return lines;
  }
}
