import type { Digest } from '../../core/index.js';
import { mergeTrees, SnapshotKey, EMPTY_TREE_DIGEST } from '../../store/index.js';
import { DependenciesKey, formatAddress, type Address, type Target } from '../../targets/index.js';
import { DeclaredDependenciesKey } from './address-fields.js';
import type { RuleContext } from './rule-context.js';

/**
 * The targets whose contributions make up the sandbox of a process that
 * needs `roots`: the roots and everything they depend on, as Pants takes the
 * transitive targets of execution dependencies. The walk stops at opaque
 * targets (a shell_command: it contributes its outputs) and follows only
 * their declared `dependencies` from there. Sorted by address.
 */
export async function inputClosure(rc: RuleContext, roots: readonly Address[]): Promise<Target[]> {
  const seen = new Map<string, Target>();
  let frontier = [...roots];
  while (frontier.length > 0) {
    const fresh = frontier.filter((a) => !seen.has(formatAddress(a)));
    const targets = await rc.targets(fresh);
    for (const t of targets) seen.set(t.address, t);
    const next = await Promise.all(
      targets.map(async (t) =>
        rc.rulesFor(t)?.sandbox?.opaque === true
          ? rc.run.get(new DeclaredDependenciesKey(rc.env, t.addr))
          : (await rc.run.get(new DependenciesKey(rc.env, t.addr))).dependencies,
      ),
    );
    frontier = next.flat().filter((a) => !seen.has(formatAddress(a)));
  }
  return [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** What one target contributes, computed once per run (a cycle through contributions is an error). */
export function contributionOf(rc: RuleContext, t: Target): Promise<Digest> {
  const role = rc.rulesFor(t)?.sandbox;
  const contribute = role?.contribute;
  if (contribute === undefined) return Promise.resolve(EMPTY_TREE_DIGEST);
  return rc.once(`contribution:${t.address}`, t.address, () => contribute.call(role, rc, t));
}

/** The merged contributions of the closure of `roots`: the sources of all of it in one snapshot, plus what its producers made. */
export async function sandboxInputs(rc: RuleContext, roots: readonly Address[]): Promise<Digest> {
  if (roots.length === 0) return EMPTY_TREE_DIGEST;
  const closure = await inputClosure(rc, roots);
  const sources = new Set<string>();
  for (const t of closure) if (rc.rulesFor(t)?.sandbox?.sources === true) for (const f of t.sources) sources.add(f);
  const [snapshot, produced] = await Promise.all([
    sources.size === 0 ? undefined : rc.run.get(new SnapshotKey(rc.env.ws, rc.store, [...sources])),
    Promise.all(closure.map((t) => contributionOf(rc, t))),
  ]);
  return mergeTrees(rc.store, [...(snapshot === undefined ? [] : [snapshot.digest]), ...produced], rc.signal);
}
