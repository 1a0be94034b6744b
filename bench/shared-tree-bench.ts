// What a large node_modules adds to preparing a sandbox (not a test; prints
// figures). Run after a build:
//   node dist/bench/shared-tree-bench.js [--packages 625 --files 80 --runs 15]
//
// The generated node_modules has packages × files files (default 50,000:
// 625 packages of 40 files at the top and 40 in lib/). Per run, each in a
// fresh directory:
// - base: materializing a small input root (20 source files), the floor;
// - shared: the same input root merged with node_modules, materialized as
//   the local sandbox runner does for a JavaScript script: node_modules kept
//   real, each package a symlink into the one read-only shared copy, plus
//   the shared tree's before/after check (begin, then the watch barrier);
// - the difference of the medians is what node_modules adds.
// Then, for scale, the ordinary materialization (a hard link per file) of
// the whole tree, a few runs. The shared copy itself is made once per tree
// digest, before the timed runs (its cost is printed too).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { benchArgs } from './bench-args.js';
import { nullLogger } from '../src/core/index.js';
import { makeTempDir, removeDir } from '../src/exec/test-support.js';
import { mkdir } from 'node:fs/promises';
import { createLocalStore, LinkFarms, materializeTree, mergeTrees, sharedTreesFor, treeFromBytes } from '../src/store/index.js';
import { median } from './peers/bench-runner.js';


const { values } = benchArgs(import.meta.url, {
  options: { packages: { type: 'string', default: '625' }, files: { type: 'string', default: '80' }, runs: { type: 'string', default: '15' }, 'skip-hardlink': { type: 'boolean', default: false } },
});
const packages = Number(values.packages);
const perPackage = Number(values.files);
const runs = Number(values.runs);

const dir = await makeTempDir('trews-shared-bench-');
try {
  const store = createLocalStore({ dir: join(dir, 'store') });
  const sources = Array.from({ length: 20 }, (_, i) => ({ path: `packages/app/src/f${i}.ts`, content: `export const v${i} = ${i};\n`, isExecutable: false }));
  // One package at a time: all 50,000 blobs at once would exhaust file descriptors.
  const pkgTrees = [];
  for (let p = 0; p < packages; p++) {
    const files = [];
    for (let f = 0; f < perPackage; f++) {
      const sub = f < perPackage / 2 ? '' : 'lib/';
      files.push({ path: `node_modules/pkg-${p}/${sub}file-${f}.js`, content: `module.exports = ${p * 1000 + f};\n`, isExecutable: false });
    }
    pkgTrees.push(await treeFromBytes(store, files));
  }
  const base = await treeFromBytes(store, sources);
  const nm = await mergeTrees(store, pkgTrees);
  const full = await mergeTrees(store, [base, nm]);
  const trees = sharedTreesFor(store, nullLogger);

  let t0 = performance.now();
  const first = await trees.acquire(nm);
  if (first === undefined) throw new Error('the shared tree cannot be watched here (inotify limits?)');
  const makeMs = performance.now() - t0;
  const link = { tree: nm, dir: first.dir, realDirs: new Set(['node_modules']) };
  const pool = join(dir, 'farms');
  await mkdir(pool);
  const farmed = { ...link, farms: new LinkFarms(store, () => Promise.resolve(pool)) };

  let n = 0;
  const fresh = (): string => join(dir, `sb-${n++}`);
  const baseMs: number[] = [];
  const sharedMs: number[] = [];
  const farmMs: number[] = [];
  // Each run: the sandbox with node_modules as per-package symlinks (the
  // design before farms), then with a farm, so both see the same load.
  /** Per phase of the farm runs: acquire the shared tree, materialize, the check (barrier), release the farm. */
  const phases: Record<'acquire' | 'materialize' | 'check' | 'release', number[]> = { acquire: [], materialize: [], check: [], release: [] };
  const sandbox = async (withFarm: boolean): Promise<number> => {
    const b = fresh();
    const t = performance.now();
    const use = await trees.acquire(nm);
    const t1 = performance.now();
    const made = await materializeTree(store, full, b, { mode: 'hardlink', shared: [withFarm ? farmed : link] });
    const t2 = performance.now();
    const token = use!.begin();
    if (await use!.modifiedSince(token)) throw new Error('the shared tree was modified');
    const t3 = performance.now();
    for (const f of made.farms) await f.release();
    const ms = performance.now() - t;
    if (withFarm) {
      phases.acquire.push(t1 - t);
      phases.materialize.push(t2 - t1);
      phases.check.push(t3 - t2);
      phases.release.push(performance.now() - t3);
    }
    if (made.sharedLinks !== packages) throw new Error(`expected ${packages} shared links, made ${made.sharedLinks}`);
    if (withFarm && made.farms.length !== 1) throw new Error('no farm was used');
    await rm(b, { recursive: true, force: true });
    return ms;
  };
  t0 = performance.now();
  await sandbox(true); // makes the farm
  const farmMakeMs = performance.now() - t0;
  for (let i = 0; i < runs + 2; i++) {
    const a = fresh();
    t0 = performance.now();
    await materializeTree(store, base, a, { mode: 'hardlink' });
    const tb = performance.now() - t0;
    await rm(a, { recursive: true, force: true });
    const ts = await sandbox(false);
    const tf = await sandbox(true);
    if (i >= 2) {
      baseMs.push(tb);
      sharedMs.push(ts);
      farmMs.push(tf);
    }
  }
  const hardMs: number[] = [];
  for (let i = 0; i < (values['skip-hardlink'] ? 0 : 3); i++) {
    const c = fresh();
    t0 = performance.now();
    await materializeTree(store, full, c, { mode: 'hardlink' });
    hardMs.push(performance.now() - t0);
    await removeDir(c);
  }
  const files = packages * perPackage;
  console.log(`node_modules of ${files.toLocaleString('en')} files in ${packages} packages; ${runs} runs (medians)`);
  console.log(`  shared copy made once:                        ${makeMs.toFixed(0)} ms`);
  console.log(`  farm made once (first sandbox):               ${farmMakeMs.toFixed(0)} ms`);
  console.log(`  sandbox, 20 sources, no node_modules:         ${median(baseMs).toFixed(1)} ms`);
  console.log(`  + node_modules, a symlink per package:        ${median(sharedMs).toFixed(1)} ms  (adds ${(median(sharedMs) - median(baseMs)).toFixed(1)} ms)`);
  console.log(`  + node_modules, a farm moved in:              ${median(farmMs).toFixed(1)} ms  (adds ${(median(farmMs) - median(baseMs)).toFixed(1)} ms)`);
  console.log(`    farm runs by phase: ${Object.entries(phases).map(([k, v]) => `${k} ${median(v.slice(-runs)).toFixed(1)} ms`).join(', ')}`);
  if (hardMs.length > 0) console.log(`  (for scale) node_modules hard-linked per file: ${median(hardMs).toFixed(0)} ms`);
} finally {
  await removeDir(dir);
}
