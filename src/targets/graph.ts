import { FailureError, failure, isFailureError, raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { compareAddresses, formatAddress, type Address } from './address.js';
import { parseAddressInput, resolveAddressInput } from './address-input.js';
import { DependenciesKey, type ResolvedDependencies } from './dependencies.js';
import { findTarget } from './lookup.js';
import { DirTargetsKey } from './dir-targets.js';
import { TargetDirsUnderKey } from './synthetic.js';
import type { InferenceWarning, Project } from './project.js';

/** Anything that can read engine keys: a run, or a computation's context. */
export type Reader = Pick<ComputeContext, 'get' | 'getAll'>;

/** The transitive dependencies of some roots, as `TransitiveDependenciesKey` memoizes them. */
export interface TransitiveDependencies {
  /** Excluding the roots (unless another root depends on one), sorted by address. */
  readonly addresses: readonly Address[];
  /** `addresses` formatted, in the same order. */
  readonly formatted: readonly string[];
  /** What inference left unsettled, for every target read, in the order read. */
  readonly warnings: readonly InferenceWarning[];
}

/**
 * `transitiveDependencies` of a set of roots as one engine node. A warm
 * daemon answers `dependencies --transitive` from its memo: re-validating it
 * checks the generation of each target's `DependenciesKey` it read (one
 * synchronous comparison per target when none moved), where walking the
 * graph again cost a promise, a key object and a formatted address per edge,
 * ~60 ms on 10,000 files. An edit re-resolves exactly the files it affects
 * (their own keys), then this node walks again.
 */
export class TransitiveDependenciesKey implements Key<TransitiveDependencies> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #project: Project;
  readonly #roots: readonly Address[];
  constructor(project: Project, roots: readonly Address[]) {
    this.#project = project;
    // Sorted: one node per set of roots, and the first cycle found (the error) does not depend on their order.
    const sorted = roots.map((a) => ({ a, k: formatAddress(a) })).sort((x, y) => compareAddresses(x.k, y.k));
    this.#roots = sorted.map((x) => x.a);
    this.id = `transitive-dependencies:${sorted.map((x) => x.k).join(' ')}`;
  }
  describe(): string {
    return `transitive dependencies of ${this.#roots.map(formatAddress).join(', ')}`;
  }
  async compute(ctx: ComputeContext): Promise<TransitiveDependencies> {
    const warnings: InferenceWarning[] = [];
    const addresses = await transitiveDependencies(ctx, this.#project, this.#roots, (r) => warnings.push(...r.warnings));
    return { addresses, formatted: addresses.map(formatAddress), warnings };
  }
  equal(a: TransitiveDependencies, b: TransitiveDependencies): boolean {
    return sameStrings(a.formatted, b.formatted) && JSON.stringify(a.warnings) === JSON.stringify(b.warnings);
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Everything the roots depend on, directly or not, excluding the roots; sorted. Reads each target's dependencies
 * concurrently, layer by layer. A failure deep down says how it was reached; a
 * cycle is an error that prints it.
 */
export async function transitiveDependencies(
  reader: Reader,
  project: Project,
  roots: readonly Address[],
  /** Called with each target's dependencies as they are read (the goal's warnings come from there). */
  onRead?: (resolved: ResolvedDependencies) => void,
): Promise<Address[]> {
  // Every address is formatted once: on a graph of 10,000 files, formatting each edge again per pass was a good part of a warm query.
  const children = new Map<string, readonly string[]>();
  const addrOf = new Map<string, Address>();
  const fileLevel = new Set<string>();
  const parent = new Map<string, string>();
  let frontier = roots.map((r) => ({ key: formatAddress(r), addr: r }));
  for (const f of frontier) {
    addrOf.set(f.key, f.addr);
    if (f.addr.file !== undefined) fileLevel.add(f.key);
  }
  while (frontier.length > 0) {
    const results = await Promise.all(
      frontier.map(async (f) => {
        try {
          return await reader.get(new DependenciesKey(project, f.addr));
        } catch (e) {
          throw withChain(e, chainTo(f.key, parent));
        }
      }),
    );
    const next: { key: string; addr: Address }[] = [];
    frontier.forEach((f, i) => {
      const r = results[i]!;
      onRead?.(r);
      const keys: string[] = [];
      for (const d of r.dependencies) {
        const k = formatAddress(d);
        keys.push(k);
        if (addrOf.has(k)) continue;
        addrOf.set(k, d);
        if (d.file !== undefined) fileLevel.add(k);
        parent.set(k, f.key);
        next.push({ key: k, addr: d });
      }
      children.set(f.key, keys);
    });
    frontier = next;
  }
  const rootKeys = roots.map(formatAddress);
  const cycle = findCycle(rootKeys, children, fileLevel);
  if (cycle !== undefined) {
    const edges = await Promise.all(cycle.slice(0, -1).map((from, i) => edgeNote(reader, project, addrOf.get(from)!, cycle[i + 1]!)));
    raise(
      failure('input', 'dependency-cycle', `dependency cycle: ${cycle.join(' -> ')}`, {
        notes: edges,
        hints: ['remove one of these dependencies, or exclude it with `!address`'],
      }),
    );
  }
  // A root is in the answer only when another root depends on it, as before.
  const reached = new Set<string>();
  for (const ks of children.values()) for (const k of ks) reached.add(k);
  for (const k of rootKeys) reached.delete(k);
  return [...reached].sort(compareAddresses).map((k) => addrOf.get(k)!);
}

function chainTo(key: string, parent: ReadonlyMap<string, string>): string[] {
  const chain = [key];
  let p = parent.get(key);
  while (p !== undefined) {
    chain.unshift(p);
    p = parent.get(p);
  }
  return chain;
}

function withChain(e: unknown, chain: readonly string[]): unknown {
  if (!isFailureError(e) || chain.length < 2) return e;
  const f = e.failure;
  return new FailureError({ ...f, notes: [...(f.notes ?? []), `reached through: ${chain.join(' -> ')}`] });
}

/**
 * `a/BUILD:1:22: a:a -> b:b`: where the edge of a cycle is written (the
 * `dependencies` entry that names `to`), or how it arose when no entry does.
 * Only on the error path: each entry of `from` is resolved again.
 */
async function edgeNote(reader: Reader, project: Project, from: Address, to: string): Promise<string> {
  const t = await findTarget(reader as ComputeContext, project, from);
  const edge = `${formatAddress(from)} -> ${to}`;
  if (t === undefined) return edge;
  if ((t.generated ?? []).some((g) => formatAddress(g) === to)) return `${t.buildFile}:${t.line}:${t.col}: ${edge} (it generated ${to})`;
  for (const ref of t.dependencyRefs) {
    if (ref.raw.startsWith('!')) continue;
    const input = parseAddressInput(ref.raw, from.dir);
    if (typeof input === 'string') continue;
    const resolved = await resolveAddressInput(reader as ComputeContext, project, input, { what: '' }).catch(() => []);
    if (resolved.some((a) => formatAddress(a) === to)) {
      const l = ref.location;
      return `${l.file}:${l.line ?? 1}:${l.col ?? 1}: ${edge} (\`dependencies\` entry ${JSON.stringify(ref.raw)})`;
    }
  }
  return `${t.buildFile}:${t.line}:${t.col}: ${edge} (inferred)`;
}

/**
 * Iterative DFS (deep graphs must not overflow the stack): the first cycle
 * found, closed (`[a, b, a]`). A cycle of file-level targets only is no
 * error, as in Pants: modules import each other (a.ts ↔ b.ts) and Node and
 * TypeScript allow it; what needs an order (scripts, commands, packages)
 * is never a file target.
 */
function findCycle(roots: readonly string[], deps: ReadonlyMap<string, readonly string[]>, fileLevel: ReadonlySet<string>): string[] | undefined {
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  for (const root of roots) {
    if (state.has(root)) continue;
    const path: string[] = [];
    // Where each key on the path is, and for each position the last one that is no file target: a back edge closes an allowed cycle when none lies in it.
    const pos = new Map<string, number>();
    const lastNonFile: number[] = [];
    const stack: { key: string; next: number; children: readonly string[] }[] = [];
    const push = (k: string): void => {
      state.set(k, 1);
      pos.set(k, path.length);
      lastNonFile.push(fileLevel.has(k) ? (lastNonFile[lastNonFile.length - 1] ?? -1) : path.length);
      path.push(k);
      stack.push({ key: k, next: 0, children: deps.get(k) ?? [] });
    };
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next >= top.children.length) {
        state.set(top.key, 2);
        stack.pop();
        path.pop();
        lastNonFile.pop();
        pos.delete(top.key);
        continue;
      }
      const child = top.children[top.next++]!;
      const s = state.get(child);
      if (s === 1) {
        const at = pos.get(child)!;
        if (lastNonFile[lastNonFile.length - 1]! >= at) return [...path.slice(at), child];
      }
      if (s === undefined) push(child);
    }
  }
  return undefined;
}

/** Every target's direct dependents, for `dependents` and `--changed-dependents`. */
export interface ReverseDependencies {
  /** address → its direct dependents, sorted. */
  readonly dependents: Readonly<Record<string, readonly Address[]>>;
}

export class ReverseDependenciesKey implements Key<ReverseDependencies> {
  readonly id = 'reverse-dependencies';
  readonly #project: Project;
  constructor(project: Project) {
    this.#project = project;
  }
  describe(): string {
    return 'dependents of every target';
  }
  async compute(ctx: ComputeContext): Promise<ReverseDependencies> {
    const dirs = await ctx.get(new TargetDirsUnderKey(this.#project, ''));
    const targets = (await ctx.getAll(dirs.map((d) => new DirTargetsKey(this.#project, d)))).flatMap((dt) => dt.targets);
    const all = await ctx.getAll(targets.map((t) => new DependenciesKey(this.#project, t.addr)));
    const rev = new Map<string, Address[]>();
    all.forEach((r, i) => {
      for (const d of r.dependencies) {
        const k = formatAddress(d);
        let list = rev.get(k);
        if (!list) rev.set(k, (list = []));
        list.push(targets[i]!.addr);
      }
    });
    const dependents: Record<string, readonly Address[]> = {};
    for (const k of [...rev.keys()].sort(compareAddresses)) {
      dependents[k] = rev.get(k)!.sort((a, b) => compareAddresses(formatAddress(a), formatAddress(b)));
    }
    return { dependents };
  }
}

/** Direct (or, with `transitive`, all) dependents of the roots, excluding the roots; sorted. */
export async function dependentsOf(reader: Reader, project: Project, roots: readonly Address[], transitive: boolean): Promise<Address[]> {
  const { dependents } = await reader.get(new ReverseDependenciesKey(project));
  const rootKeys = new Set(roots.map(formatAddress));
  const out = new Map<string, Address>();
  let frontier = [...rootKeys];
  const seen = new Set(frontier);
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const k of frontier) {
      for (const d of dependents[k] ?? []) {
        const dk = formatAddress(d);
        out.set(dk, d);
        if (transitive && !seen.has(dk)) {
          seen.add(dk);
          next.push(dk);
        }
      }
    }
    frontier = next;
  }
  for (const k of rootKeys) out.delete(k);
  return [...out.keys()].sort(compareAddresses).map((k) => out.get(k)!);
}
