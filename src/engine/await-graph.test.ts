import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwaitGraph } from './await-graph.js';
import { GraphNode } from './node.js';
import { Task, Waiter } from './task.js';

const scope = { inputs: undefined, slots: new Map(), describeScope: () => 'a test' };

function makeTask(g: AwaitGraph, name: string): Task {
  return new Task(new GraphNode({ id: name, compute: async () => null }), g.nextOrd(), scope);
}

/** Records `from` waiting for `to`, as the graph does after `add` accepted it. */
function wait(from: Task, to: Task): Waiter {
  const w = Waiter.forTask(to, from, -1);
  to.addWaiter(w);
  from.addPending(w);
  return w;
}

function reaches(from: Task, to: Task): boolean {
  const seen = new Set<Task>();
  const stack = [from];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t === to) return true;
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push(...t.awaited());
  }
  return false;
}

test('a task waiting for itself is a cycle of one', () => {
  const g = new AwaitGraph();
  const a = makeTask(g, 'a');
  assert.deepEqual(g.add(a, a), [a]);
});

test('a wait against the order that closes no cycle reorders instead', () => {
  const g = new AwaitGraph();
  const a = makeTask(g, 'a');
  const b = makeTask(g, 'b');
  const c = makeTask(g, 'c');
  wait(b, c);
  // a < b in the order, so b → a goes against it: b and its successor c must move after a.
  assert.equal(g.add(c, a), undefined);
  wait(c, a);
  assert.ok(c.ord < a.ord, 'c now precedes a');
  assert.ok(b.ord < c.ord, 'b still precedes c');
  assert.deepEqual(g.add(a, b), [b, c, a], 'and a → b would close b → c → a → b');
});

test('randomized: cycles are reported exactly when the wait would close one, and the order stays valid', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 30; round++) {
    const g = new AwaitGraph();
    const tasks = Array.from({ length: 40 }, (_, i) => makeTask(g, `t${i}`));
    const edges: Waiter[] = [];
    for (let step = 0; step < 200; step++) {
      if (edges.length > 0 && rand(4) === 0) {
        // Settle a random wait: removing an edge never breaks the order.
        const w = edges.splice(rand(edges.length), 1)[0]!;
        w.settle({ ok: true, value: null, error: undefined, committed: true, generation: 1 });
        w.target.liveWaiters--;
        continue;
      }
      const from = tasks[rand(tasks.length)]!;
      const to = tasks[rand(tasks.length)]!;
      const closes = from === to || reaches(to, from);
      const cycle = g.add(from, to);
      assert.equal(cycle !== undefined, closes, `round ${round} step ${step}`);
      if (cycle !== undefined) {
        // The reported cycle is real: to → … → from, each waiting for the next.
        assert.equal(cycle[0], to);
        assert.equal(cycle[cycle.length - 1], from);
        for (let i = 0; i + 1 < cycle.length; i++) assert.ok(cycle[i]!.awaited().includes(cycle[i + 1]!));
        continue;
      }
      edges.push(wait(from, to));
      for (const t of tasks) for (const u of t.awaited()) assert.ok(t.ord < u.ord, 'every edge goes forward');
    }
    assert.equal(new Set(tasks.map((t) => t.ord)).size, tasks.length, 'ords stay distinct');
  }
});
