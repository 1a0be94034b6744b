// Measures what the local runner stack costs per process (not a test; prints
// figures). Run after a build:  node dist/bench/exec-overhead.js [runs]
//
// - direct: spawn('/bin/true') and wait for it, the floor;
// - sandbox: the local sandbox runner on the same command with a small input
//   root (materialize, spawn in its own group, check the inputs, capture,
//   remove), and again with a large one (default 1,000 files), where the
//   per-input costs (hard link, after-run check, removal) dominate;
// - cache hit: the local cache runner answering a process with two outputs
//   from the action cache (lookup, content check, output root rebuild);
// - input check: checkLinkedInputs alone on the large tree hard-linked once,
//   i.e. what the after-run check of the inputs adds to each process;
// - strict: the same small process in a strict sandbox (bubblewrap), timed
//   interleaved with the unconfined one so that the machine's load falls on
//   both alike; its difference is what `[sandbox] isolation = "strict"`
//   costs each process (skipped when bwrap is not installed).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalCacheRunner, createLocalRunner, makeProcess } from '../src/exec/index.js';
import { makeCtx, makeTempDir, removeDir } from '../src/exec/test-support.js';
import { checkLinkedInputs, createLocalStore, materializeTree, treeFromBytes } from '../src/store/index.js';
import { median } from './peers/bench-runner.js';


function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] ?? 0;
}

async function time(runs: number, f: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 5; i++) await f(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/true', [], { env: {}, stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', () => resolve());
  });
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 60);
  const largeCount = Number(process.argv[3] ?? 1000);
  // MiB of memory this process holds, as a trews run (200-400 MB) does: fork()'s cost grows with it.
  const ballastMiB = Number(process.argv[4] ?? 0);
  const ballast = Array.from({ length: ballastMiB }, () => Buffer.alloc(1 << 20, 1));
  const dir = await makeTempDir('trews-bench-');
  const store = createLocalStore({ dir: join(dir, 'store') });
  try {
    const files = Array.from({ length: 10 }, (_, i) => ({ path: `${i < 5 ? 'src' : 'lib'}/f${i}.txt`, content: `file ${i}\n`.repeat(10) }));
    const inputRoot = await treeFromBytes(store, files);
    const largeFiles = Array.from({ length: largeCount }, (_, i) => ({ path: `d${i % 20}/f${i}.txt`, content: `large tree file ${i}\n`.repeat(20) }));
    const largeRoot = await treeFromBytes(store, largeFiles);
    const local = createLocalRunner({ store, sandboxRoot: join(dir, 'sandboxes') });
    const cached = createLocalCacheRunner(local, store);
    const ctx = makeCtx();
    const trueProc = makeProcess({ argv: ['/bin/true'], inputRoot, cacheScope: 'never' });
    const largeProc = makeProcess({ argv: ['/bin/true'], inputRoot: largeRoot, cacheScope: 'never' });
    const producing = makeProcess({
      argv: ['/bin/sh', '-c', 'echo a > a.txt; mkdir d; echo b > d/b.txt'],
      inputRoot,
      outputFiles: ['a.txt'],
      outputDirectories: ['d'],
    });
    await cached.run(ctx, producing);

    const direct = await time(runs, spawnTrue);
    const sandbox = await time(runs, () => local.run(ctx, trueProc));
    const strictRunner = createLocalRunner({ store, sandboxRoot: join(dir, 'sandboxes'), isolation: 'strict' });
    const haveBwrap = existsSync('/usr/bin/bwrap');
    const pair: { none: number[]; strict: number[] } = { none: [], strict: [] };
    if (haveBwrap) {
      for (let i = 0; i < 5; i++) await strictRunner.run(ctx, trueProc); // warm-up
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await local.run(ctx, trueProc);
        const t1 = performance.now();
        await strictRunner.run(ctx, trueProc);
        pair.none.push(t1 - t0);
        pair.strict.push(performance.now() - t1);
      }
    }
    // The spawner helper (the default) against forking from this process, interleaved.
    const inlineRunner = createLocalRunner({ store, sandboxRoot: join(dir, 'sandboxes'), spawner: 'inline' });
    const spawners: { helper: number[]; inline: number[] } = { helper: [], inline: [] };
    for (let i = 0; i < 5; i++) await inlineRunner.run(ctx, trueProc); // warm-up
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await local.run(ctx, trueProc);
      const t1 = performance.now();
      await inlineRunner.run(ctx, trueProc);
      spawners.helper.push(t1 - t0);
      spawners.inline.push(performance.now() - t1);
    }
    const large = await time(Math.max(5, Math.floor(runs / 4)), () => local.run(ctx, largeProc));
    const linkedDir = join(dir, 'linked');
    const { linked } = await materializeTree(store, largeRoot, linkedDir, { mode: 'hardlink' });
    const check = await time(runs, async () => {
      if ((await checkLinkedInputs(store, linkedDir, linked)).length > 0) throw new Error('an input changed');
    });
    const hit = await time(runs, async () => {
      const r = await cached.run(ctx, producing);
      if (r.source !== 'local cache') throw new Error(`expected a cache hit, got ${r.source}`);
    });
    const row = (name: string, xs: number[]): string => `${name.padEnd(28)} median ${median(xs).toFixed(2)} ms   p90 ${p90(xs).toFixed(2)} ms`;
    process.stdout.write(
      [
        `${runs} runs each, after 5 warm-up runs; input root: ${files.length} files in 2 directories; ${ballast.length} MiB held (RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB)`,
        row('spawn /bin/true directly', direct),
        row('local sandbox runner', sandbox),
        `${'  overhead per process'.padEnd(28)} ${(median(sandbox) - median(direct)).toFixed(2)} ms`,
        ...(haveBwrap
          ? [
              row('  none (interleaved)', pair.none),
              row('  strict (bwrap, interleaved)', pair.strict),
              `${'  strict overhead per process'.padEnd(28)} ${(median(pair.strict) - median(pair.none)).toFixed(2)} ms`,
            ]
          : ['  strict: bwrap is not installed (apt-get install bubblewrap)']),
        row('  spawner helper (interleaved)', spawners.helper),
        row('  fork from here (interleaved)', spawners.inline),
        row(`sandbox, ${largeCount} input files`, large),
        `${'  per input file'.padEnd(28)} ${(((median(large) - median(sandbox)) / Math.max(1, largeCount - files.length)) * 1000).toFixed(2)} µs`,
        row(`input check, ${linked.length} links`, check),
        row('local cache hit', hit),
        '',
      ].join('\n'),
    );
  } finally {
    await store.close();
    await removeDir(dir);
  }
}

await main();
