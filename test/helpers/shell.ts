// Shared by the shell/exec end-to-end tests: a temp build root with its own
// local store and sandbox directory, and the CLI run in-process (no daemon),
// so each test sees exactly the processes it starts.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRepo, runTrews, type CliResult, type TempRepo } from './index.js';

export interface ShellRepo extends TempRepo {
  /** The local store (TREWS_LOCAL_STORE_DIR) and the TMPDIR (sandboxes) of this repo's runs. */
  readonly store: string;
  readonly tmp: string;
  /** Where this repo's runs make their sandboxes: the per-user default under `tmp`. */
  readonly sandboxes: string;
  /** The environment every run gets, beyond PATH and HOME. */
  readonly env: Record<string, string>;
  trews(args: readonly string[], opts?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<CliResult>;
}

export async function makeShellRepo(files: Record<string, string>): Promise<ShellRepo> {
  const repo = await makeRepo(files);
  const scratch = await mkdtemp(join(tmpdir(), 'trews-shell-'));
  const store = join(scratch, 'store');
  const tmp = join(scratch, 'tmp');
  await mkdir(tmp, { recursive: true });
  const env = { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: store, TMPDIR: tmp };
  return {
    ...repo,
    store,
    tmp,
    sandboxes: join(tmp, `trews-${process.getuid?.() ?? 0}`, 'sandboxes'),
    env,
    trews: (args, opts = {}) =>
      runTrews(args, {
        cwd: repo.root,
        env: { ...env, ...opts.env },
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      }),
    cleanup: async () => {
      await repo.cleanup();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * The result line of each test, in address order (they print as they
 * finish, before the recap of failures): `✓ a:t succeeded in 0.02s (ran
 * locally)` → `✓ a:t succeeded (ran locally)`.
 */
export function resultLines(stderr: string): string[] {
  const blank = stderr.indexOf('\n\n');
  const head = blank < 0 ? stderr : stderr.slice(0, blank);
  const address = (l: string): string => l.split(' ')[1] ?? '';
  return head
    .split('\n')
    .filter((l) => /^[✓✕] /.test(l))
    .map((l) => l.replace(/ (succeeded|failed) in [0-9.]+s/, ' $1').replace(/ \(the same error as \S+, above\)$/, ''))
    .sort((a, b) => address(a).localeCompare(address(b), 'en', { numeric: true }));
}

/** What the processes of a run did, from its summary: `Tests: … · Processes: 4 ran locally · Time: 0.4s` → `4 ran locally`. */
export function summaryLine(stderr: string): string | undefined {
  const line = stderr.split('\n').find((l) => / · Processes: /.test(l) || l.startsWith('Processes: '));
  return line === undefined ? undefined : /Processes: (.*?)(?: · |$)/.exec(line)?.[1];
}
