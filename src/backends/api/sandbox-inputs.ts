import type { Digest } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { EXEC_RUN } from '../../exec/index.js';
import { mergeTrees, SnapshotKey, EMPTY_TREE_DIGEST } from '../../store/index.js';
import { compareAddresses, DependenciesKey, formatAddress, type Address, type Target } from '../../targets/index.js';
import { DeclaredDependenciesKey } from './address-fields.js';
import { RuleContext, type RuleEnv } from './rule-context.js';

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
    // One entry per address: a target reached from two of the frontier's targets
    // is walked once, else a lattice of dependencies (package i needs i-1 and i-7)
    // walked its paths, exponentially many, and ran the process out of memory.
    const fresh = [...new Map(frontier.map((a) => [formatAddress(a), a] as const)).entries()]
      .filter(([k]) => !seen.has(k))
      .map(([, a]) => a);
    const targets = await rc.targets(fresh);
    for (const t of targets) seen.set(t.address, t);
    const next = await Promise.all(
      targets.map(async (t) =>
        rc.rulesFor(t)?.sandbox?.opaque === true
          ? rc.get(new DeclaredDependenciesKey(rc.project, t.addr))
          : (await rc.get(new DependenciesKey(rc.project, t.addr))).dependencies,
      ),
    );
    frontier = next.flat().filter((a) => !seen.has(formatAddress(a)));
  }
  return [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The input tree of a process whose execution dependencies are `roots`:
 * the sources of their whole closure in one snapshot, plus what its
 * producers made, merged. A node of its own, so two commands with the same
 * execution dependencies share it, and a warm run re-validates it instead
 * of merging trees again.
 */
export class SandboxInputsKey implements Key<Digest> {
  readonly id: string;
  readonly #renv: RuleEnv;
  readonly #roots: readonly Address[];

  constructor(renv: RuleEnv, roots: readonly Address[]) {
    const unique = new Map(roots.map((a) => [formatAddress(a), a]));
    this.#roots = [...unique.keys()].sort(compareAddresses).map((k) => unique.get(k)!);
    this.#renv = renv;
    this.id = `sandbox-inputs:${this.#roots.map(formatAddress).join(',')}`;
  }

  describe(): string {
    return `the sandbox inputs of ${this.#roots.map(formatAddress).join(', ')}`;
  }

  async compute(ctx: ComputeContext, signal: AbortSignal): Promise<Digest> {
    if (this.#roots.length === 0) return EMPTY_TREE_DIGEST;
    const rc = new RuleContext(ctx, this.#renv, signal);
    const closure = await inputClosure(rc, this.#roots);
    const sources = new Set<string>();
    for (const t of closure) if (rc.rulesFor(t)?.sandbox?.sources === true) for (const f of t.sources) sources.add(f);
    const store = ctx.slot(EXEC_RUN).store;
    const [snapshot, produced] = await Promise.all([
      sources.size === 0 ? undefined : ctx.get(new SnapshotKey(this.#renv.project.ws, store, [...sources])),
      Promise.all(closure.map((t) => rc.contribution(t))),
    ]);
    return mergeTrees(store, [...(snapshot === undefined ? [] : [snapshot.digest]), ...produced], signal);
  }
}

/** The merged contributions of the closure of `roots` (see SandboxInputsKey). */
export function sandboxInputs(rc: RuleContext, roots: readonly Address[]): Promise<Digest> {
  return rc.get(new SandboxInputsKey(rc.ruleEnv, roots));
}
