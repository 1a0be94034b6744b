// Start-up of runs without a daemon (issue 11, "No daemon (CI)"): two built
// trews checkouts, each in its own copy of a repo (a kept graph written by
// one checkout is thrown away by the other, whose bundle differs), timed
// alternately A B A B per command, wall time and CPU (user + sys, from
// /usr/bin/time) of the whole process, with TREWS_DAEMON=false as CI runs it.
//
//   node dist/bench/peers/generate-peers-repo.js --out /tmp/p-a --packages 200 --no-install
//   cp -r /tmp/p-a /tmp/p-b
//   node dist/bench/startup-ab.js --a BASE_CHECKOUT --repo-a /tmp/p-a --b . --repo-b /tmp/p-b [--pairs 21]
//
// Each command runs twice per checkout untimed first (code caches, kept
// graph, local store). The last debug line of each repo's kept graph says
// whether both ended in the same state: a graph that re-validates thousands
// of nodes on every run skews the comparison (bench/README.md, 2026-12-05).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchArgs } from './bench-args.js';
import { integerFlag, median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: { a: { type: 'string' }, 'repo-a': { type: 'string' }, b: { type: 'string' }, 'repo-b': { type: 'string' }, pairs: { type: 'string', default: '21' } },
});
if (values.a === undefined || values.b === undefined || values['repo-a'] === undefined || values['repo-b'] === undefined) {
  console.error('usage: node dist/bench/startup-ab.js --a CHECKOUT --repo-a DIR --b CHECKOUT --repo-b DIR [--pairs 21]');
  process.exit(2);
}
const pairs = integerFlag('startup-ab', 'pairs', values.pairs);
const sides = [
  { name: 'A', bin: join(resolve(values.a), 'bin', 'trews.cjs'), cwd: resolve(values['repo-a']) },
  { name: 'B', bin: join(resolve(values.b), 'bin', 'trews.cjs'), cwd: resolve(values['repo-b']) },
] as const;
const commands = [['version'], ['list', '::'], ['package', '::']];
const env = { ...process.env, TREWS_DAEMON: 'false' };
const scratch = mkdtempSync(join(tmpdir(), 'startup-ab-'));
const timeFile = join(scratch, 'time');

/** Wall and CPU milliseconds of one whole run. */
function run(side: (typeof sides)[number], args: readonly string[]): { wall: number; cpu: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, process.execPath, side.bin, ...args], { cwd: side.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${side.bin} ${args.join(' ')}: exit ${r.status}: ${r.stderr.toString()}`);
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
  return { wall, cpu: ((user ?? 0) + (sys ?? 0)) * 1000 };
}

try {
  for (const side of sides) for (const c of commands) for (let i = 0; i < 2; i++) run(side, c);
  const load = loadavg()[0]!;
  const times = new Map<string, { wall: number[]; cpu: number[] }>();
  for (let i = 0; i < pairs; i++) {
    for (const c of commands) {
      for (const side of sides) {
        const t = run(side, c);
        const k = `${c.join(' ')}|${side.name}`;
        const acc = times.get(k) ?? { wall: [], cpu: [] };
        acc.wall.push(t.wall);
        acc.cpu.push(t.cpu);
        times.set(k, acc);
      }
    }
  }
  const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  console.log(`${pairs} pairs, load ${load.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after; A = ${sides[0].bin}, B = ${sides[1].bin}`);
  console.log('| command | A wall ms, median (min–max) | B wall ms | B/A wall | A CPU ms (user+sys) | B CPU ms | B/A CPU |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of commands) {
    const a = times.get(`${c.join(' ')}|A`)!;
    const b = times.get(`${c.join(' ')}|B`)!;
    console.log(
      `| \`trews --no-daemon ${c.join(' ')}\` | ${fmt(a.wall)} | ${fmt(b.wall)} | ${(median(b.wall) / median(a.wall)).toFixed(2)} | ${fmt(a.cpu)} | ${fmt(b.cpu)} | ${(median(b.cpu) / median(a.cpu)).toFixed(2)} |`,
    );
  }
  for (const side of sides) {
    // Debug level only: present if the repo was last run with --level=debug.
    const lines = readFileSync(join(side.cwd, '.trews.d', 'trews.log'), 'utf8').split('\n').filter((l) => l.includes('graph: this run'));
    if (lines.length > 0) console.log(`${side.name}: last kept-graph run: ${lines[lines.length - 1]!.replace(/^.*graph: this run /, '')}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
