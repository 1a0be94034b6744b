import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The trews checkout these tests were compiled from (the directory with package.json). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the compiled tests');
    dir = parent;
  }
  return dir;
}

export interface TempRepo {
  readonly root: string;
  write(path: string, text: string): Promise<void>;
  remove(path: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A build root in a temp dir with the given files (a trews.toml is added unless given). */
export async function makeRepo(files: Record<string, string>): Promise<TempRepo> {
  const root = await mkdtemp(join(tmpdir(), 'trews-test-'));
  const write = async (path: string, text: string): Promise<void> => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };
  if (!('trews.toml' in files)) await write('trews.toml', '');
  for (const [p, t] of Object.entries(files)) await write(p, t);
  return {
    root,
    write,
    remove: (path) => rm(join(root, path), { recursive: true, force: true }),
    // Retried: a daemon of this root may still be writing its last log lines into .trews.d as it exits.
    cleanup: () => rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
  };
}

/**
 * A temp repo of `files` for the length of `body`, with an environment whose
 * XDG_CACHE_HOME (so the local store) lies inside it: nothing is shared with
 * another test or left behind.
 */
export async function withRepo(files: Record<string, string>, body: (repo: TempRepo, env: Record<string, string>) => Promise<void>): Promise<void> {
  const repo = await makeRepo(files);
  try {
    await body(repo, { XDG_CACHE_HOME: join(repo.root, '.cache') });
  } finally {
    await repo.cleanup();
  }
}
