import type { PersistentWorkerHint } from '../../exec/index.js';
import { binDirs } from './script-process.js';

/** `[javascript] tsc_worker`: run plain `tsc` scripts (and `trews check`'s tsc) in persistent workers. */
export const TSC_WORKER_OPTION = 'tsc_worker';

/** A word the shell passes as it is: no quotes, expansions, globs, operators or assignments to undo. */
const PLAIN_WORD = /^[A-Za-z0-9_%+:,./@-][A-Za-z0-9_%+=:,./@-]*$/;

/**
 * The worker program, tsc-worker.js beside this module. The in-process
 * bundle (dist/trews-main.cjs) sees itself at dist/src/cli/main.js
 * (scripts/bundle.mjs), from where the module is ../backends/javascript/.
 */
function workerProgram(): string {
  const here = new URL(import.meta.url);
  const rel = here.pathname.endsWith('/backends/javascript/tsc-worker-hint.js') ? './tsc-worker.js' : '../backends/javascript/tsc-worker.js';
  return decodeURIComponent(new URL(rel, here).pathname);
}

/**
 * The persistent-worker hint of a script whose stages are exactly one
 * command `tsc` followed by plain words (no pre/post script, `&&`, pipes,
 * variables, quotes or redirections: what `sh` would run as `tsc` with those
 * arguments): tsc is the first `node_modules/.bin/tsc` on the script's PATH,
 * run by the `[nodejs]` node, unless a `node_modules/.bin/node` comes first
 * (then it is spawned). Undefined otherwise. The worker program declines
 * the arguments it does not run as tsc would.
 */
export function tscWorkerHint(stages: readonly string[], pkgDir: string, node: string): PersistentWorkerHint | undefined {
  if (stages.length !== 2) return undefined;
  const command = stages[1]!;
  if (/[^ \S]|[\t\n\r]/.test(command.trim())) return undefined;
  const words = command.trim().split(/ +/);
  if (words[0] !== 'tsc' || !words.slice(1).every((w) => PLAIN_WORD.test(w))) return undefined;
  const bins = binDirs(pkgDir);
  return {
    interpreter: node,
    program: workerProgram(),
    tool: bins.map((d) => `${d}/tsc`),
    absent: bins.map((d) => `${d}/node`),
    args: words.slice(1),
  };
}
