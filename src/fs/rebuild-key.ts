import type { Key, KeyRebuilder } from '../engine/index.js';
import { BuildDirsUnderKey, BuildFilesInDirKey } from './build-file-discovery.js';
import { DirEntriesKey } from './dir-entries.js';
import { FileDigestKey, RealFileDigestKey } from './file-digest.js';
import { FileTextKey, RealFileTextKey, type TextMode } from './file-content.js';
import { IgnoreRulesKey } from './ignore-rules.js';
import { FilesUnderKey, ListingKey } from './listing.js';
import { PathKindKey } from './path-stat.js';
import { RealPathKey } from './real-path.js';
import type { Workspace } from './workspace.js';

const TEXT_MODES: ReadonlySet<string> = new Set<TextMode>(['utf8-lenient', 'utf8-strict']);

/**
 * How the file-system keys come back from their id, for a kept graph
 * (Engine.importGraph). The keys with a path (the first three kinds) are the
 * leaves every imported graph re-reads, so they must come back with their
 * compute. The others of this folder are composed over them, and each is
 * made from the workspace and the path its id names alone: they come back
 * with their compute too, so that a change below one after the import (a
 * daemon's watcher: `dist/` deleted, which changes the raw listing of its
 * package) is cut off where its value turns out the same, as in a graph the
 * process made itself. As stubs they could not compute, and everything above
 * them had to (a daemon's first restore after starting from the kept graph
 * took 8 s at 200 packages, its second 0.45 s).
 */
export function fsKeyRebuilders(ws: Workspace): KeyRebuilder[] {
  return [
    { kind: 'dir-entries:', rebuild: (id, path) => (path !== undefined && id === `dir-entries:${path}` ? new DirEntriesKey(ws, path) : undefined) },
    { kind: 'real-file-digest:', rebuild: (id, path) => (path !== undefined && id === `real-file-digest:${path}` ? new RealFileDigestKey(ws, path) : undefined) },
    { kind: 'real-file-text:', rebuild: (id, path) => rebuildFileText(ws, id, path) },
    byPath('listing:', (p) => new ListingKey(ws, p)),
    byPath('ignore-rules:', (p) => new IgnoreRulesKey(ws, p)),
    byPath('real-path:', (p) => new RealPathKey(ws, p)),
    byPath('file-digest:', (p) => new FileDigestKey(ws, p)),
    byPath('files-under:', (p) => new FilesUnderKey(ws, p)),
    byPath('path-kind:', (p) => new PathKindKey(ws, p)),
    byPath('build-files:', (p) => new BuildFilesInDirKey(ws, p)),
    byPath('build-dirs-under:', (p) => new BuildDirsUnderKey(ws, p)),
    { kind: 'file-text:', rebuild: (id, path) => (path === undefined ? rebuildComposedText(ws, id) : undefined) },
  ];
}

/** A key without a path of its own whose id is `<kind><path>`, made from the workspace and that path. */
function byPath(kind: string, make: (path: string) => Key<unknown>): KeyRebuilder {
  return {
    kind,
    rebuild: (id, path) => {
      if (path !== undefined) return undefined;
      const key = make(id.slice(kind.length));
      // The id the key makes must be the one kept: anything else is not this key.
      return key.id === id ? key : undefined;
    },
  };
}

/** `file-text:<mode>:<path>`. */
function rebuildComposedText(ws: Workspace, id: string): Key<unknown> | undefined {
  const rest = id.slice('file-text:'.length);
  const colon = rest.indexOf(':');
  const mode = rest.slice(0, colon);
  if (colon < 0 || !TEXT_MODES.has(mode)) return undefined;
  const key = new FileTextKey(ws, rest.slice(colon + 1), mode as TextMode);
  return key.id === id ? key : undefined;
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
