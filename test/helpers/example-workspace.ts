import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrews, type CliResult } from './cli.js';
import { repoRoot } from './repo.js';

const EXAMPLE = join(repoRoot(), 'examples', 'ts-workspace');
const LEFT_OUT = new Set(['node_modules', 'dist', '.trews.d']);

/** A copy of examples/ts-workspace in a scratch directory, with trews run there without the daemon and a store of its own. */
export interface ExampleWorkspace {
  readonly scratch: string;
  /** The copy's build root. */
  readonly root: string;
  trews(args: readonly string[]): Promise<CliResult>;
  /** Rewrites a file of the copy; an edit that changes nothing is a mistake of the test. */
  edit(path: string, f: (text: string) => string): Promise<void>;
  remove(): Promise<void>;
}

export async function copyExampleWorkspace(prefix: string): Promise<ExampleWorkspace> {
  const scratch = await mkdtemp(join(tmpdir(), prefix));
  const root = join(scratch, 'ts-workspace');
  await cp(EXAMPLE, root, { recursive: true, filter: (src) => !LEFT_OUT.has(src.split('/').pop() ?? '') || src === EXAMPLE });
  return {
    scratch,
    root,
    trews: (args) =>
      runTrews([...args], {
        cwd: root,
        env: { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(scratch, 'store'), TMPDIR: scratch },
        timeoutMs: 300_000,
      }),
    edit: async (path, f) => {
      const before = await readFile(join(root, path), 'utf8');
      const after = f(before);
      assert.notEqual(after, before, `the edit of ${path} changes it`);
      await writeFile(join(root, path), after);
    },
    remove: () => rm(scratch, { recursive: true, force: true }),
  };
}

/** Every file under `dirs` of `root` (root-relative), with its mode and its bytes, or `link` for a symlink: what a restore must give back. */
export async function snapshotFiles(root: string, dirs: readonly string[]): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else files.set(rel, `${(await stat(join(root, rel))).mode.toString(8)} ${e.isSymbolicLink() ? 'link' : await readFile(join(root, rel), 'utf8')}`);
    }
  };
  for (const d of dirs) await walk(d);
  return files;
}
