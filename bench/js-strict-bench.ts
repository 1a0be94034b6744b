// What strict isolation costs a JavaScript script's process (issue #14):
//   node dist/bench/js-strict-bench.js [--runs 15]
// A one-package npm workspace (semver from the machine's npm cache, as the
// tests install it) with a script `tiny` = `node -e` writing one output.
// Each run is `trews build packages/lib:tiny --trace=…` without the daemon,
// alternating `[sandbox] isolation` none and strict (so the machine's load
// falls on both alike), with a fresh value of a variable in the task's `env`
// so the process runs every time (the install is cached after the first
// run of each kind). From the trace, per process: `dur` (the runner's whole
// request: the sandbox with node_modules linked from the shared copy, the
// process, the capture) and `execution_ms` (spawn to exit: bwrap's setup is
// in it). Reported: medians of each kind and their difference.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, { options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const trews = join(repoRoot, 'bin', 'trews');
const scratch = mkdtempSync(join(tmpdir(), 'trews-bench-js-strict-'));
const root = join(scratch, 'ws');
const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string; integrity: string }> };
const semver = lock.packages['node_modules/semver']!;
write('package.json', json({ name: 'bench', private: true, workspaces: ['packages/*'] }));
write(
  'package-lock.json',
  json({
    name: 'bench',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'bench', workspaces: ['packages/*'] },
      'node_modules/@bench/lib': { resolved: 'packages/lib', link: true },
      'node_modules/semver': { version: semver.version, resolved: `https://registry.npmjs.org/semver/-/semver-${semver.version}.tgz`, integrity: semver.integrity, license: 'ISC', bin: { semver: 'bin/semver.js' }, engines: { node: '>=10' } },
      'packages/lib': { name: '@bench/lib', version: '1.0.0', dependencies: { semver: semver.version } },
    },
  }),
);
write('trews.toml', '[javascript.tasks.tiny]\noutputs = ["out/**"]\nenv = ["BENCH_NONCE"]\n');
write(
  'packages/lib/package.json',
  json({
    name: '@bench/lib',
    version: '1.0.0',
    private: true,
    scripts: { tiny: "node -e \"require('fs').mkdirSync('out',{recursive:true});require('fs').writeFileSync('out/v.txt', require('semver').valid('1.2.3'))\"" },
    dependencies: { semver: semver.version },
  }),
);

interface Sample {
  readonly dur: number;
  readonly exec: number;
}

function run(isolation: 'none' | 'strict', nonce: string): Sample {
  const trace = join(scratch, `trace-${nonce}.json`);
  const r = spawnSync(trews, ['build', 'packages/lib:tiny', `--trace-file=${trace}`], {
    cwd: root,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? homedir(),
      npm_config_cache: process.env.npm_config_cache ?? join(homedir(), '.npm'),
      TREWS_DAEMON: 'false',
      TREWS_LOCAL_STORE_DIR: join(scratch, 'store'),
      TMPDIR: scratch,
      TREWS_SANDBOX_ISOLATION: isolation,
      BENCH_NONCE: nonce,
    },
  });
  if (r.status !== 0) throw new Error(`trews build (${isolation}) failed:\n${r.stderr}`);
  const events = (JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: Array<{ cat?: string; name: string; dur?: number; args?: { execution_ms?: number; source?: string } }> }).traceEvents;
  const p = events.find((e) => e.cat?.startsWith('process,') === true && e.name.startsWith('Run packages/lib:tiny') && e.args?.source === 'ran locally');
  if (p === undefined || p.dur === undefined || p.args?.execution_ms === undefined) throw new Error(`no process of tiny in ${trace}`);
  return { dur: p.dur / 1000, exec: p.args.execution_ms };
}

try {
  // Warm-up: the install of each kind, and the page cache.
  run('none', 'warm-none');
  run('strict', 'warm-strict');
  const samples: Record<'none' | 'strict', Sample[]> = { none: [], strict: [] };
  for (let i = 0; i < runs; i++) {
    const order: Array<'none' | 'strict'> = i % 2 === 0 ? ['none', 'strict'] : ['strict', 'none'];
    for (const k of order) samples[k].push(run(k, `${k}-${i}`));
  }
  const m = (k: 'none' | 'strict', f: keyof Sample): number => median(samples[k].map((s) => s[f]));
  const row = (name: string, f: keyof Sample): string =>
    `${name.padEnd(36)} none ${m('none', f).toFixed(1).padStart(7)} ms   strict ${m('strict', f).toFixed(1).padStart(7)} ms   overhead ${(m('strict', f) - m('none', f)).toFixed(1).padStart(6)} ms`;
  process.stdout.write(
    [
      `${runs} runs of each kind, interleaved; process: node -e (requires semver) in packages/lib, node_modules from the shared copy`,
      row('runner request (trace dur)', 'dur'),
      row('spawn to exit (execution_ms)', 'exec'),
      '',
    ].join('\n'),
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
