import { clone, create } from '@bufbuild/protobuf';
import type { Digest } from '../../core/index.js';
import { treeMessageOf, type LocalStore } from '../../store/index.js';
import {
  ActionResultSchema,
  OutputDirectorySchema,
  OutputFileSchema,
  OutputSymlinkSchema,
  TreeSchema,
  digestMessage,
  fromProtoDigest,
  toProtoDigest,
  type ActionResult,
  type Directory,
  type OutputDirectory,
} from '../../reapi/index.js';
import { coveringDirectory, type PreparedAction } from './prepare-action.js';
import { readDirectoryBlob } from './tree-walk.js';

/**
 * The ActionResult a client of this Command expects, from the one the
 * sandbox runner produced.
 *
 * With v2.0 `output_files` / `output_directories`, symlink outputs belong in
 * the deprecated `output_file_symlinks` / `output_directory_symlinks` (by the
 * kind the Command declared): REAPI says `output_symlinks` is populated only
 * when `output_paths` was used.
 *
 * With v2.1 `output_paths`, the runner captured the outputs' parent
 * directories; each output is picked out of those by what it turned out to
 * be — a file (OutputFile), a directory (OutputDirectory with a Tree stored
 * in the CAS, and its root Directory), or a symlink (OutputSymlink). Outputs
 * that do not exist, or lie under something that is not a directory, are
 * absent, as the spec says.
 */
export async function shapeResult(store: LocalStore, prepared: PreparedAction, produced: ActionResult, signal?: AbortSignal): Promise<ActionResult> {
  const result = clone(ActionResultSchema, produced);
  if (prepared.outputPaths === undefined) {
    const declaredFiles = new Set(prepared.command.outputFiles);
    for (const s of result.outputSymlinks) {
      (declaredFiles.has(s.path) ? result.outputFileSymlinks : result.outputDirectorySymlinks).push(s);
    }
    result.outputSymlinks = [];
    return result;
  }
  const captured = new Map(produced.outputDirectories.map((d) => [d.path, d]));
  const declared = prepared.process.outputDirectories;
  result.outputFiles = [];
  result.outputDirectories = [];
  result.outputSymlinks = [];
  for (const path of prepared.outputPaths) {
    if (path === '') {
      const whole = captured.get('');
      if (whole !== undefined) result.outputDirectories.push(whole);
      continue;
    }
    const top = coveringDirectory(declared, path);
    const root = captured.get(top)?.rootDirectoryDigest;
    if (root === undefined) continue; // the parent is gone, or was replaced by a symlink or file
    const rootDigest = fromProtoDigest(root, 'root_directory_digest');
    if (!rootDigest.ok) continue;
    const rel = top === '' ? path : path.slice(top.length + 1);
    const node = await lookUp(store, rootDigest.value, rel.split('/'));
    if (node === undefined) continue;
    switch (node.kind) {
      case 'file':
        result.outputFiles.push(create(OutputFileSchema, { path, digest: node.digest, isExecutable: node.isExecutable }));
        break;
      case 'symlink':
        result.outputSymlinks.push(create(OutputSymlinkSchema, { path, target: node.target }));
        break;
      case 'directory':
        result.outputDirectories.push(await outputDirectory(store, path, node.digest, signal));
        break;
    }
  }
  return result;
}

type Node =
  | { readonly kind: 'file'; readonly digest: Directory['files'][number]['digest']; readonly isExecutable: boolean }
  | { readonly kind: 'symlink'; readonly target: string }
  | { readonly kind: 'directory'; readonly digest: Digest };

/** The node at `segments` below a stored Directory, without following symlinks. */
async function lookUp(store: LocalStore, root: Digest, segments: readonly string[]): Promise<Node | undefined> {
  let dir = root;
  for (const [i, name] of segments.entries()) {
    const read = await readDirectoryBlob(store, dir);
    if (!read.ok) return undefined;
    const last = i === segments.length - 1;
    const sub = read.directory.directories.find((d) => d.name === name);
    if (sub !== undefined) {
      const d = fromProtoDigest(sub.digest);
      if (!d.ok) return undefined;
      if (last) return { kind: 'directory', digest: d.value };
      dir = d.value;
      continue;
    }
    if (!last) return undefined;
    const file = read.directory.files.find((f) => f.name === name);
    if (file !== undefined) return { kind: 'file', digest: file.digest, isExecutable: file.isExecutable };
    const link = read.directory.symlinks.find((s) => s.name === name);
    if (link !== undefined) return { kind: 'symlink', target: link.target };
    return undefined;
  }
  return undefined;
}

/** An OutputDirectory in both forms (v2.3 TREE_AND_DIRECTORY, a superset of what any format asks). */
async function outputDirectory(store: LocalStore, path: string, root: Digest, signal?: AbortSignal): Promise<OutputDirectory> {
  const tree = await treeMessageOf(store, root, signal);
  const encoded = digestMessage(TreeSchema, tree);
  await store.put(encoded.digest, encoded.bytes, signal);
  return create(OutputDirectorySchema, {
    path,
    treeDigest: toProtoDigest(encoded.digest),
    isTopologicallySorted: true,
    rootDirectoryDigest: toProtoDigest(root),
  });
}
