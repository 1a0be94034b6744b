import { failure, raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { compareAddresses, formatAddress, type Address } from './address.js';
import { parseAddressInput, resolveAddressInput } from './address-input.js';
import { findTarget } from './lookup.js';
import type { Target } from './target.js';
import type { InferenceWarning, Project } from './project.js';

export interface ResolvedDependencies {
  readonly address: string;
  /** Direct dependencies, unique, sorted by address. */
  readonly dependencies: readonly Address[];
  /**
   * Those of `dependencies` that no BUILD file names and the target did not
   * generate: what backends inferred (imports, a package.json's dependencies),
   * sorted. `trews graph` draws them apart from the declared ones.
   */
  readonly inferred: readonly string[];
  /** What inferrers could not settle (unresolved imports), in file order. */
  readonly warnings: readonly InferenceWarning[];
}

/**
 * The direct dependencies of one target: its `dependencies` field resolved to
 * addresses that exist, the targets it generated (for a generator), and what
 * backends infer, minus `!` exclusions.
 */
export class DependenciesKey implements Key<ResolvedDependencies> {
  readonly id: string;
  readonly #project: Project;
  readonly #addr: Address;
  constructor(project: Project, addr: Address) {
    this.#project = project;
    this.#addr = addr;
    this.id = `dependencies:${formatAddress(addr)}`;
  }
  describe(): string {
    return `dependencies of ${formatAddress(this.#addr)}`;
  }
  async compute(ctx: ComputeContext): Promise<ResolvedDependencies> {
    const address = formatAddress(this.#addr);
    const target = await findTarget(ctx, this.#project, this.#addr);
    if (!target) raise(failure('internal', 'unknown-target', `dependencies requested for missing target ${address}`));
    const deps = new Map<string, Address>();
    // Declared (generated, or written in a BUILD file) wins over inferred when both name an address.
    const declared = new Set<string>();
    for (const g of target.generated ?? []) {
      deps.set(formatAddress(g), g);
      declared.add(formatAddress(g));
    }
    const excluded = new Set<string>();
    for (const ref of target.dependencyRefs) {
      const exclude = ref.raw.startsWith('!');
      const text = exclude ? ref.raw.slice(1) : ref.raw;
      const input = parseAddressInput(text, this.#addr.dir);
      if (typeof input === 'string') raise(failure('input', 'bad-address', input, { location: ref.location }));
      const resolved = await resolveAddressInput(ctx, this.#project, input, {
        what: `in \`dependencies\` of ${address}`,
        location: ref.location,
      });
      for (const a of resolved) {
        if (exclude) excluded.add(formatAddress(a));
        else {
          deps.set(formatAddress(a), a);
          if (ref.inferred !== true) declared.add(formatAddress(a));
        }
      }
    }
    const warnings: InferenceWarning[] = [];
    for (const inferrer of this.#project.inferrers) {
      if (!inferrer.appliesTo(target)) continue;
      for (const a of await inferrer.infer(ctx, this.#project, target)) deps.set(formatAddress(a), a);
      if (inferrer.warnings !== undefined) warnings.push(...(await inferrer.warnings(ctx, this.#project, target)));
    }
    for (const a of excluded) deps.delete(a);
    // A generated target inherits its generator's `dependencies`, which may name its own file.
    if (target.generatedFrom !== undefined) deps.delete(address);
    const sorted = [...deps.keys()].sort(compareAddresses);
    return { address, dependencies: sorted.map((a) => deps.get(a)!), inferred: sorted.filter((a) => !declared.has(a)), warnings };
  }
}

/** The target behind an address the engine produced (a dependency, an owner); missing ones are a bug. */
export async function targetAt(ctx: ComputeContext, project: Project, addr: Address): Promise<Target> {
  const t = await findTarget(ctx, project, addr);
  if (!t) raise(failure('internal', 'unknown-target', `no target at ${formatAddress(addr)}`));
  return t;
}
