import { isAbsolute, resolve } from 'node:path';
import type { CommandRunner } from '../exec/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import { defaultLocalStoreDir, type LocalStore } from '../store/index.js';

/**
 * What rules need to run processes, owned by the App of one build root so that
 * a daemon keeps them (and their in-memory verification and tree memos) warm
 * across runs. Never part of a key's id: a key that runs a process names the
 * process, not the machinery.
 */
export interface ExecServices {
  readonly store: LocalStore;
  readonly runner: CommandRunner;
}

/**
 * The local store directory a run uses: `local_store_dir` (relative to the
 * build root), else `$XDG_CACHE_HOME/trews` or `~/.cache/trews` of the client.
 */
export function localStoreDirOf(options: Options, root: string, env: Readonly<Record<string, string>>, homeDir: string): string {
  const configured = options.maybePath(GLOBAL, 'local_store_dir');
  if (configured !== null) return isAbsolute(configured) ? configured : resolve(root, configured);
  return defaultLocalStoreDir(env, homeDir);
}
