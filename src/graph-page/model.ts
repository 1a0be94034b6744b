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

/**
 * The edges a layout needs: each edge u→v that another path from u to v
 * already implies is left out, which keeps the ranks the graph's
 * reachability gives while sparing the layered layout the dummy nodes of
 * every long edge (what made expanding a cluster of a 10,000-target graph
 * take seconds). Edges from or to a unit on a cycle are all kept (paths
 * around the cycle would imply each other's edges away), so what reaches
 * what is the same with and without the edges left out. What is drawn keeps
 * every edge.
 * `edges` are pairs of unit indices below `n`; returns, per edge, whether
 * the layout keeps it.
 */
export function layoutEdges(n: number, edges: readonly (readonly [number, number])[]): boolean[] {
  const out: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (const [s, t] of edges) if (s !== t) out[s]!.add(t);
  const seen = new Uint32Array(n);
  let stamp = 0;
  /** Marks everything reachable in two or more steps from `from` (never passing through `from`), calling `reached` on each. */
  const beyond = (from: number, reached: (x: number) => void): void => {
    stamp++;
    seen[from] = stamp;
    const stack: number[] = [];
    const visit = (x: number): void => {
      if (seen[x] === stamp) return;
      seen[x] = stamp;
      stack.push(x);
      reached(x);
    };
    for (const w of out[from]!) for (const x of out[w]!) visit(x);
    while (stack.length > 0) for (const y of out[stack.pop()!]!) visit(y);
  };
  const onCycle = unitsOnCycles(n, out);
  const implied: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (let u = 0; u < n; u++) {
    if (out[u]!.size < 2 || onCycle[u]) continue;
    beyond(u, (x) => {
      if (out[u]!.has(x) && !onCycle[x]) implied[u]!.add(x);
    });
  }
  return edges.map(([s, t]) => s !== t && !implied[s]!.has(t));
}

/** Whether each unit lies on a cycle (a strongly connected component of two or more, or a self edge): Tarjan's algorithm, iterative. */
function unitsOnCycles(n: number, out: readonly ReadonlySet<number>[]): boolean[] {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const result = new Array<boolean>(n).fill(false);
  let next = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    const work: { v: number; it: Iterator<number> }[] = [{ v: root, it: out[root]!.values() }];
    index[root] = low[root] = next++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const step = frame.it.next();
      if (!step.done) {
        const w = step.value;
        if (w === frame.v) result[w] = true;
        if (index[w] === -1) {
          index[w] = low[w] = next++;
          stack.push(w);
          onStack[w] = 1;
          work.push({ v: w, it: out[w]!.values() });
        } else if (onStack[w] === 1) low[frame.v] = Math.min(low[frame.v]!, index[w]!);
        continue;
      }
      work.pop();
      const v = frame.v;
      if (work.length > 0) {
        const parent = work[work.length - 1]!.v;
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === index[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          members.push(w);
        } while (w !== v);
        if (members.length > 1) for (const m of members) result[m] = true;
      }
    }
  }
  return result;
}
