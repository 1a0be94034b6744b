import type { GraphJson } from './graph-json.js';

/**
 * The page's questions about the graph, answered on the full graph (never on
 * what is drawn): who is reachable within a depth, which nodes lie on a path
 * between two targets, and which cluster a node is drawn in. Pure, so they
 * are tested in Node and run unchanged in the browser.
 */
export interface Adjacency {
  /** out[i]: the dependencies of node i. */
  readonly out: readonly (readonly number[])[];
  /** in[i]: the dependents of node i. */
  readonly in: readonly (readonly number[])[];
  readonly index: ReadonlyMap<string, number>;
}

export function adjacency(g: GraphJson): Adjacency {
  const out: number[][] = g.nodes.map(() => []);
  const inn: number[][] = g.nodes.map(() => []);
  for (const e of g.edges) {
    out[e.from]!.push(e.to);
    inn[e.to]!.push(e.from);
  }
  return { out, in: inn, index: new Map(g.nodes.map((n, i) => [n.address, i])) };
}

/**
 * Nodes reachable from `start` along `next` in at most `depth` steps
 * (unbounded when null), without `start` itself unless a cycle leads back.
 * The value is the distance, so the page can shade by it.
 */
export function reach(next: readonly (readonly number[])[], start: number, depth: number | null): Map<number, number> {
  const dist = new Map<number, number>();
  let frontier = [start];
  for (let d = 1; frontier.length > 0 && (depth === null || d <= depth); d++) {
    const nextFrontier: number[] = [];
    for (const n of frontier) {
      for (const m of next[n]!) {
        if (dist.has(m)) continue;
        dist.set(m, d);
        nextFrontier.push(m);
      }
    }
    frontier = nextFrontier;
  }
  return dist;
}

/** Every node on some dependency path from `from` to `to` (both included), or an empty set when there is none. */
export function between(adj: Adjacency, from: number, to: number): Set<number> {
  const down = reach(adj.out, from, null);
  down.set(from, 0);
  if (!down.has(to)) return new Set();
  const up = reach(adj.in, to, null);
  up.set(to, 0);
  return new Set([...down.keys()].filter((n) => up.has(n)));
}

/**
 * Where a node of directory `dir` is drawn: as itself (null), or inside the
 * collapsed cluster of one of its ancestor directories. A cluster is a
 * directory prefix of `baseDepth` segments or more that the user has not
 * expanded; expanding one shows its subdirectories' clusters and its own
 * targets.
 */
export function clusterOf(dir: string, baseDepth: number, expanded: ReadonlySet<string>): string | null {
  if (dir === '') return null;
  const segs = dir.split('/');
  for (let d = Math.max(1, baseDepth); d <= segs.length; d++) {
    const p = segs.slice(0, d).join('/');
    if (!expanded.has(p)) return p;
  }
  return null;
}

/**
 * The deepest clustering depth that draws at most `limit` units (clusters
 * plus nodes drawn as themselves), 1 when even that draws more, and 0 (no
 * clusters: every node drawn) when the graph is small enough as it is.
 * `dirs` has one entry per node.
 */
export function chooseBaseDepth(dirs: readonly string[], limit: number): number {
  if (dirs.length <= limit) return 0;
  const none = new Set<string>();
  const units = (depth: number): number => {
    const clusters = new Set<string>();
    let single = 0;
    for (const d of dirs) {
      const c = clusterOf(d, depth, none);
      if (c === null) single++;
      else clusters.add(c);
    }
    return clusters.size + single;
  };
  const maxDepth = Math.max(1, ...dirs.map((d) => (d === '' ? 0 : d.split('/').length)));
  let best = 1;
  for (let depth = 2; depth <= maxDepth && units(depth) <= limit; depth++) best = depth;
  return best;
}

/** A stable colour per category (type or package), from a palette readable on white. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd'];

export function colourOf(categories: readonly string[]): Map<string, string> {
  const sorted = [...new Set(categories)].sort();
  return new Map(sorted.map((c, i) => [c, PALETTE[i % PALETTE.length]!]));
}
