import type { EdgeKind, GraphEdge, GraphJson, GraphNode } from '../graph-page/index.js';
import { compareAddresses, formatAddress, type ResolvedDependencies, type Target } from '../targets/index.js';

export interface GraphInput {
  readonly title: string;
  readonly specs: readonly string[];
  /** The selected targets and every target they depend on, in any order. */
  readonly targets: readonly Target[];
  /** The resolved dependencies of each of `targets`, in the same order. */
  readonly dependencies: readonly ResolvedDependencies[];
  /** Addresses of the targets the specs selected. */
  readonly selected: ReadonlySet<string>;
  readonly focus: { readonly from: string; readonly to: string } | null;
}

/** A directory is a package when one of its targets owns its package.json. */
function packageDirs(targets: readonly Target[]): Set<string> {
  const dirs = new Set<string>();
  for (const t of targets) {
    const manifest = t.addr.dir === '' ? 'package.json' : `${t.addr.dir}/package.json`;
    if (t.sources.includes(manifest)) dirs.add(t.addr.dir);
  }
  return dirs;
}

function packageOf(dir: string, packages: ReadonlySet<string>): string {
  for (let d = dir; ; d = d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : '') {
    if (packages.has(d)) return d;
    if (d === '') break;
  }
  return dir.split('/')[0]!;
}

/**
 * The JSON `trews graph` draws: one node per target, one edge per direct
 * dependency, each edge saying whether a BUILD file declared it, a generator
 * generated it, or a backend inferred it. Deterministic (sorted), so the same
 * graph gives the same page.
 */
export function graphJson(input: GraphInput): GraphJson {
  const order = input.targets.map((t, i) => ({ t, deps: input.dependencies[i]! })).sort((a, b) => compareAddresses(a.t.address, b.t.address));
  const packages = packageDirs(input.targets);
  const index = new Map(order.map((o, i) => [o.t.address, i]));
  const nodes: GraphNode[] = order.map(({ t }) => ({
    address: t.address,
    type: t.type,
    dir: t.addr.dir,
    package: packageOf(t.addr.dir, packages),
    declaredIn: t.buildFile,
    ...(t.generatedFrom !== undefined ? { generatedFrom: t.generatedFrom } : {}),
    selected: input.selected.has(t.address),
  }));
  const edges: GraphEdge[] = [];
  order.forEach(({ t, deps }, from) => {
    const generated = new Set((t.generated ?? []).map(formatAddress));
    const inferred = new Set(deps.inferred);
    for (const d of deps.dependencies) {
      const address = formatAddress(d);
      const to = index.get(address);
      if (to === undefined) throw new Error(`graph: dependency ${address} of ${t.address} is not among the graph's targets`);
      const kind: EdgeKind = generated.has(address) ? 'generated' : inferred.has(address) ? 'inferred' : 'explicit';
      edges.push({ from, to, kind });
    }
  });
  edges.sort((a, b) => a.from - b.from || a.to - b.to);
  return { version: 1, title: input.title, specs: input.specs, nodes, edges, focus: input.focus };
}
