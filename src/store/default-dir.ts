import { isAbsolute, join } from 'node:path';

/**
 * The shared store directory when `local_store_dir` is not set:
 * `$XDG_CACHE_HOME/trews`, else `~/.cache/trews`. Takes the run's env and home
 * directory instead of reading process state, so the daemon can answer for
 * any client. A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
 */
export function defaultLocalStoreDir(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'trews');
  return join(homeDir, '.cache', 'trews');
}
