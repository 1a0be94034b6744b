import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { isPlainData, type PersistedGraph } from './persist.js';
import { derived, World } from './test-support.js';
import type { AnyKey, InputKey, Key, RunInputs } from './types.js';

interface Vars extends RunInputs {
  readonly vars: Readonly<Record<string, string>>;
}
const inputs = (vars: Record<string, string>): Vars => ({ signature: JSON.stringify(vars), vars });
const variable = (name: string): InputKey<string | undefined> => ({ id: `var:${name}`, readFrom: (i) => (i as Vars).vars[name] });

/**
 * A small build: `pkg:<d>` reads a directory's listing and every file in it
 * (and, for `b`, a variable), `all` joins the packages. The keys are rebuilt
 * from their ids the way a real process would: file-system keys and inputs
 * from their ids, the rest only when a run names them.
 */
function build(w: World) {
  const pkg = (dir: string): Key<string> =>
    derived(`pkg:${dir}`, async (ctx) => {
      const names = await ctx.get(w.listing(dir));
      const texts = await ctx.getAll(names.map((n) => w.file(`${dir}/${n}`)));
      const suffix = dir === 'b' ? `+${(await ctx.get(variable('FLAVOUR'))) ?? '-'}` : '';
      return `${dir}[${texts.join(',')}]${suffix}`;
    });
  const all = derived('all', async (ctx) => (await ctx.getAll([pkg('a'), pkg('b')])).join(' '));
  const rebuild = (id: string): AnyKey<unknown> | undefined => {
    if (id.startsWith('file:')) return w.file(id.slice('file:'.length));
    if (id.startsWith('dir:')) return w.listing(id.slice('dir:'.length));
    if (id.startsWith('var:')) return variable(id.slice('var:'.length));
    return undefined;
  };
  return { all, rebuild };
}

/** What a process writes at its end and the next one reads back: through v8.serialize, as on disk. */
function roundTrip(g: PersistedGraph): PersistedGraph {
  return deserialize(serialize(g)) as PersistedGraph;
}

async function firstProcess(files: Record<string, string>, vars: Record<string, string>): Promise<PersistedGraph> {
  const w = new World(files);
  const run = w.engine.startRun({ inputs: inputs(vars) });
  await run.get(build(w).all);
  run.end();
  return roundTrip(w.engine.exportGraph());
}

async function nextProcess(saved: PersistedGraph, files: Record<string, string>, vars: Record<string, string>): Promise<{ value: string; log: string[] }> {
  const w = new World(files);
  const { all, rebuild } = build(w);
  assert.ok(w.engine.importGraph(saved, rebuild) > 0);
  const run = w.engine.startRun({ inputs: inputs(vars) });
  const value = await run.get(all);
  run.end();
  return { value, log: w.log };
}

const FILES = { 'a/x': '1', 'a/y': '2', 'b/z': '3' };

describe('a persisted graph', () => {
  it('answers an unchanged run by re-reading the paths only', async () => {
    const saved = await firstProcess(FILES, { FLAVOUR: 'v' });
    const { value, log } = await nextProcess(saved, FILES, { FLAVOUR: 'v' });
    assert.equal(value, 'a[1,2] b[3]+v');
    assert.ok(log.every((id) => id.startsWith('file:') || id.startsWith('dir:')), `only paths recomputed: ${log.join(' ')}`);
  });

  it('gives what a cold run gives after a file changed, one appeared, one went, or an input changed', async () => {
    const saved = await firstProcess(FILES, { FLAVOUR: 'v' });
    const cases: Array<[Record<string, string>, Record<string, string>, string]> = [
      [{ ...FILES, 'a/x': '9' }, { FLAVOUR: 'v' }, 'a[9,2] b[3]+v'],
      [{ ...FILES, 'b/w': '4' }, { FLAVOUR: 'v' }, 'a[1,2] b[4,3]+v'],
      [{ 'a/x': '1', 'b/z': '3' }, { FLAVOUR: 'v' }, 'a[1] b[3]+v'],
      [FILES, { FLAVOUR: 'w' }, 'a[1,2] b[3]+w'],
      [FILES, {}, 'a[1,2] b[3]+-'],
    ];
    for (const [files, vars, expected] of cases) {
      const { value, log } = await nextProcess(saved, files, vars);
      assert.equal(value, expected);
      const cold = new World(files);
      const run = cold.engine.startRun({ inputs: inputs(vars) });
      assert.equal(await run.get(build(cold).all), value);
      assert.ok(log.includes('all'), 'the stubs above the change recompute through the run that names them');
    }
  });

  it('keeps working across generations of processes, each exporting what the last one imported', async () => {
    let saved = await firstProcess(FILES, { FLAVOUR: 'v' });
    const steps: Array<[Record<string, string>, string]> = [
      [{ ...FILES, 'a/x': '5' }, 'a[5,2] b[3]+v'],
      [{ ...FILES, 'a/x': '5' }, 'a[5,2] b[3]+v'],
      [FILES, 'a[1,2] b[3]+v'],
    ];
    for (const [files, expected] of steps) {
      const w = new World(files);
      const { all, rebuild } = build(w);
      w.engine.importGraph(saved, rebuild);
      const run = w.engine.startRun({ inputs: inputs({ FLAVOUR: 'v' }) });
      assert.equal(await run.get(all), expected);
      run.end();
      saved = roundTrip(w.engine.exportGraph());
    }
  });

  it('leaves out values that would not come back as they are, and what depends on them', async () => {
    class Point {
      constructor(readonly x: number) {}
      double(): number {
        return this.x * 2;
      }
    }
    const w = new World({ f: '1' });
    const point = derived('point', async (ctx) => new Point(Number(await ctx.get(w.file('f')))));
    const text = derived('text', async (ctx) => `${(await ctx.get(point)).double()}`);
    const plain = derived('plain', async (ctx) => ({ n: await ctx.get(w.file('f')), m: new Map([[1, [2]]]) }));
    // An array's extra property is not walked by the check; serialization refuses the function, and the export goes on.
    const tagged = derived('tagged', async (ctx) => Object.assign([await ctx.get(w.file('f'))], { fn: () => 1 }));
    const onTagged = derived('on-tagged', async (ctx) => (await ctx.get(tagged)).length);
    const run = w.engine.startRun();
    await run.getAll<unknown>([text, plain, onTagged]);
    const saved = w.engine.exportGraph();
    assert.deepEqual([...saved.ids].sort(), ['file:f', 'plain']);
  });

  it('refuses to import into a graph that has run', async () => {
    const w = new World(FILES);
    await w.engine.startRun({ inputs: inputs({}) }).get(w.file('a/x'));
    assert.throws(() => w.engine.importGraph(w.engine.exportGraph(), () => undefined), /before the first run/);
  });

  it('counts as changed only what an export would see', async () => {
    const w = new World(FILES);
    const { all, rebuild } = build(w);
    let run = w.engine.startRun({ inputs: inputs({ FLAVOUR: 'v' }) });
    await run.get(all);
    run.end();
    const w2 = new World(FILES);
    const b2 = build(w2);
    w2.engine.importGraph(roundTrip(w.engine.exportGraph()), b2.rebuild);
    run = w2.engine.startRun({ inputs: inputs({ FLAVOUR: 'v' }) });
    await run.get(b2.all);
    run.end();
    assert.equal(w2.engine.stats().changes, 0, 'paths re-read with equal values change nothing');
    void rebuild;
  });
});

describe('a persisted graph, loaded lazily', () => {
  /** Packages `p0..p{n-1}`, each reading its own file, and `one`, which reads p0 only. */
  function wide(w: World, n: number) {
    const pkgs = Array.from({ length: n }, (_, i) => derived(`pkg:${i}`, async (ctx) => `p${i}=${await ctx.get(w.file(`f${i}`))}`));
    const all = derived('all', async (ctx) => (await ctx.getAll(pkgs)).join(' '));
    const one = derived('one', async (ctx) => `one(${await ctx.get(pkgs[0]!)})`);
    const rebuild = (id: string): AnyKey<unknown> | undefined => (id.startsWith('file:') ? w.file(id.slice('file:'.length)) : undefined);
    return { all, one, rebuild };
  }
  const files = (n: number, changed: Record<string, string> = {}): Record<string, string> => ({
    ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, `${i}`])),
    ...changed,
  });

  async function kept(n: number): Promise<PersistedGraph> {
    const w = new World(files(n));
    const run = w.engine.startRun();
    const { all, one } = wide(w, n);
    await run.getAll<unknown>([all, one]);
    run.end();
    return roundTrip(w.engine.exportGraph());
  }

  it('makes only the nodes a run names or walks through, and answers from the others without making them', async () => {
    const saved = await kept(50);
    const w = new World(files(50));
    const { one, rebuild } = wide(w, 50);
    assert.equal(w.engine.importGraph(saved, rebuild, []), saved.ids.length);
    const run = w.engine.startRun();
    assert.equal(await run.get(one), 'one(p0=0)');
    run.end();
    assert.deepEqual(w.log, [], 'nothing changed: nothing computes');
    assert.ok(w.engine.stats().loaded <= 3, `made ${w.engine.stats().loaded} of ${saved.ids.length} nodes`);
  });

  it('a changed path the caller names reaches what depends on it, made or not, and nothing else', async () => {
    const saved = await kept(50);
    const w = new World(files(50, { f7: 'seven' }));
    const { all, one, rebuild } = wide(w, 50);
    w.engine.importGraph(saved, rebuild, ['f7']);
    const run = w.engine.startRun();
    assert.equal(await run.get(one), 'one(p0=0)');
    assert.match(await run.get(all), / p7=seven /);
    run.end();
    assert.deepEqual(w.log.sort(), ['all', 'file:f7', 'pkg:7'], 'the stubs above the change recompute through the run that names them');
  });

  it('a second run in the same engine (an invalidation, as under --loop) makes the rest first and stays right', async () => {
    const saved = await kept(20);
    const w = new World(files(20));
    const { all, one, rebuild } = wide(w, 20);
    w.engine.importGraph(saved, rebuild, []);
    let run = w.engine.startRun();
    assert.equal(await run.get(one), 'one(p0=0)');
    run.end();
    w.files.set('f3', 'three');
    w.engine.invalidatePaths(['f3']);
    run = w.engine.startRun();
    assert.match(await run.get(all), / p3=three /);
    run.end();
    assert.equal(w.engine.stats().loaded, saved.ids.length, 'every record was made before the invalidation walked');
  });

  it('the read paths of a partly made graph include those of the records not made yet (a daemon stamps and watches them)', async () => {
    const saved = await kept(20);
    const w = new World(files(20));
    const { one, rebuild } = wide(w, 20);
    w.engine.importGraph(saved, rebuild, []);
    const run = w.engine.startRun();
    await run.get(one);
    run.end();
    assert.ok(w.engine.stats().loaded < saved.ids.length, 'partly made');
    const read = new Set(w.engine.readPaths());
    for (let i = 0; i < 20; i++) assert.ok(read.has(`f${i}`), `f${i} is read by the kept graph`);
  });

  it('an export applies the invalidations queued since the last run: the next process recomputes what they reach', async () => {
    const w = new World(files(10));
    const { all } = wide(w, 10);
    let run = w.engine.startRun();
    await run.get(all);
    run.end();
    // A daemon's watcher saw the edit; no run came before the export.
    w.files.set('f4', 'four');
    w.engine.invalidatePaths(['f4']);
    const saved = roundTrip(w.engine.exportGraph());
    const w2 = new World(files(10, { f4: 'four' }));
    const next = wide(w2, 10);
    // The stamps found nothing changed: only the records kept dirty come back dirty.
    w2.engine.importGraph(saved, next.rebuild, []);
    run = w2.engine.startRun();
    assert.match(await run.get(next.all), / p4=four /);
    run.end();
  });

  it('an export after a partial load keeps every record, and the next process is right', async () => {
    const saved = await kept(20);
    const w = new World(files(20, { f0: 'zero' }));
    const { one, rebuild } = wide(w, 20);
    w.engine.importGraph(saved, rebuild, ['f0']);
    const run = w.engine.startRun();
    assert.equal(await run.get(one), 'one(p0=zero)');
    run.end();
    const again = roundTrip(w.engine.exportGraph());
    assert.deepEqual([...again.ids].sort(), [...saved.ids].sort());
    const w3 = new World(files(20, { f0: 'zero', f9: 'nine' }));
    const next = wide(w3, 20);
    w3.engine.importGraph(again, next.rebuild, ['f9']);
    const run3 = w3.engine.startRun();
    const value = await run3.get(next.all);
    run3.end();
    assert.match(value, /^p0=zero .* p9=nine /);
    assert.deepEqual(w3.log.sort(), ['all', 'file:f9', 'pkg:9']);
  });
});

describe('a persisted graph across many processes', () => {
  it('leaves out what no run touched in the last maxAgeRuns processes (what depends on it too), and stays right', async () => {
    // `all` reads f and then a node named after f's content: each edit leaves the last one behind.
    const make = (w: World) => {
      const step = (content: string | null) => derived(`step:${content}`, async () => `s(${content})`);
      const all = derived('all', async (ctx) => ctx.get(step(await ctx.get(w.file('f')))));
      const rebuild = (id: string): AnyKey<unknown> | undefined => (id.startsWith('file:') ? w.file(id.slice('file:'.length)) : undefined);
      return { all, rebuild };
    };
    let saved: PersistedGraph | undefined;
    const kept: string[][] = [];
    for (let k = 1; k <= 8; k++) {
      const w = new World({ f: String(k) });
      const { all, rebuild } = make(w);
      if (saved !== undefined) w.engine.importGraph(saved, rebuild, ['f']);
      const run = w.engine.startRun();
      assert.equal(await run.get(all), `s(${k})`);
      run.end();
      saved = roundTrip(w.engine.exportGraph({ maxAgeRuns: 2 }));
      kept.push(saved.ids.filter((id) => id.startsWith('step:')).sort());
    }
    assert.deepEqual(kept[1], ['step:1', 'step:2'], 'one process later, the old step is kept');
    for (const ids of kept.slice(3)) assert.ok(ids.length <= 3 && ids.includes(`step:${kept.indexOf(ids) + 1}`), `old steps go: ${ids.join(' ')}`);
    assert.ok(!kept[7]!.includes('step:1'));
    // Without the bound every step stays.
    const w = new World({ f: '9' });
    const { all, rebuild } = make(w);
    w.engine.importGraph(saved!, rebuild, ['f']);
    const run = w.engine.startRun();
    assert.equal(await run.get(all), 's(9)');
    run.end();
    const unbounded = w.engine.exportGraph();
    assert.ok(unbounded.ids.filter((id) => id.startsWith('step:')).length > kept[7]!.length);
  });
});

describe('isPlainData', () => {
  it('accepts what v8.serialize gives back unchanged, and nothing else', () => {
    assert.ok(isPlainData({ a: [1, 'x', null, undefined, true, 2n], m: new Map([['k', new Set([1])]]), b: Buffer.from('x'), u: new Uint8Array(2), d: new Date(0), o: Object.create(null) as object }));
    assert.ok(!isPlainData({ f: () => 1 }));
    assert.ok(!isPlainData([new (class A {})()]));
    assert.ok(!isPlainData({ [Symbol('s')]: 1 }));
    assert.ok(!isPlainData(new Error('x')));
    assert.ok(!isPlainData(new Map([['k', [{ deep: [Symbol.iterator] }]]])));
  });

  it('ends on a cycle and on a much-shared value, and still finds what is not plain in them', () => {
    const cyclic: Record<string, unknown> = { name: 'a', list: [] };
    (cyclic.list as unknown[]).push(cyclic, { back: cyclic });
    assert.ok(isPlainData(cyclic));
    (cyclic.list as unknown[]).push(new (class B {})());
    assert.ok(!isPlainData(cyclic));
    // 2^40 paths through 40 objects: walked as a tree, it would never end.
    let shared: unknown = { leaf: 1 };
    for (let i = 0; i < 40; i++) shared = [shared, shared];
    assert.ok(isPlainData(shared));
    assert.ok(!isPlainData([() => 1, shared]));
  });
});

describe('what an import could not rebuild (Engine.unrebuilt)', () => {
  /** `top` reads a transient `clock`, a file (through `mid`, a rule node) and a variable. */
  function keys(w: World, tick: { n: number }) {
    const clock: Key<number> = { id: 'clock:', compute: async () => tick.n, isTransient: () => true };
    const mid = derived('mid', async (ctx) => `${(await ctx.get(w.file('a/x'))) ?? ''}`);
    // The clock first: a re-validation walks it before anything recomputes and names it with its key.
    const top = derived('top', async (ctx) => {
      const t = await ctx.get(clock);
      return `${await ctx.get(mid)}/${(await ctx.get(variable('V'))) ?? ''}/${t}`;
    });
    return { clock, top };
  }

  async function saved(): Promise<PersistedGraph> {
    const w = new World(FILES);
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    await run.get(keys(w, { n: 1 }).top);
    run.end();
    return roundTrip(w.engine.exportGraph());
  }

  const onlyInputs = (id: string): AnyKey<unknown> | undefined => (id.startsWith('var:') ? variable(id.slice('var:'.length)) : undefined);
  const listed = (w: World): string[] => w.engine.unrebuilt().map((u) => `${u.as} ${u.id}`).sort();

  it('lists an input it dropped at import', async () => {
    const w = new World(FILES);
    w.engine.importGraph(await saved(), () => undefined);
    assert.deepEqual(listed(w), ['input var:V']);
  });

  it('lists the transient and file-system records a run made as stubs, and no rule node; what read them recomputes', async () => {
    const w = new World(FILES);
    const { top } = keys(w, { n: 1 });
    w.engine.importGraph(await saved(), onlyInputs);
    // Records are made as a run reaches them.
    assert.deepEqual(listed(w), []);
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    assert.equal(await run.get(top), '1/v/1');
    run.end();
    assert.deepEqual(listed(w), ['file-system file:a/x', 'transient clock:']);
    assert.ok(w.log.includes('top') && w.log.includes('mid'), `what read the stubs recomputed: ${w.log.join(' ')}`);
  });

  it('lists nothing when every such record is rebuilt, and then only the transient node and the paths recompute', async () => {
    const w = new World(FILES);
    const { clock, top } = keys(w, { n: 1 });
    const rebuild = (id: string): AnyKey<unknown> | undefined => (id === clock.id ? clock : id.startsWith('file:') ? w.file(id.slice('file:'.length)) : onlyInputs(id));
    w.engine.importGraph(await saved(), rebuild);
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    assert.equal(await run.get(top), '1/v/1');
    run.end();
    assert.deepEqual(listed(w), []);
    assert.deepEqual(w.log.sort(), ['clock:', 'file:a/x']);
  });
});
