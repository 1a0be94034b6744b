// What leaving out the contents of absent ignored directories costs the
// daemon's watch (not a test; prints figures). Run after a build:
//   node dist/bench/watch-subscribe-bench.js [--packages 1000 --files 10 --runs 5 --per-dir-max 1000]
//
// Generates a tree of N packages (packages/pI/src with F files each, the
// peers repo's shape) with no packages/pI/dist, as after `rm -rf
// packages/*/dist`, and times @parcel/watcher's subscribe on it, interleaved:
// - none: the watcher's own patterns only (.git, .trews.d), the floor;
// - one: every packages/pI/dist/ left out by one expression
//   (contentsPattern, the watcher's way since the twelfth stop);
// - per-dir: one expression per directory (the way before it), only when
//   N <= --per-dir-max (each costs every path walked).
// Then each variant's events when every dist/ is made again with F files:
// the directories themselves only (N events), never their contents.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchArgs } from './bench-args.js';
import { contentsPattern, nativeIgnorePatterns, type WatchBackend } from '../src/daemon/index.js';
import { makeTempDir, removeDir } from '../src/exec/test-support.js';
import { integerFlag, median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '1000' },
    files: { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    'per-dir-max': { type: 'string', default: '1000' },
  },
});
const packages = integerFlag('watch-subscribe-bench', 'packages', values.packages, 1);
const files = integerFlag('watch-subscribe-bench', 'files', values.files, 1);
const runs = integerFlag('watch-subscribe-bench', 'runs', values.runs, 1);
const perDirMax = integerFlag('watch-subscribe-bench', 'per-dir-max', values['per-dir-max'], 0);

const parcel = createRequire(import.meta.url)('@parcel/watcher') as WatchBackend;
const root = await makeTempDir('trews-watch-bench-');
try {
  for (let p = 0; p < packages; p++) {
    mkdirSync(join(root, 'packages', `p${p}`, 'src'), { recursive: true });
    for (let f = 0; f < files; f++) writeFileSync(join(root, 'packages', `p${p}`, 'src', `f${f}.ts`), `export const v = ${f};\n`);
  }
  const dists = Array.from({ length: packages }, (_, p) => `packages/p${p}/dist`);
  const variants: Record<string, (string | RegExp)[]> = {
    none: nativeIgnorePatterns(),
    one: [...nativeIgnorePatterns(), contentsPattern(dists)],
    ...(packages <= perDirMax ? { 'per-dir': [...nativeIgnorePatterns(), ...dists.map((d) => contentsPattern([d]))] } : {}),
  };
  const times = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
  const events = new Map<string, number>();
  for (let r = 0; r < runs; r++) {
    for (const [name, ignore] of Object.entries(variants)) {
      let seen = 0;
      const t0 = performance.now();
      const sub = await parcel.subscribe(root, (_err, evs) => void (seen += evs.length), { ignore });
      times.get(name)!.push(performance.now() - t0);
      if (r === 0) {
        for (const d of dists) {
          mkdirSync(join(root, d));
          for (let f = 0; f < files; f++) writeFileSync(join(root, d, `f${f}.js`), '');
        }
        await new Promise((resolve) => setTimeout(resolve, 1500));
        events.set(name, seen);
      }
      await sub.unsubscribe();
      if (r === 0) for (const d of dists) rmSync(join(root, d), { recursive: true });
      console.log(`run ${r + 1} ${name}: subscribe ${times.get(name)!.at(-1)!.toFixed(0)} ms`);
    }
  }
  console.log(`\n${packages} packages of ${files} files, every packages/pI/dist absent; medians of ${runs}, interleaved`);
  console.log('| ignore expressions | subscribe (median, min–max) | events when every dist/ is made again |');
  console.log('| --- | --- | --- |');
  for (const [name, t] of times) {
    console.log(`| ${name} (${variants[name]!.length}) | ${median(t).toFixed(0)} ms (${Math.min(...t).toFixed(0)}–${Math.max(...t).toFixed(0)}) | ${events.get(name)} (${packages} directories, ${packages * files} files in them) |`);
  }
} finally {
  await removeDir(root);
}
