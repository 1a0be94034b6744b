import type { GraphNode } from './node.js';

/**
 * Marks `roots` (file-system nodes whose path changed) and everything above them
 * as needing re-validation, walking reverse edges. Returns how many nodes went
 * from clean to dirty.
 *
 * The walk stops at a node that is already dirty and idle: by induction its
 * dependents were marked when it was, and none of them can have become clean
 * since without re-validating through it first. It goes on through a node with a
 * running evaluation, marking that evaluation stale (it may already have read the
 * old value, so its result must not be memoized) and through never-computed
 * nodes (their only dependents are in-flight evaluations, which must learn they
 * are stale). `stamp` is unique per walk so each node is visited once without a
 * visited set.
 *
 * Iterative on purpose: a chain of 50,000 nodes must not overflow the stack.
 */
export function propagateInvalidation(roots: Iterable<GraphNode>, stamp: number): number {
  let dirtied = 0;
  const stack: GraphNode[] = [...roots];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.mark === stamp) continue;
    node.mark = stamp;
    let spread = false;
    const task = node.task;
    if (task !== undefined && !task.stale) {
      task.stale = true;
      spread = true;
    }
    if (node.state === 'clean') {
      node.state = 'dirty';
      dirtied++;
      spread = true;
    } else if (node.state === 'new') {
      spread = true;
    }
    if (spread) {
      for (const d of node.dependents()) if (d.mark !== stamp) stack.push(d);
    }
  }
  return dirtied;
}
