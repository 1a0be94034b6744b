import type { AnyKey } from './types.js';

/**
 * How one kind of key comes back from its id, for a graph a process without
 * a daemon kept (Engine.importGraph). Every key that computes on its own —
 * file-system keys, inputs, transient keys — must have one: without it the
 * node comes back as a stub, and everything above it that re-validates
 * through it recomputes on every run. The layer that owns the key declares
 * its rebuilder next to it; the application assembles them (createKeyRebuilders).
 */
export interface KeyRebuilder {
  /** The ids it rebuilds, as keyKindOf names them: `tool-lookup:`, or a whole id without a colon (`host-platform`). */
  readonly kind: string;
  /** The key of `id` (one of this kind), or undefined when it cannot read the id back. */
  rebuild(id: string, path: string | undefined): AnyKey<unknown> | undefined;
}

/** The kind of an id: its part up to and including the first `:`, or the whole id when it has none. */
export function keyKindOf(id: string): string {
  const colon = id.indexOf(':');
  return colon < 0 ? id : id.slice(0, colon + 1);
}

/** The rebuilders of an application, by kind: what Engine.importGraph's `rebuild` is. */
export interface KeyRebuilders {
  readonly kinds: ReadonlySet<string>;
  /** The key of `id`, or undefined when no rebuilder has its kind or the one that has cannot read it. */
  rebuild(id: string, path: string | undefined): AnyKey<unknown> | undefined;
}

/** Throws (a bug) when two rebuilders claim one kind, or a kind is no kind keyKindOf can give. */
export function createKeyRebuilders(rebuilders: Iterable<KeyRebuilder>): KeyRebuilders {
  const byKind = new Map<string, KeyRebuilder>();
  for (const r of rebuilders) {
    if (r.kind === '' || keyKindOf(r.kind) !== r.kind) throw new Error(`bug: \`${r.kind}\` is not a key kind (an id's part up to its first \`:\`)`);
    if (byKind.has(r.kind)) throw new Error(`bug: two rebuilders for the keys of kind \`${r.kind}\``);
    byKind.set(r.kind, r);
  }
  return {
    kinds: new Set(byKind.keys()),
    rebuild: (id, path) => byKind.get(keyKindOf(id))?.rebuild(id, path),
  };
}
