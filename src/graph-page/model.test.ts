import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GraphJson } from './graph-json.js';
import { adjacency, between, chooseBaseDepth, clusterOf, colourOf, layoutEdges, reach } from './model.js';
import { renderGraphPage } from './page-html.js';

/** a → b → c → d, a → e, f alone; a cycle-free chain with a branch. */
function graph(): GraphJson {
  const names = ['x:a', 'x:b', 'y:c', 'y/z:d', 'x:e', 'w:f'];
  const nodes = names.map((address) => ({ address, type: 'target', dir: address.split(':')[0]!, package: '', declaredIn: 'BUILD', selected: true }));
  const e = (from: number, to: number) => ({ from, to, kind: 'explicit' as const });
  return { version: 1, title: 't', specs: ['::'], nodes, edges: [e(0, 1), e(0, 4), e(1, 2), e(2, 3)], focus: null };
}

describe('graph page model', () => {
  it('reach walks dependencies and dependents up to a depth, with distances', () => {
    const adj = adjacency(graph());
    assert.deepEqual([...reach(adj.out, 0, null)], [[1, 1], [4, 1], [2, 2], [3, 3]]);
    assert.deepEqual([...reach(adj.out, 0, 1)], [[1, 1], [4, 1]]);
    assert.deepEqual([...reach(adj.in, 3, 2)], [[2, 1], [1, 2]]);
    assert.deepEqual([...reach(adj.out, 5, null)], []);
  });

  it('between keeps only the nodes on a path, and is empty when none leads there', () => {
    const adj = adjacency(graph());
    assert.deepEqual([...between(adj, 0, 3)].sort(), [0, 1, 2, 3]);
    assert.deepEqual([...between(adj, 1, 2)].sort(), [1, 2]);
    assert.equal(between(adj, 3, 0).size, 0, 'paths follow dependencies, not dependents');
    assert.equal(between(adj, 4, 3).size, 0);
    assert.deepEqual([...between(adj, 2, 2)], [2]);
  });

  it('clusterOf collapses below the base depth until a directory is expanded', () => {
    assert.equal(clusterOf('a/b/c', 1, new Set()), 'a');
    assert.equal(clusterOf('a/b/c', 2, new Set()), 'a/b');
    assert.equal(clusterOf('a/b/c', 1, new Set(['a'])), 'a/b');
    assert.equal(clusterOf('a/b/c', 1, new Set(['a', 'a/b', 'a/b/c'])), null);
    assert.equal(clusterOf('a', 2, new Set()), null, 'a directory above the base depth is drawn target by target');
    assert.equal(clusterOf('', 1, new Set()), null);
  });

  it('chooseBaseDepth draws everything when small, and the deepest clustering that fits the limit when not', () => {
    assert.equal(chooseBaseDepth(['a', 'b'], 10), 0);
    // 4 top directories, 40 second-level ones, 400 targets.
    const dirs: string[] = [];
    for (let i = 0; i < 400; i++) dirs.push(`top${i % 4}/sub${i % 40}`);
    assert.equal(chooseBaseDepth(dirs, 100), 2);
    assert.equal(chooseBaseDepth(dirs, 10), 1);
    assert.equal(chooseBaseDepth(dirs, 2), 1, 'never below one level');
  });

  it('colourOf gives each category one colour, the same whatever the order', () => {
    const a = colourOf(['shell', 'files', 'shell']);
    const b = colourOf(['files', 'shell']);
    assert.equal(a.size, 2);
    assert.deepEqual([...a], [...b]);
  });
});

describe('renderGraphPage', () => {
  it('keeps addresses that hold markup inside the data element (no </script>, no <!--)', () => {
    const g = graph();
    const evil = 'x/</script><script>alert(1)</script><!--<script>.txt:files';
    const page = renderGraphPage({ ...g, nodes: [...g.nodes, { ...g.nodes[0]!, address: evil }] }, 'console.log(1)');
    const data = page.slice(page.indexOf('id="trews-graph-data">'), page.indexOf('</script>'));
    assert.ok(!data.includes('<'), 'no < inside the data element');
    assert.equal((page.match(/<\/script>/g) ?? []).length, 2, 'exactly the two elements the page has');
    const json = JSON.parse(data.slice('id="trews-graph-data">'.length)) as GraphJson;
    assert.equal(json.nodes.at(-1)!.address, evil, 'the address survives as it was');
  });

  it('refuses a script that would end its element', () => {
    assert.throws(() => renderGraphPage(graph(), 'var s = "</script>"'), /cannot be inlined/);
    assert.throws(() => renderGraphPage(graph(), 'var s = "<!--"'), /cannot be inlined/);
  });
});

describe('layoutEdges', () => {
  it('leaves out the edges another path implies', () => {
    // 0→1→2 and 0→2; 0→3 alone.
    assert.deepEqual(layoutEdges(4, [[0, 1], [1, 2], [0, 2], [0, 3]]), [true, true, false, true]);
  });

  it('keeps every edge from or to a unit on a cycle, so reachability stays whole', () => {
    // 0⇄1, both → 2: dropping either edge into 2 because of the other would be fine, dropping both would cut 2 off.
    const kept = layoutEdges(3, [[0, 1], [1, 0], [0, 2], [1, 2]]);
    assert.deepEqual(kept, [true, true, true, true]);
    // A self edge is drawn but never laid out.
    assert.deepEqual(layoutEdges(2, [[0, 0], [0, 1]]), [false, true]);
  });

  it('keeps what reaches what on a random graph', () => {
    let seed = 7;
    const rand = (k: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    const n = 40;
    const edges: [number, number][] = [];
    // Mostly downward (a build graph), with a few edges back up that make cycles.
    for (let i = 0; i < 150; i++) {
      const a = rand(n);
      const b = rand(n);
      edges.push(a >= b ? [a, b] : [b, a]);
    }
    for (let i = 0; i < 4; i++) edges.push([rand(n), rand(n)]);
    const kept = layoutEdges(n, edges);
    const closure = (es: readonly (readonly [number, number])[]): string[] => {
      const out = Array.from({ length: n }, (_, i) => es.filter(([s]) => s === i).map(([, t]) => t));
      return out.map((_, i) => [...reach(out, i, null).keys()].sort((a, b) => a - b).join(','));
    };
    assert.ok(kept.some((k) => !k), 'some edge was left out');
    assert.deepEqual(closure(edges.filter((_, i) => kept[i])), closure(edges.filter(([s, t]) => s !== t)));
  });
});
