// Per-file targets and import inference on a large JavaScript workspace, process start to exit:
//   node dist/bench/js-files-bench.js [--packages 200 --files 47 --deps 3 --runs 9 --cold-runs 3 --base DIR]
// Generates two npm workspaces with no BUILD file and the same files:
// `ts/`, where package i has `--files` TypeScript modules (m_f imports
// m_{f-1} and m_{f-7} with `.js` specifiers; m0 imports each first-party
// dependency by name, through its `exports` into dist, mapped back to src),
// an index.ts and two test files (packages × (files + 3) files: 10,000 by
// default); and `txt/`, the same files named `.txt`, so its packages list
// the same files but none gets a target of its own: the package-level
// figure. Reported, medians:
// 1. cold `trews --no-daemon list ::` on both (the target: ts ≤ 2× txt);
// 2. cold `trews --no-daemon dependencies --transitive <a test file of the last package>` (every file parsed and resolved);
// 3. warm, through a running daemon, the same query (the target: < 100 ms), run
//    as typed (0.7 s after the previous one ended) and back to back; and the
//    direct dependencies of the same file (the floor of a query through the
//    daemon: client, socket, 1 target). Back to back pays @parcel/watcher's
//    debounce on the daemon's sync cookie: it delivers an event at once only
//    when it delivered none in the last 500 ms, else after 50 ms;
// 4. the same after editing one module deep in the graph (it alone is parsed again);
// 5. warm, in this process with the engine kept between runs (what the daemon spends, without client and socket);
// and `node -e 0` as the floor. With `--base DIR` (another built trews
// checkout, e.g. the commit before a change), its warm figures on a copy of
// the workspace (`ts-base/`: each daemon keeps its own .trews.d), in the same
// rounds, interleaved.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import { benchArgs } from './bench-args.js';
import { AppCache } from '../src/cli/app.js';
import { runCommand } from '../src/cli/runner.js';
import { nullLogger, type RunContext } from '../src/core/index.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '200' },
    files: { type: 'string', default: '47' },
    deps: { type: 'string', default: '3' },
    runs: { type: 'string', default: '9' },
    'cold-runs': { type: 'string', default: '3' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-js-files') },
    base: { type: 'string' },
  },
});
const packages = Number(values.packages);
const files = Number(values.files);
const deps = Number(values.deps);
const runs = Number(values.runs);
const coldRuns = Number(values['cold-runs']);
const out = values.out!;
const checkout = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const trews = join(checkout, 'bin', 'trews');
const base = values.base === undefined ? undefined : join(values.base, 'bin', 'trews');
const devNull = openSync('/dev/null', 'w');


function generate(root: string, ext: string): void {
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  rmSync(root, { recursive: true, force: true });
  write('trews.toml', '');
  write('package.json', JSON.stringify({ name: 'bench', private: true, workspaces: ['packages/*'] }));
  write('package-lock.json', '{}');
  for (let i = 0; i < packages; i++) {
    const on = [1, 7, 31, 127].map((d) => i - d).filter((j) => j >= 0).slice(0, deps);
    write(
      `packages/p${i}/package.json`,
      `${JSON.stringify(
        {
          name: `@bench/p${i}`,
          version: '1.0.0',
          type: 'module',
          exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
          dependencies: Object.fromEntries(on.map((j) => [`@bench/p${j}`, '*'])),
          scripts: { build: 'tsc -p .', test: 'node --test' },
        },
        null,
        2,
      )}\n`,
    );
    write(`packages/p${i}/tsconfig.json`, JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: 'src' } }));
    for (let f = 0; f < files; f++) {
      const imports = f === 0 ? on.map((j) => `import * as p${j} from '@bench/p${j}';`) : [`import { v${f - 1} } from './m${f - 1}.js';`];
      if (f >= 7) imports.push(`import type { T${f - 7} } from './m${f - 7}.js';`);
      write(`packages/p${i}/src/m${f}${ext}`, `${imports.join('\n')}\nexport type T${f} = number;\nexport const v${f} = ${f};\n`);
    }
    write(`packages/p${i}/src/index${ext}`, `export * from './m${files - 1}.js';\n`);
    for (const t of ['a', 'b']) write(`packages/p${i}/src/${t}.test${ext}`, `import test from 'node:test';\nimport { v${files - 1} } from './index.js';\n`);
  }
}

function time(root: string, args: string[], program: string[] = [trews]): number {
  const t0 = performance.now();
  const r = spawnSync(program[0] ?? process.execPath, [...program.slice(1), ...args], { cwd: root, stdio: ['ignore', devNull, 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`trews ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
  return ms;
}

const tsRoot = join(out, 'ts');
const txtRoot = join(out, 'txt');
generate(tsRoot, '.ts');
generate(txtRoot, '.txt');
const baseRoot = join(out, 'ts-base');
if (base !== undefined) generate(baseRoot, '.ts');
const loads: number[] = [loadavg()[0]!];

const list = ['list', '::'];
const last = packages - 1;
const query = ['dependencies', '--transitive', `packages/p${last}/src/a.test.ts`];
for (const r of [tsRoot, txtRoot]) spawnSync(trews, ['daemon', 'stop'], { cwd: r, stdio: 'ignore' });
if (base !== undefined) spawnSync(base, ['daemon', 'stop'], { cwd: baseRoot, stdio: 'ignore' });

// Interleaved, so load from other work on the machine falls on both alike.
const coldTs: number[] = [];
const coldTxt: number[] = [];
const coldDeps: number[] = [];
for (let i = 0; i < coldRuns; i++) {
  coldTxt.push(time(txtRoot, ['--no-daemon', ...list]));
  coldTs.push(time(tsRoot, ['--no-daemon', ...list]));
  coldDeps.push(time(tsRoot, ['--no-daemon', ...query]));
}
time(tsRoot, query);
if (base !== undefined) time(baseRoot, query, [base]);
loads.push(loadavg()[0]!);
const warm: number[] = [];
const typed: number[] = [];
const direct: number[] = [];
const floors: number[] = [];
const baseWarm: number[] = [];
const baseTyped: number[] = [];
for (let i = 0; i < runs; i++) {
  warm.push(time(tsRoot, query));
  direct.push(time(tsRoot, query.filter((a) => a !== '--transitive')));
  floors.push(time(tsRoot, ['-e', '0'], []));
  if (base !== undefined) baseWarm.push(time(baseRoot, query, [base]));
}
// As a person types them: more than 500 ms after the watcher last delivered (the cookie's removal, just after the previous run).
const directTyped: number[] = [];
for (let i = 0; i < runs; i++) {
  await sleep(700);
  typed.push(time(tsRoot, query));
  await sleep(700);
  directTyped.push(time(tsRoot, query.filter((a) => a !== '--transitive')));
  if (base !== undefined) {
    await sleep(700);
    baseTyped.push(time(baseRoot, query, [base]));
  }
}
loads.push(loadavg()[0]!);
// An edit deep in the graph (package p1 is reached from the last one through many paths).
const edited: number[] = [];
for (let i = 0; i < runs; i++) {
  writeFileSync(join(tsRoot, 'packages/p1/src/m3.ts'), `import { v2 } from './m2.js';\nexport type T3 = number;\nexport const v3 = ${100 + i};\n`);
  edited.push(time(tsRoot, query));
}
spawnSync(trews, ['daemon', 'stop'], { cwd: tsRoot, stdio: 'ignore' });
if (base !== undefined) spawnSync(base, ['daemon', 'stop'], { cwd: baseRoot, stdio: 'ignore' });
closeSync(devNull);

type Runner = typeof runCommand;
async function inProcess(run: Runner, apps: unknown, root: string): Promise<number> {
  const stdout = new PassThrough();
  stdout.resume();
  const stderr = new PassThrough();
  stderr.resume();
  const ctx: RunContext = {
    argv: ['--no-daemon', ...query],
    env: { HOME: process.env.HOME ?? '/', PATH: process.env.PATH ?? '' },
    cwd: root,
    stdin: Readable.from([]),
    stdout,
    stderr,
    isTTY: { stdin: false, stdout: false, stderr: false },
    terminalWidth: 80,
    terminalHeight: 24,
    signal: new AbortController().signal,
  };
  const t0 = performance.now();
  const code = await run(ctx, { apps: apps as AppCache, logger: nullLogger });
  if (code !== 0) throw new Error(`in-process trews ${query.join(' ')} exited ${code}`);
  return performance.now() - t0;
}
const apps = new AppCache();
await inProcess(runCommand, apps, tsRoot);
// The base checkout's own modules, loaded from its dist/ (same layout).
const baseRun =
  values.base === undefined
    ? undefined
    : {
        run: ((await import(join(values.base, 'dist', 'src', 'cli', 'runner.js'))) as { runCommand: Runner }).runCommand,
        apps: new ((await import(join(values.base, 'dist', 'src', 'cli', 'app.js'))) as { AppCache: new () => unknown }).AppCache(),
      };
if (baseRun !== undefined) await inProcess(baseRun.run, baseRun.apps, baseRoot);
const kept: number[] = [];
const baseKept: number[] = [];
for (let i = 0; i < runs; i++) {
  kept.push(await inProcess(runCommand, apps, tsRoot));
  if (baseRun !== undefined) baseKept.push(await inProcess(baseRun.run, baseRun.apps, baseRoot));
}
loads.push(loadavg()[0]!);

const count = packages * (files + 3);
const f = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`workspace: ${packages} packages, ${count} source files; medians of ${runs} runs (cold: ${coldRuns})`);
console.log(`floor node -e 0                                                  ${f(median(floors))}`);
console.log(`cold  trews --no-daemon list ::  package-level (.txt)             ${f(median(coldTxt))}`);
console.log(`cold  trews --no-daemon list ::  per-file targets (.ts)           ${f(median(coldTs))}  (${(median(coldTs) / median(coldTxt)).toFixed(2)}×)`);
console.log(`cold  trews --no-daemon dependencies --transitive <test file>     ${f(median(coldDeps))}`);
const b = (xs: number[]): string => (base === undefined ? '' : `   base ${f(median(xs))}`);
console.log(`warm  trews dependencies --transitive <test file>  (daemon, as typed) ${f(median(typed))}${b(baseTyped)}`);
console.log(`warm  trews dependencies --transitive <test file>  (daemon, back to back) ${f(median(warm))}${b(baseWarm)}`);
console.log(`warm  trews dependencies <test file>  (daemon; direct, the floor) ${f(median(directTyped))} as typed, ${f(median(direct))} back to back`);
console.log(`warm  dependencies --transitive, in-process, engine kept         ${f(median(kept))}${b(baseKept)}`);
console.log(`after editing packages/p1/src/m3.ts, the same (daemon)            ${f(median(edited))}`);
console.log(`load average (1 min) at the start of each section: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
