// Measures `trews list ::` end to end, process start to exit, through the daemon
// and without it, on a generated repo:
//   node dist/bench/daemon-bench.js [--dirs 2000 --targets-per-dir 5 --deps 3 --runs 15 --cold-runs 3]
// 1. floor: `node -e 0`, the cost of starting Node at all;
// 2. warm: `trews list ::` served by a running daemon through the launcher
//    (bin/trews: the native client when the build made one), the same through
//    the Node client (`node bin/trews.cjs`), and `trews version` through the
//    launcher (the client's own start-up, with next to nothing to run);
// 3. cold: `trews --no-daemon list ::`, the whole graph built in-process;
// 4. after an edit: one BUILD file changed, then `list ::` at once (the daemon
//    waits for its watcher to deliver the change), and again after a pause of a
//    second (a person's pace: the change has long been delivered);
// 5. the daemon's resident memory after all that.
// Warm and floor runs alternate (A B C A B C …) so drift in the machine's speed hits
// both alike. Output goes to /dev/null, as a terminal redirect would.
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { dirOf, generateRepo } from './generate-repo.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    dirs: { type: 'string', default: '2000' },
    'targets-per-dir': { type: 'string', default: '5' },
    deps: { type: 'string', default: '3' },
    runs: { type: 'string', default: '15' },
    'cold-runs': { type: 'string', default: '3' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-daemon') },
  },
});
const shape = { dirs: Number(values.dirs), targetsPerDir: Number(values['targets-per-dir']), deps: Number(values.deps) };
const runs = Number(values.runs);
const coldRuns = Number(values['cold-runs']);
const root = values.out!;
// dist/bench/daemon-bench.js → the checkout's bin/trews (the launcher users run) and bin/trews.cjs (the Node client).
const trews = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');
const trewsNode = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews.cjs');
const native = existsSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'trews-native'));
const devNull = openSync('/dev/null', 'w');


/** Wall time of one whole process, from spawn to exit, in ms. */
function time(command: string, args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd: root, stdio: ['ignore', devNull, 'pipe'], env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
  return ms;
}

const floor = (): number => time(process.execPath, ['-e', '0']);
const list = (...flags: string[]): number => time(trews, [...flags, 'list', '::']);
const listNode = (): number => time(process.execPath, [trewsNode, 'list', '::']);
const sleep = (ms: number): void => void spawnSync('sleep', [String(ms / 1000)]);

const gen = generateRepo(root, shape);
// A daemon left from an earlier run of this benchmark would serve stale options.
spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });

const cold: number[] = [];
for (let i = 0; i < coldRuns; i++) cold.push(list('--no-daemon'));

const start = list(); // starts the daemon and builds its graph
// And warm the Node client's code cache.
for (let i = 0; i < 3; i++) {
  list();
  listNode();
}
const warm: number[] = [];
const warmNode: number[] = [];
const version: number[] = [];
const floors: number[] = [];
for (let i = 0; i < runs; i++) {
  warm.push(list());
  floors.push(floor());
  warmNode.push(listNode());
  version.push(time(trews, ['version']));
}

const edited = join(root, dirOf(Math.floor(shape.dirs / 2)), 'BUILD');
const original = readFileSync(edited, 'utf8');
const edit = (i: number): void => {
  // Alternate adding a target and restoring the file, so every edit changes the answer.
  if (i % 2 === 0) appendFileSync(edited, `\ntarget(name="extra${i}")\n`);
  else writeFileSync(edited, original);
};
const afterEdit: number[] = [];
const afterEditPaused: number[] = [];
for (let i = 0; i < runs; i++) {
  edit(i);
  afterEdit.push(list());
}
for (let i = 0; i < runs; i++) {
  edit(i);
  sleep(1100);
  afterEditPaused.push(list());
}
writeFileSync(edited, original);

const pid = readFileSync(join(root, '.trews.d', 'daemon', 'pid'), 'utf8').trim();
const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });
closeSync(devNull);

const f = (x: number): string => `${x.toFixed(1)} ms`;
const over = (x: number): string => `${x - median(floors) >= 0 ? '+' : ''}${(x - median(floors)).toFixed(1)} ms over the floor`;
console.log(`repo: ${gen.buildFiles} BUILD files, ${gen.declaredTargets} declared targets; medians of ${runs} runs (cold: ${coldRuns})`);
console.log(`floor      node -e 0                      ${f(median(floors))}`);
console.log(`client     trews version  (daemon)        ${f(median(version))}  ${over(median(version))}`);
console.log(`warm       trews list ::  (daemon)        ${f(median(warm))}  ${over(median(warm))}  (${native ? 'native client' : 'no native client built: the Node client'})`);
console.log(`warm       node bin/trews.cjs list ::     ${f(median(warmNode))}  ${over(median(warmNode))}  (the Node client)`);
console.log(`cold       trews --no-daemon list ::      ${f(median(cold))}  (daemon/no-daemon ratio ${(median(warm) / median(cold)).toFixed(3)})`);
console.log(`edit, run  trews list ::  (daemon)        ${f(median(afterEdit))}  ${over(median(afterEdit))}`);
console.log(`edit, 1 s, trews list ::  (daemon)        ${f(median(afterEditPaused))}  ${over(median(afterEditPaused))}`);
console.log(`first run  trews list ::  (starts daemon) ${f(start)}`);
console.log(`daemon RSS                                ${(rssKiB / 1024).toFixed(0)} MiB`);
