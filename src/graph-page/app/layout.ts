import dagre from '@dagrejs/dagre';
import { layoutEdges } from '../model.js';

export interface LayoutUnit {
  readonly id: string;
  readonly label: string;
  readonly parent?: string;
}

/**
 * Positions for what is drawn, computed once per change of what is drawn
 * (expanding a cluster, a focus, grouping), never per frame: dagre's layered
 * layout puts dependents above their dependencies, the way people read a
 * build graph. Compound parents (directories) are sized by cytoscape from
 * their children, so only leaves get positions.
 */
export function layoutUnits(units: readonly LayoutUnit[], edges: readonly { source: string; target: string }[], parents: readonly string[]): Map<string, { x: number; y: number }> {
  const g = new dagre.graphlib.Graph({ compound: parents.length > 0, multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 16, ranksep: 70, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const p of parents) g.setNode(p, {});
  for (const u of units) {
    g.setNode(u.id, { width: Math.min(360, 14 + u.label.length * 7), height: 26 });
    if (u.parent !== undefined) g.setParent(u.id, u.parent);
  }
  // Only the edges no other path implies: the ranks stay, the dummy nodes of long edges go.
  const index = new Map(units.map((u, i) => [u.id, i]));
  const pairs = edges.flatMap((e) => {
    const s = index.get(e.source);
    const t = index.get(e.target);
    return s !== undefined && t !== undefined ? [[s, t] as const] : [];
  });
  const kept = layoutEdges(units.length, pairs);
  pairs.forEach(([s, t], i) => {
    if (kept[i]) g.setEdge(units[s]!.id, units[t]!.id);
  });
  dagre.layout(g);
  const out = new Map<string, { x: number; y: number }>();
  for (const u of units) {
    const n = g.node(u.id) as { x: number; y: number } | undefined;
    if (n !== undefined) out.set(u.id, { x: n.x, y: n.y });
  }
  return out;
}
