import { create } from '@bufbuild/protobuf';
import picomatch from 'picomatch';
import { FailureError, digestEquals, digestOf, digestString, failure, isWithin, type Digest } from '../core/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  compareUtf8,
  toProtoDigest,
  type DirectoryNode,
  type FileNode,
  type SymlinkNode,
} from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { TreeBuilder } from './tree-builder.js';
import { EMPTY_TREE_DIGEST, putBlobBytes, readDirectory, resultMemo, stageDirectory } from './tree-io.js';
import { nodeDigest, settleInOrder } from './tree-nodes.js';
import { joinTreePath, treePathSegments } from './tree-paths.js';
import { flushTree } from './flush-staged.js';

export { mergeTrees } from './merge-trees.js';

/** A file in a tree, as listTree reports it and treeFromFiles takes it. */
export interface TreeFile {
  readonly kind: 'file';
  readonly path: string;
  readonly digest: Digest;
  readonly isExecutable: boolean;
}

export interface TreeSymlink {
  readonly kind: 'symlink';
  readonly path: string;
  /** As stored: relative to the symlink's directory (or absolute, which materialization refuses). */
  readonly target: string;
}

export type TreeEntry = TreeFile | TreeSymlink;

/** A file for treeFromFiles; `kind` is optional so plain `{ path, digest, isExecutable }` records do. */
export interface FileSpec {
  readonly kind?: 'file';
  readonly path: string;
  readonly digest: Digest;
  readonly isExecutable: boolean;
}

/** A generated file for treeFromBytes (a `__run.sh`, a tool shim). Strings are stored as UTF-8. */
export interface BytesFileSpec {
  readonly path: string;
  readonly content: Uint8Array | string;
  readonly isExecutable?: boolean;
}

/** Places the whole tree under `prefix` (`a/b`): the directories on the way are created, even for the empty tree. */
export async function addPrefix(store: BlobStore, digest: Digest, prefix: string, _signal?: AbortSignal): Promise<Digest> {
  const segments = treePathSegments(prefix, 'prefix', true);
  let current = digest;
  for (let i = segments.length - 1; i >= 0; i--) {
    const directories = [create(DirectoryNodeSchema, { name: segments[i]!, digest: toProtoDigest(current) })];
    current = stageDirectory(store, create(DirectorySchema, { directories }));
  }
  return current;
}

/**
 * The tree found under `prefix`. Anything beside the prefix (a sibling file,
 * or a file where a prefix directory should be) is an `outside-prefix`
 * input failure naming it, never silently dropped. A tree with nothing at
 * all along the prefix gives the empty tree.
 */
export async function stripPrefix(store: BlobStore, digest: Digest, prefix: string, signal?: AbortSignal): Promise<Digest> {
  const segments = treePathSegments(prefix, 'prefix', true);
  let current = digest;
  let at = '';
  for (const segment of segments) {
    const dir = await readDirectory(store, current, at === '' ? 'tree' : `directory \`${at}\``, signal);
    const names = [...dir.files, ...dir.symlinks, ...dir.directories].map((n) => n.name);
    const inside = dir.directories.find((d) => d.name === segment);
    const outside = names.find((n) => n !== segment) ?? (inside === undefined ? names[0] : undefined);
    if (outside !== undefined) {
      throw new FailureError(
        failure('input', 'outside-prefix', `cannot strip the prefix \`${prefix}\`: \`${joinTreePath(at, outside)}\` lies outside it`),
      );
    }
    if (inside === undefined) return EMPTY_TREE_DIGEST;
    current = nodeDigest(inside.digest, segment);
    at = joinTreePath(at, segment);
  }
  return current;
}

/**
 * The part of a tree matched by `globs` (picomatch syntax, relative to the
 * root, dot files included; `!pattern` excludes). A glob matching a file or
 * symlink keeps it; a glob matching a directory keeps that directory with
 * everything below it that no exclude matches (as naming a directory does in
 * REAPI's output paths). Subtrees kept whole keep their digest and are not
 * rewritten.
 */
export async function subsetTree(store: BlobStore, digest: Digest, globs: readonly string[], signal?: AbortSignal): Promise<Digest> {
  const includes = globs.filter((g) => !g.startsWith('!'));
  const excludes = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  if (includes.length === 0 || digestEquals(digest, EMPTY_TREE_DIGEST)) return EMPTY_TREE_DIGEST;
  const memoKey = `subset:${digestString(digest)}:${JSON.stringify(globs)}`;
  const memo = resultMemo(store);
  const cached = memo.get(memoKey);
  if (cached !== undefined) return cached;

  const included = picomatch(includes, { dot: true });
  const excluded = excludes.length > 0 ? picomatch(excludes, { dot: true }) : (): boolean => false;
  // The literal part in front of each include: only directories on the way to it or under it can match.
  const bases = includes.map((g) => picomatch.scan(g).base);
  const mayMatchUnder = (dir: string): boolean => bases.some((b) => isWithin(dir, b) || isWithin(b, dir));

  /** The kept part of a directory, or undefined when nothing in it is kept. */
  const walk = async (d: Digest, at: string, whole: boolean): Promise<Digest | undefined> => {
    if (whole && excludes.length === 0) return d;
    const dir = await readDirectory(store, d, at === '' ? 'tree' : `directory \`${at}\``, signal);
    let changed = false;
    const keepLeaf = (name: string): boolean => {
      const p = joinTreePath(at, name);
      const keep = (whole || included(p)) && !excluded(p);
      if (!keep) changed = true;
      return keep;
    };
    const files: FileNode[] = dir.files.filter((f) => keepLeaf(f.name));
    const symlinks: SymlinkNode[] = dir.symlinks.filter((s) => keepLeaf(s.name));
    const candidates: Array<{ node: DirectoryNode; matched: boolean }> = [];
    for (const node of dir.directories) {
      const p = joinTreePath(at, node.name);
      const matched = whole || included(p);
      if (excluded(p) || (!matched && !mayMatchUnder(p))) changed = true;
      else candidates.push({ node, matched });
    }
    const subs = await settleInOrder(
      candidates.map((c) => walk(nodeDigest(c.node.digest, c.node.name), joinTreePath(at, c.node.name), c.matched)),
    );
    const directories: DirectoryNode[] = [];
    candidates.forEach((c, i) => {
      const sub = subs[i] ?? (c.matched ? EMPTY_TREE_DIGEST : undefined);
      const before = nodeDigest(c.node.digest, c.node.name);
      if (sub === undefined || !digestEquals(sub, before)) changed = true;
      if (sub !== undefined) directories.push(create(DirectoryNodeSchema, { name: c.node.name, digest: toProtoDigest(sub) }));
    });
    if (!changed) return d;
    if (files.length + symlinks.length + directories.length === 0) return undefined;
    return stageDirectory(store, create(DirectorySchema, { files, directories, symlinks }));
  };
  const result = (await walk(digest, '', false)) ?? EMPTY_TREE_DIGEST;
  memo.set(memoKey, result);
  return result;
}

/** Every file and symlink of a tree with its full path, sorted by path (code point order). Empty directories are not listed. */
export async function listTree(store: BlobStore, digest: Digest, signal?: AbortSignal): Promise<TreeEntry[]> {
  // Callers read the files listed from the store.
  await flushTree(store, digest, signal);
  const out: TreeEntry[] = [];
  const walk = async (d: Digest, at: string): Promise<void> => {
    const dir = await readDirectory(store, d, at === '' ? 'tree' : `directory \`${at}\``, signal);
    for (const f of dir.files) {
      out.push({ kind: 'file', path: joinTreePath(at, f.name), digest: nodeDigest(f.digest, f.name), isExecutable: f.isExecutable });
    }
    for (const s of dir.symlinks) out.push({ kind: 'symlink', path: joinTreePath(at, s.name), target: s.target });
    await settleInOrder(dir.directories.map((c) => walk(nodeDigest(c.digest, c.name), joinTreePath(at, c.name))));
  };
  await walk(digest, '');
  return out.sort((a, b) => compareUtf8(a.path, b.path));
}

/**
 * A tree holding these files (and symlinks) at their paths. Only Directory
 * messages are written: the file blobs are the caller's to store. The same
 * path twice with different contents is a `snapshot-conflict`.
 */
export async function treeFromFiles(store: BlobStore, files: readonly (FileSpec | TreeSymlink)[], signal?: AbortSignal): Promise<Digest> {
  const builder = new TreeBuilder();
  for (const f of files) {
    if (f.kind === 'symlink') builder.addSymlink(f.path, f.target);
    else builder.addFile(f.path, f.digest, f.isExecutable);
  }
  return builder.build(store, signal);
}

/** Stores generated contents and returns a tree holding them at their paths. */
export async function treeFromBytes(store: BlobStore, files: readonly BytesFileSpec[], signal?: AbortSignal): Promise<Digest> {
  const builder = new TreeBuilder();
  const blobs: Array<{ digest: Digest; bytes: Uint8Array }> = [];
  // Every path is checked before anything is written, so a conflict leaves no stray blobs behind.
  for (const f of files) {
    const bytes = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    const digest = digestOf(bytes);
    builder.addFile(f.path, digest, f.isExecutable ?? false);
    blobs.push({ digest, bytes });
  }
  await settleInOrder(blobs.map((b) => putBlobBytes(store, b.digest, b.bytes, signal)));
  return builder.build(store, signal);
}

/** The entries of one directory of a tree (names only, by kind), or undefined when the path is no directory of it. */
export async function treeDirAt(
  store: BlobStore,
  digest: Digest,
  path: string,
  signal?: AbortSignal,
): Promise<{ files: string[]; dirs: string[]; symlinks: Array<{ name: string; target: string }> } | undefined> {
  let d = digest;
  for (const seg of path === '' ? [] : path.split('/')) {
    const dir = await readDirectory(store, d, 'tree', signal);
    const node = dir.directories.find((x) => x.name === seg);
    if (node === undefined) return undefined;
    d = nodeDigest(node.digest, node.name);
  }
  const dir = await readDirectory(store, d, path === '' ? 'tree' : `directory \`${path}\``, signal);
  return { files: dir.files.map((f) => f.name), dirs: dir.directories.map((x) => x.name), symlinks: dir.symlinks.map((s) => ({ name: s.name, target: s.target })) };
}

/**
 * The tree without the entries at `paths` (files, symlinks or whole
 * directories; absent ones are ignored). Only the directories on their
 * way are read and rewritten, so removing a few entries of a large tree
 * costs a few Directory messages.
 */
export async function removeFromTree(store: BlobStore, digest: Digest, paths: readonly string[], signal?: AbortSignal): Promise<Digest> {
  if (paths.length === 0) return digest;
  const byHead = new Map<string, string[]>();
  const here = new Set<string>();
  for (const p of paths) {
    const slash = p.indexOf('/');
    if (slash < 0) here.add(p);
    else {
      const head = p.slice(0, slash);
      byHead.set(head, [...(byHead.get(head) ?? []), p.slice(slash + 1)]);
    }
  }
  const dir = await readDirectory(store, digest, 'tree', signal);
  const directories: DirectoryNode[] = [];
  let changed = false;
  for (const node of dir.directories) {
    if (here.has(node.name)) {
      changed = true;
      continue;
    }
    const below = byHead.get(node.name);
    if (below === undefined) {
      directories.push(node);
      continue;
    }
    const before = nodeDigest(node.digest, node.name);
    const after = await removeFromTree(store, before, below, signal);
    if (!digestEquals(before, after)) changed = true;
    directories.push(create(DirectoryNodeSchema, { name: node.name, digest: toProtoDigest(after) }));
  }
  const files = dir.files.filter((f) => !here.has(f.name));
  const symlinks = dir.symlinks.filter((s) => !here.has(s.name));
  if (!changed && files.length === dir.files.length && symlinks.length === dir.symlinks.length) return digest;
  return stageDirectory(store, create(DirectorySchema, { files, directories, symlinks }));
}
