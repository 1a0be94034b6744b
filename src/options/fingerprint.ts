import { sha256Hex, stableJson } from '../core/index.js';
import { flagSpelling } from './naming.js';
import type { Options } from './options.js';

/**
 * The values of every `daemon: true` option, keyed `scope.name`. A daemon keeps
 * this from its start so that a client whose options differ can be told which
 * ones (`option --ignore changed`) before the daemon restarts.
 */
export function daemonOptionSnapshot(options: Options): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keyed = options
    .entries()
    .filter((e) => e.spec.daemon === true)
    .map((e) => [`${e.spec.scope}.${e.spec.name}`, e.value.value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of keyed) out[k] = v;
  return out;
}

/**
 * SHA-256 over the trews version and every daemon option's value. Canonical
 * JSON (keys sorted at every level) keeps it independent of registration
 * order and of the order keys were written in a dict option.
 */
export function daemonFingerprint(options: Options, version: string): string {
  return sha256Hex(stableJson({ version, options: daemonOptionSnapshot(options) }));
}

/**
 * Flag spellings (`--ignore`, `--test-timeout`) of the options whose values
 * differ between two snapshots, sorted; an option present in only one of them
 * (a trews upgrade added or dropped it) counts as changed.
 */
export function changedDaemonOptions(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed: string[] = [];
  for (const k of keys) {
    const inA = Object.prototype.hasOwnProperty.call(a, k);
    const inB = Object.prototype.hasOwnProperty.call(b, k);
    if (inA !== inB || stableJson(a[k]) !== stableJson(b[k])) changed.push(displayName(k));
  }
  return changed.sort();
}

function displayName(key: string): string {
  const dot = key.indexOf('.');
  return dot < 0 ? `--${key}` : flagSpelling(key.slice(0, dot), key.slice(dot + 1));
}
