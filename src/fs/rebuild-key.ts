import type { Key } from '../engine/index.js';
import { DirEntriesKey } from './dir-entries.js';
import { RealFileDigestKey } from './file-digest.js';
import { RealFileTextKey, type TextMode } from './file-content.js';
import type { Workspace } from './workspace.js';

const TEXT_MODES: ReadonlySet<string> = new Set<TextMode>(['utf8-lenient', 'utf8-strict']);

/**
 * The file-system key (one with a path) of an id, for a graph a process
 * without a daemon kept (Engine.importGraph): these are the leaves every
 * imported graph re-reads, so they must come back with their compute.
 * Undefined for any other id, or one whose parts it cannot tell apart.
 */
export function rebuildFsKey(ws: Workspace, id: string, path: string | undefined): Key<unknown> | undefined {
  if (path === undefined) return undefined;
  if (id === `dir-entries:${path}`) return new DirEntriesKey(ws, path);
  if (id === `real-file-digest:${path}`) return new RealFileDigestKey(ws, path);
  if (id.startsWith('real-file-text:')) {
    const rest = id.slice('real-file-text:'.length);
    const colon = rest.indexOf(':');
    const mode = rest.slice(0, colon);
    if (colon < 0 || !TEXT_MODES.has(mode)) return undefined;
    const shown = rest.slice(colon + 1);
    if (shown === path) return new RealFileTextKey(ws, path, path, mode as TextMode);
    if (shown.startsWith(`${path}:`)) return new RealFileTextKey(ws, path, shown.slice(path.length + 1), mode as TextMode);
  }
  return undefined;
}
