import { dirnameRel } from '../core/index.js';
import type { GraphNode } from './node.js';

interface Entry {
  /** Nodes whose key has exactly this path. */
  nodes: GraphNode[] | undefined;
  /** Paths one level below that have nodes somewhere underneath. */
  children: Set<string> | undefined;
}

/**
 * Finds the file-system nodes a change touches without scanning the graph: a
 * map from path to nodes, plus a directory → child-path tree so that a removed
 * or renamed directory reaches everything under it. The tree holds only paths
 * that lead to nodes, so its size is bounded by the file-system keys that exist.
 */
export class PathIndex {
  readonly #entries = new Map<string, Entry>();

  add(path: string, node: GraphNode): void {
    const entry = this.#entry(path);
    (entry.nodes ??= []).push(node);
    // Link the path into its ancestors, stopping at the first one already linked.
    let child = path;
    while (child !== '') {
      const parent = this.#entry(dirnameRel(child));
      const children = (parent.children ??= new Set());
      if (children.has(child)) break;
      children.add(child);
      child = dirnameRel(child);
    }
  }

  /**
   * Forgets `node` at `path` (an evicted node), and the path's links into its
   * ancestors once nothing is left under them, so the index stays bounded by
   * the file-system keys the graph holds.
   */
  remove(path: string, node: GraphNode): void {
    const entry = this.#entries.get(path);
    if (entry?.nodes === undefined) return;
    const i = entry.nodes.indexOf(node);
    if (i < 0) return;
    entry.nodes.splice(i, 1);
    if (entry.nodes.length === 0) entry.nodes = undefined;
    let child = path;
    let e: Entry | undefined = entry;
    while (e !== undefined && e.nodes === undefined && (e.children === undefined || e.children.size === 0)) {
      this.#entries.delete(child);
      if (child === '') break;
      const parentPath = dirnameRel(child);
      e = this.#entries.get(parentPath);
      e?.children?.delete(child);
      child = parentPath;
    }
  }

  /** Paths the index holds an entry for (tests check that eviction leaves none behind). */
  get entries(): number {
    return this.#entries.size;
  }

  /**
   * Nodes affected by changes to `paths`: those at the path, at its parent
   * directory (its listing changed), and anywhere inside it.
   */
  affected(paths: Iterable<string>): Set<GraphNode> {
    const out = new Set<GraphNode>();
    for (const path of paths) {
      if (path !== '') this.#addExact(dirnameRel(path), out);
      this.#addSubtree(path, out);
    }
    return out;
  }

  /** Every path some node has (not the directories linking them). */
  *paths(): IterableIterator<string> {
    for (const [path, entry] of this.#entries) if (entry.nodes !== undefined) yield path;
  }

  /** Adds to `out` the nodes at exactly these paths. */
  addExact(paths: Iterable<string>, out: Set<GraphNode>): void {
    for (const path of paths) this.#addExact(path, out);
  }

  /** Every node with a path. */
  all(): Set<GraphNode> {
    const out = new Set<GraphNode>();
    for (const entry of this.#entries.values()) for (const n of entry.nodes ?? []) out.add(n);
    return out;
  }

  #entry(path: string): Entry {
    let entry = this.#entries.get(path);
    if (entry === undefined) {
      entry = { nodes: undefined, children: undefined };
      this.#entries.set(path, entry);
    }
    return entry;
  }

  #addExact(path: string, out: Set<GraphNode>): void {
    const nodes = this.#entries.get(path)?.nodes;
    if (nodes !== undefined) for (const n of nodes) out.add(n);
  }

  #addSubtree(path: string, out: Set<GraphNode>): void {
    const stack = [path];
    while (stack.length > 0) {
      const entry = this.#entries.get(stack.pop()!);
      if (entry === undefined) continue;
      if (entry.nodes !== undefined) for (const n of entry.nodes) out.add(n);
      if (entry.children !== undefined) for (const c of entry.children) stack.push(c);
    }
  }
}
