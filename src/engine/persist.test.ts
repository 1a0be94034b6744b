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
    const run = w.engine.startRun();
    await run.getAll<unknown>([text, plain]);
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

describe('isPlainData', () => {
  it('accepts what v8.serialize gives back unchanged, and nothing else', () => {
    const seen = new Set<object>();
    assert.ok(isPlainData({ a: [1, 'x', null, undefined, true, 2n], m: new Map([['k', new Set([1])]]), b: Buffer.from('x'), u: new Uint8Array(2), d: new Date(0), o: Object.create(null) as object }, seen));
    assert.ok(!isPlainData({ f: () => 1 }, new Set()));
    assert.ok(!isPlainData([new (class A {})()], new Set()));
    assert.ok(!isPlainData({ [Symbol('s')]: 1 }, new Set()));
    assert.ok(!isPlainData(new Error('x'), new Set()));
  });
});

describe('what an import could not rebuild (Engine.unrebuiltAtImport)', () => {
  /** `top` reads a file, a variable and a transient `clock`; `mid` is a rule node in between. */
  function keys(w: World, tick: { n: number }) {
    const clock: Key<number> = { id: 'clock:', compute: async () => tick.n, isTransient: () => true };
    const mid = derived('mid', async (ctx) => `${(await ctx.get(w.file('a/x'))) ?? ''}`);
    const top = derived('top', async (ctx) => `${await ctx.get(mid)}/${(await ctx.get(variable('V'))) ?? ''}/${await ctx.get(clock)}`);
    return { clock, top };
  }

  async function saved(): Promise<PersistedGraph> {
    const w = new World(FILES);
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    await run.get(keys(w, { n: 1 }).top);
    run.end();
    return roundTrip(w.engine.exportGraph());
  }

  it('lists the transient, file-system and input nodes that came back without their key, and no rule node', async () => {
    const w = new World(FILES);
    w.engine.importGraph(await saved(), () => undefined);
    const got = [...w.engine.unrebuiltAtImport()].map((u) => `${u.as} ${u.id}`).sort();
    assert.deepEqual(got, ['file-system file:a/x', 'input var:V', 'transient clock:']);
  });

  it('is empty when every such node is rebuilt, and then only the transient node and the paths recompute', async () => {
    const w = new World(FILES);
    const tick = { n: 1 };
    const { clock, top } = keys(w, tick);
    const rebuild = (id: string): AnyKey<unknown> | undefined =>
      id === clock.id ? clock : id.startsWith('file:') ? w.file(id.slice('file:'.length)) : id.startsWith('var:') ? variable(id.slice('var:'.length)) : undefined;
    w.engine.importGraph(await saved(), rebuild);
    assert.deepEqual(w.engine.unrebuiltAtImport(), []);
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    assert.equal(await run.get(top), '1/v/1');
    run.end();
    assert.deepEqual(w.log.sort(), ['clock:', 'file:a/x']);
  });

  it('a transient stub makes what reads it recompute', async () => {
    const w = new World(FILES);
    const { top } = keys(w, { n: 1 });
    w.engine.importGraph(await saved(), (id) => (id.startsWith('file:') ? w.file(id.slice('file:'.length)) : id.startsWith('var:') ? variable(id.slice('var:'.length)) : undefined));
    const run = w.engine.startRun({ inputs: inputs({ V: 'v' }) });
    await run.get(top);
    run.end();
    assert.ok(w.log.includes('top'), `top recomputed: ${w.log.join(' ')}`);
  });
});
