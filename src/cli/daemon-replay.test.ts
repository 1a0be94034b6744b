import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { IdleProof } from '../daemon/index.js';
import type { Key, PendingInvalidations } from '../engine/index.js';
import { dirEntriesId } from '../fs/index.js';
import type { App } from './app.js';
import { nodeOnPath, proveFromDaemon } from './daemon-replay.js';
import type { LiveRun } from './replay-record.js';

const scratch = mkdtempSync(join(tmpdir(), 'trews-daemon-replay-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A daemon graph as proveFromDaemon sees it, after one run that wrote `pkg/dist` back. */
interface World {
  runs: number;
  liveRuns: number;
  pending: PendingInvalidations;
  paths: string[];
  transients: { key: Key<unknown>; value: unknown }[];
  listings: Map<string, unknown>;
}

function world(): World {
  return {
    runs: 4,
    liveRuns: 0,
    pending: { all: false, paths: ['pkg/dist'], exact: [] },
    paths: ['', 'BUILD', 'pkg', 'pkg/src/a.ts'],
    transients: [],
    listings: new Map([[dirEntriesId('pkg'), { exists: true, entries: [{ name: 'src', kind: 'dir' }] }]]),
  };
}

function liveRun(w: World): LiveRun {
  const engine = {
    stats: () => ({ runs: w.runs, liveRuns: w.liveRuns }),
    pendingInvalidations: () => w.pending,
    readPaths: () => w.paths[Symbol.iterator](),
    transientValues: () => w.transients,
    cleanValue: (id: string) => (w.listings.has(id) ? { value: w.listings.get(id) } : undefined),
  };
  return { app: { engine } as unknown as App, listed: new Set(['pkg']), bases: new Set(['pkg/dist']), runsAtStart: 4, liveAtStart: 1 };
}

/** Every path stamped; `pkg` too recent (the run wrote pkg/dist into it). */
function proof(): IdleProof {
  return {
    stamps: new Map([
      ['', 'd:1'],
      ['BUILD', 'f:2'],
      ['pkg', 'd:3'],
      ['pkg/src/a.ts', 'f:4'],
    ]),
    racy: new Set(['pkg']),
  };
}

const tool = (found: readonly string[] | undefined): Key<unknown> => ({ id: 'tool:tsc', compute: () => Promise.resolve(null), replayProof: () => Promise.resolve(found) });

describe('proveFromDaemon', () => {
  it('proves the run by the stamps, the listing of the directory it wrote into, and the programs its tools were found at', async () => {
    const w = world();
    w.transients = [{ key: tool(['/usr/bin/tsc']), value: '/usr/bin/tsc' }];
    const p = await proveFromDaemon(liveRun(w), proof());
    assert.ok(typeof p === 'object' && p !== undefined, String(p));
    assert.deepEqual([...p.stamps.keys()].sort(), ['', 'BUILD', 'pkg/src/a.ts'], 'the racy directory is proven by its listing, not its stamp');
    assert.deepEqual(p.programs, ['/usr/bin/tsc']);
    assert.deepEqual([...p.listings.keys()], ['pkg']);
  });

  it('refuses what would let a changed world replay the old answer', async () => {
    const cases: [string, (w: World, p: IdleProof) => IdleProof | undefined, RegExp][] = [
      ['no proof came after the run', () => undefined, /^no proof of the file system came after the run/],
      ['a run began since', (w, p) => ((w.runs = 5), p), /another run overlapped it or began since/],
      ['a run is live', (w, p) => ((w.liveRuns = 1), p), /another run overlapped it or began since/],
      ['the watcher may have lost events', (w, p) => ((w.pending = { all: true, paths: [], exact: [] }), p), /the watcher may have lost changes/],
      ['a source changed after the run read it', (w, p) => ((w.pending = { all: false, paths: ['pkg/dist', 'pkg/src/a.ts'], exact: [] }), p), /^pkg\/src\/a\.ts changed since the run began$/],
      ['a stamp moved since (found by the stamps)', (w, p) => ((w.pending = { all: false, paths: [], exact: ['BUILD'] }), p), /^BUILD changed since the run began$/],
      ['a path beside the output directory, named like it', (w, p) => ((w.pending = { all: false, paths: ['pkg/distant'], exact: [] }), p), /^pkg\/distant changed/],
      ['a path the proof did not stamp', (w, p) => ((w.paths = [...w.paths, 'pkg/src/b.ts']), p), /^pkg\/src\/b\.ts was not stamped$/],
      ['a path changed too recently', (_w, p) => ({ ...p, racy: new Set(['pkg', 'BUILD']) }), /^BUILD changed too recently to be proven by its stamp$/],
      ['a tool found where no stamp proves it', (w, p) => ((w.transients = [{ key: tool(undefined), value: 'x' }]), p), /^tool:tsc cannot be proven by stamps$/],
    ];
    for (const [what, change, why] of cases) {
      const w = world();
      const live = liveRun(w);
      const p = change(w, proof());
      const answer = await proveFromDaemon(live, p);
      assert.ok(typeof answer === 'string', `${what}: refused`);
      assert.match(answer, why, what);
    }
    // The run was not alone as it started.
    const w = world();
    const answer = await proveFromDaemon({ ...liveRun(w), liveAtStart: 2 }, proof());
    assert.match(String(answer), /another run overlapped it/);
  });
});

describe('nodeOnPath', () => {
  it('finds the first executable file named node, through links, relative entries against the working directory', () => {
    const a = join(scratch, 'a');
    const b = join(scratch, 'b');
    const real = join(scratch, 'real');
    mkdirSync(a);
    mkdirSync(b);
    mkdirSync(real);
    writeFileSync(join(a, 'node'), 'not executable');
    chmodSync(join(a, 'node'), 0o644);
    writeFileSync(join(real, 'node'), '#!/bin/sh\n');
    chmodSync(join(real, 'node'), 0o755);
    symlinkSync(join(real, 'node'), join(b, 'node'));
    assert.equal(nodeOnPath(`${a}:${b}`, '/'), realpathSync(join(real, 'node')));
    assert.equal(nodeOnPath('b', scratch), realpathSync(join(real, 'node')), 'relative to the working directory');
    assert.equal(nodeOnPath(a, '/'), undefined);
    assert.equal(nodeOnPath(undefined, '/'), undefined);
  });
});
