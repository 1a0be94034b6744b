// `dependencies --transitive` down a chain of targets, as a whole CLI process without the daemon:
//   node dist/bench/dependency-chain.js [--targets 12000 --runs 5 --layout one-file|one-dir-each]
// one-file: every target in one BUILD file, t_i depending on t_{i+1} (the case
// that was quadratic: each lookup scanned the directory's targets);
// one-dir-each: target i in its own directory d_i.
// Prints the median wall time of --runs runs, and `list ::` on the same repo for scale.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { median } from './peers/bench-runner.js';


const { values } = benchArgs(import.meta.url, {
  options: {
    targets: { type: 'string', default: '12000' },
    runs: { type: 'string', default: '5' },
    layout: { type: 'string', default: 'one-file' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-chain') },
  },
});
const n = Number(values.targets);
const runs = Number(values.runs);
const root = values.out!;
const layout = values.layout;
if (layout !== 'one-file' && layout !== 'one-dir-each') throw new Error(`--layout must be one-file or one-dir-each, not ${layout}`);

rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
writeFileSync(join(root, 'trews.toml'), '');
let first: string;
if (layout === 'one-file') {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`target(name="t${i}"${i + 1 < n ? `, dependencies=[":t${i + 1}"]` : ''})`);
  mkdirSync(join(root, 'chain'));
  writeFileSync(join(root, 'chain', 'BUILD'), `${lines.join('\n')}\n`);
  first = 'chain:t0';
} else {
  for (let i = 0; i < n; i++) {
    mkdirSync(join(root, `d${i}`));
    writeFileSync(join(root, `d${i}`, 'BUILD'), `target(name="t"${i + 1 < n ? `, dependencies=["d${i + 1}:t"]` : ''})\n`);
  }
  first = 'd0:t';
}

// dist/bench/ → the checkout's bin/trews.
const trews = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TREWS_DAEMON: 'false' };

function time(args: string[], expectLines: number): number {
  const t0 = performance.now();
  const r = spawnSync(trews, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`trews ${args.join(' ')} failed:\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter(Boolean).length;
  if (lines !== expectLines) throw new Error(`trews ${args.join(' ')} printed ${lines} lines, expected ${expectLines}`);
  return ms;
}

const deps: number[] = [];
const list: number[] = [];
for (let r = 0; r < runs; r++) {
  deps.push(time(['dependencies', '--transitive', first], n - 1));
  list.push(time(['list', '::'], n));
}
const f = (xs: number[]): string => `median ${(median(xs) / 1000).toFixed(2)} s  (runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
console.log(`chain of ${n} targets, ${layout}`);
console.log(`dependencies --transitive ${first}  ${f(deps)}`);
console.log(`list ::                         ${f(list)}`);
