import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import type { PersistedGraph } from './persist.js';
import { pathsReadingOtherwise } from './recheck-paths.js';
import { derived, World } from './test-support.js';
import type { AnyKey, Key } from './types.js';

/** `all` reads the listing of `a` and each file in it, as a package over a directory does. */
function build(w: World) {
  const all = derived('all', async (ctx) => {
    const names = await ctx.get(w.listing('a'));
    return (await ctx.getAll(names.map((n) => w.file(`a/${n}`)))).join(',');
  });
  const rebuild = (id: string): AnyKey<unknown> | undefined => {
    if (id.startsWith('file:')) return w.file(id.slice('file:'.length));
    if (id.startsWith('dir:')) return w.listing(id.slice('dir:'.length));
    return undefined;
  };
  return { all, rebuild };
}

async function kept(files: Record<string, string>): Promise<PersistedGraph> {
  const w = new World(files);
  const run = w.engine.startRun();
  await run.get(build(w).all);
  run.end();
  return deserialize(serialize(w.engine.exportGraph())) as PersistedGraph;
}

const FILES = { 'a/x': '1', 'a/y': '2' };
const ALL = new Set(['a', 'a/x', 'a/y']);

describe('pathsReadingOtherwise (the paths whose stamps moved, read again before the import)', () => {
  it('leaves out the paths whose records read as kept, and keeps those that read otherwise', async () => {
    const saved = await kept(FILES);
    const same = new World(FILES);
    assert.deepEqual(await pathsReadingOtherwise(saved, build(same).rebuild, ALL), new Set());
    // An edit, an entry gone, an entry added: each is a change at exactly its path.
    const edited = new World({ ...FILES, 'a/x': '9' });
    assert.deepEqual(await pathsReadingOtherwise(saved, build(edited).rebuild, ALL), new Set(['a/x']));
    const gone = new World({ 'a/x': '1' });
    assert.deepEqual(await pathsReadingOtherwise(saved, build(gone).rebuild, ALL), new Set(['a', 'a/y']));
    const added = new World({ ...FILES, 'a/z': '3' });
    assert.deepEqual(await pathsReadingOtherwise(saved, build(added).rebuild, ALL), new Set(['a']));
  });

  it('keeps a path changed when its key cannot be rebuilt, its compute throws, or no record reads it', async () => {
    const saved = await kept(FILES);
    const w = new World(FILES);
    const { rebuild } = build(w);
    const noFiles = (id: string): AnyKey<unknown> | undefined => (id.startsWith('file:') ? undefined : rebuild(id));
    assert.deepEqual(await pathsReadingOtherwise(saved, noFiles, ALL), new Set(['a/x', 'a/y']));
    const throwing = (id: string): AnyKey<unknown> | undefined => {
      const k = rebuild(id) as Key<unknown>;
      return id === 'file:a/x' ? { ...k, compute: () => Promise.reject(new Error('EACCES')) } : k;
    };
    assert.deepEqual(await pathsReadingOtherwise(saved, throwing, ALL), new Set(['a/x']));
    assert.deepEqual(await pathsReadingOtherwise(saved, rebuild, new Set(['b/unread'])), new Set(['b/unread']));
  });

  it('past its bound reads nothing and leaves every moved path changed (a checkout: the run reads only what it reaches)', async () => {
    const saved = await kept(FILES);
    const { rebuild } = build(new World(FILES));
    const read: string[] = [];
    const counting = (id: string): AnyKey<unknown> | undefined => {
      const k = rebuild(id) as Key<unknown>;
      return { ...k, compute: (ctx, signal) => (read.push(id), k.compute(ctx, signal)) };
    };
    assert.deepEqual(await pathsReadingOtherwise(saved, counting, ALL, 2), ALL);
    assert.deepEqual(read, [], 'nothing was read');
    assert.deepEqual(await pathsReadingOtherwise(saved, counting, ALL, 3), new Set());
    assert.equal(read.length, 3);
  });

  it('an import given what it leaves out answers as a cold run: an unchanged path is not read again by the run, a change still recomputes', async () => {
    const saved = await kept(FILES);
    for (const [files, expected, recomputed] of [
      [FILES, '1,2', false],
      [{ ...FILES, 'a/y': '7' }, '1,7', true],
    ] as const) {
      const w = new World(files);
      const { all, rebuild } = build(w);
      const changed = await pathsReadingOtherwise(saved, rebuild, ALL);
      w.reset();
      assert.ok(w.engine.importGraph(saved, rebuild, changed) > 0);
      const run = w.engine.startRun();
      assert.equal(await run.get(all), expected);
      run.end();
      // Without the recheck every path would be dirty and read again by the run.
      if (recomputed) assert.deepEqual(w.log, ['file:a/y', 'all']);
      else assert.deepEqual(w.log, []);
    }
  });
});

describe('Engine.pathsReadingOtherwise (a live graph: the moved paths a daemon must still invalidate)', () => {
  async function warm(files: Record<string, string>) {
    const w = new World(files);
    const { all } = build(w);
    const run = w.engine.startRun();
    assert.equal(await run.get(all), '1,2');
    run.end();
    return { w, all };
  }

  it('leaves out the paths whose nodes read as they hold; keeps edits, and entries gone or added', async () => {
    const { w, all } = await warm(FILES);
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL), new Set());
    w.files.set('a/x', '9');
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL), new Set(['a/x']));
    w.files.delete('a/y');
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL), new Set(['a', 'a/x', 'a/y']));
    w.files.set('a/y', '2');
    w.files.set('a/z', '3');
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL), new Set(['a', 'a/x']));
    // What it returns is what must be invalidated: the next run sees every change.
    w.engine.invalidatePaths(await w.engine.pathsReadingOtherwise(ALL), { exact: true });
    const run = w.engine.startRun();
    assert.equal(await run.get(all), '9,2,3');
    run.end();
  });

  it('keeps a path whose node is dirty or fails to compute, and leaves out a path no node reads; past maxPaths, all', async () => {
    const { w } = await warm(FILES);
    assert.deepEqual(await w.engine.pathsReadingOtherwise(new Set(['b/unread'])), new Set());
    // Invalidated and not yet recomputed: not a node to compare against.
    w.engine.invalidatePaths(['a/x'], { exact: true });
    w.engine.startRun().end();
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL), new Set(['a/x']));
    assert.deepEqual(await w.engine.pathsReadingOtherwise(ALL, 2), ALL);
  });
});
