import type { Key, KeyRebuilder } from '../engine/index.js';
import { DirEntriesKey } from './dir-entries.js';
import { RealFileDigestKey } from './file-digest.js';
import { RealFileTextKey, type TextMode } from './file-content.js';
import type { Workspace } from './workspace.js';

const TEXT_MODES: ReadonlySet<string> = new Set<TextMode>(['utf8-lenient', 'utf8-strict']);

/**
 * How the file-system keys (those with a path) come back from their id, for
 * a graph a process without a daemon kept (Engine.importGraph): they are the
 * leaves every imported graph re-reads, so they must come back with their
 * compute. Every key with a path is one of these three kinds; the other
 * keys of this folder are composed over them and come back as stubs.
 */
export function fsKeyRebuilders(ws: Workspace): KeyRebuilder[] {
  return [
    { kind: 'dir-entries:', rebuild: (id, path) => (path !== undefined && id === `dir-entries:${path}` ? new DirEntriesKey(ws, path) : undefined) },
    { kind: 'real-file-digest:', rebuild: (id, path) => (path !== undefined && id === `real-file-digest:${path}` ? new RealFileDigestKey(ws, path) : undefined) },
    { kind: 'real-file-text:', rebuild: (id, path) => rebuildFileText(ws, id, path) },
  ];
}

/** `real-file-text:<mode>:<path>[:<shown>]`, where the path is known from the node. */
function rebuildFileText(ws: Workspace, id: string, path: string | undefined): Key<unknown> | undefined {
  if (path === undefined) return undefined;
  const rest = id.slice('real-file-text:'.length);
  const colon = rest.indexOf(':');
  const mode = rest.slice(0, colon);
  if (colon < 0 || !TEXT_MODES.has(mode)) return undefined;
  const shown = rest.slice(colon + 1);
  if (shown === path) return new RealFileTextKey(ws, path, path, mode as TextMode);
  if (shown.startsWith(`${path}:`)) return new RealFileTextKey(ws, path, shown.slice(path.length + 1), mode as TextMode);
  return undefined;
}
