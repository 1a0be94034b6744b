// Measures the inferred targets of a JavaScript workspace, process start to exit:
//   node dist/bench/js-bench.js [--packages 300 --files 20 --deps 3 --runs 9 --cold-runs 3]
// The generated npm workspace has no BUILD file: package i has `--files`
// sources, scripts build/test/lint, and depends (by `*`) on up to `--deps`
// lower-numbered packages. Reported, medians:
// 1. cold: `trews --no-daemon list ::` (discovery, every package.json, every package's files);
// 2. cold: `trews --no-daemon dependencies --transitive <last package>:build` (the pipeline);
// 3. warm: both through a running daemon;
// 4. after editing one package.json (a script's command), `list ::` through the daemon;
// and `node -e 0`, alternating with the warm runs, as the floor.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '300' },
    files: { type: 'string', default: '20' },
    deps: { type: 'string', default: '3' },
    runs: { type: 'string', default: '9' },
    'cold-runs': { type: 'string', default: '3' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-js') },
  },
});
const packages = Number(values.packages);
const files = Number(values.files);
const deps = Number(values.deps);
const runs = Number(values.runs);
const coldRuns = Number(values['cold-runs']);
const root = values.out!;
const trews = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');
const devNull = openSync('/dev/null', 'w');


const write = (path: string, text: string): void => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

/** Deterministic: package i depends on i-1, i-7, i-31 (those that exist), up to `deps` of them. */
function manifest(i: number, variant = 0): string {
  const on = [1, 7, 31, 127].map((d) => i - d).filter((j) => j >= 0).slice(0, deps);
  return `${JSON.stringify(
    {
      name: `@bench/p${i}`,
      version: '1.0.0',
      dependencies: Object.fromEntries(on.map((j) => [`@bench/p${j}`, '*'])),
      scripts: { build: `tsc -p . # ${variant}`, test: 'node --test', lint: 'eslint src' },
    },
    null,
    2,
  )}\n`;
}

rmSync(root, { recursive: true, force: true });
write('trews.toml', '');
write('package.json', JSON.stringify({ name: 'bench', private: true, workspaces: ['packages/*'] }));
write('package-lock.json', '{}');
for (let i = 0; i < packages; i++) {
  write(`packages/p${i}/package.json`, manifest(i));
  for (let f = 0; f < files; f++) write(`packages/p${i}/src/m${f}.ts`, `export const v${f} = ${f};\n`);
}

function time(args: string[], program: string[] = [trews]): number {
  const t0 = performance.now();
  const r = spawnSync(program[0] ?? process.execPath, [...program.slice(1), ...args], { cwd: root, stdio: ['ignore', devNull, 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`trews ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
  return ms;
}

const list = ['list', '::'];
const deepest = ['dependencies', '--transitive', `packages/p${packages - 1}:build`];
spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });
const coldList: number[] = [];
const coldDeps: number[] = [];
for (let i = 0; i < coldRuns; i++) {
  coldList.push(time(['--no-daemon', ...list]));
  coldDeps.push(time(['--no-daemon', ...deepest]));
}
time(list);
time(deepest);
const warmList: number[] = [];
const warmDeps: number[] = [];
const edited: number[] = [];
const floors: number[] = [];
for (let i = 0; i < runs; i++) {
  warmList.push(time(list));
  warmDeps.push(time(deepest));
  floors.push(time(['-e', '0'], []));
}
const mid = Math.floor(packages / 2);
for (let i = 0; i < runs; i++) {
  write(`packages/p${mid}/package.json`, manifest(mid, i + 1));
  edited.push(time(list));
}
spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });
closeSync(devNull);

const f = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`workspace: ${packages} packages, ${files} sources each, ${packages * 4 + 1} targets; medians of ${runs} runs (cold: ${coldRuns})`);
console.log(`floor node -e 0                                    ${f(median(floors))}`);
console.log(`cold  trews --no-daemon list ::                     ${f(median(coldList))}`);
console.log(`cold  trews --no-daemon dependencies --transitive   ${f(median(coldDeps))}`);
console.log(`warm  trews list ::  (daemon)                       ${f(median(warmList))}`);
console.log(`warm  trews dependencies --transitive  (daemon)     ${f(median(warmDeps))}`);
console.log(`after editing packages/p${mid}/package.json, list :: ${f(median(edited))}`);
