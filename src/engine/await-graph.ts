import type { Task } from './task.js';

const byOrd = (a: Task, b: Task): number => a.ord - b.ord;
const ascending = (a: number, b: number): number => a - b;

/**
 * Cycle detection over the "evaluation X is currently waiting for evaluation Y"
 * graph, across every run.
 *
 * A plain DFS on each wait would be quadratic on a cold build: with fan-in,
 * most waits join an evaluation whose own pending sub-graph is large. Instead we
 * maintain a topological order of the await graph incrementally (Pearce & Kelly,
 * "A dynamic topological sort algorithm for directed acyclic graphs", 2006): each
 * task has an `ord`, and every edge goes from a lower to a higher ord. A new
 * task gets the highest ord, so the edge from its first requester is free; so is
 * any wait that already respects the order, which is the common case because
 * evaluations start roughly top-down. Only a wait against the order searches,
 * and only among tasks whose ords lie between the two endpoints; if the search
 * reaches the waiter, the wait would close a cycle.
 *
 * Edges are not stored here: they are the live waiters (a task's pending waits going
 * forward, its waiters going backward). Removing an edge never invalidates
 * the order, so completions cost nothing here.
 */
export class AwaitGraph {
  #lastOrd = 0;
  #stamp = 0;

  /** The ord for a new task: after every existing one. */
  nextOrd(): number {
    return ++this.#lastOrd;
  }

  /**
   * Checks that `from` may wait for `to` and keeps the order valid for that
   * edge; the caller then records the wait (the edge is the live waiter itself).
   * If the wait would close a cycle, returns the cycle as `[to, …, from]`
   * (`[from]` when a task waits for itself).
   */
  add(from: Task, to: Task): Task[] | undefined {
    if (from === to) return [from];
    // Existing edges already respect the order, so a repeated wait is free too.
    if (from.ord < to.ord) return undefined;
    return this.#reorder(from, to);
  }

  /**
   * Makes room for the edge `from → to` where `to` currently precedes `from`: the
   * tasks reachable from `to` (ord below `from`'s) must move after the tasks that
   * reach `from` (ord above `to`'s). Reaching `from` itself means a cycle.
   */
  #reorder(from: Task, to: Task): Task[] | undefined {
    const upper = from.ord;
    const lower = to.ord;

    const forwardStamp = ++this.#stamp;
    const forward: Task[] = [];
    const parent = new Map<Task, Task>();
    const stack: Task[] = [to];
    to.mark = forwardStamp;
    while (stack.length > 0) {
      const t = stack.pop()!;
      forward.push(t);
      for (const next of t.awaited()) {
        if (next === from) {
          const cycle: Task[] = [from];
          for (let x: Task | undefined = t; x !== undefined; x = parent.get(x)) cycle.push(x);
          return cycle.reverse();
        }
        if (next.mark !== forwardStamp && next.ord < upper) {
          next.mark = forwardStamp;
          parent.set(next, t);
          stack.push(next);
        }
      }
    }

    const backwardStamp = ++this.#stamp;
    const backward: Task[] = [];
    stack.push(from);
    from.mark = backwardStamp;
    while (stack.length > 0) {
      const t = stack.pop()!;
      backward.push(t);
      for (const r of t.awaitedBy()) {
        if (r.mark !== backwardStamp && r.ord > lower) {
          r.mark = backwardStamp;
          stack.push(r);
        }
      }
    }

    backward.sort(byOrd);
    forward.sort(byOrd);
    const ords = backward.map((t) => t.ord).concat(forward.map((t) => t.ord)).sort(ascending);
    let i = 0;
    for (const t of backward) t.ord = ords[i++]!;
    for (const t of forward) t.ord = ords[i++]!;
    return undefined;
  }
}
