import type { Location } from '../core/index.js';
import type { Address } from './address.js';
import type { FieldValue } from './fields.js';

/** One entry of a `dependencies` field, kept with where it was written. */
export interface DependencyRef {
  /** As written, e.g. `//lib:util`, `:sibling`, `!./excluded.txt`. */
  readonly raw: string;
  readonly location: Location;
  /** Declared by a synthetic target's provider (a package.json's dependencies), not written in a BUILD file. */
  readonly inferred?: boolean;
}

/**
 * A target after its BUILD file was read and its fields checked: plain data, so
 * the engine can compare it and cut off when an edit changed nothing that matters.
 */
export interface Target {
  /** Canonical address string (`src/app:app`). */
  readonly address: string;
  readonly addr: Address;
  readonly type: string;
  /** Every field with its value (declared or default), `name` and `dependencies` included. */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** BUILD file and position of the call that declared it (the generator's, for generated targets). */
  readonly buildFile: string;
  readonly line: number;
  readonly col: number;
  /** Files this target owns, root-relative, sorted. */
  readonly sources: readonly string[];
  /**
   * Patterns of the `sources`/`source` field, root-relative; ownership of a deleted
   * file (for `--changed-since`) is decided by them.
   */
  readonly sourcePatterns: readonly string[];
  /** For a generated target, the address of its generator. */
  readonly generatedFrom?: string;
  /** For a generator, the targets it generated, sorted by address. */
  readonly generated?: readonly Address[];
  readonly dependencyRefs: readonly DependencyRef[];
}

/** Field accessors that keep the casts in one place. */
export function stringField(t: Target, name: string): string | null {
  const v = t.fields[name];
  return typeof v === 'string' ? v : null;
}

export function stringListField(t: Target, name: string): readonly string[] {
  const v = t.fields[name];
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'string') as string[]) : [];
}

export function tagsOf(t: Target): readonly string[] {
  return stringListField(t, 'tags');
}
