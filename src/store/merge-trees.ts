import { create } from '@bufbuild/protobuf';
import { digestEquals, digestString, type Digest } from '../core/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  compareUtf8,
  toProtoDigest,
  type FileNode,
  type SymlinkNode,
} from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { treeConflict } from './tree-failures.js';
import { EMPTY_TREE_DIGEST, putDirectory, readDirectory, resultMemo, stageDirectory } from './tree-io.js';
import { describeEntry, nodeDigest, sameEntry, settleInOrder, type NodeEntry } from './tree-nodes.js';
import { joinTreePath } from './tree-paths.js';

/**
 * The union of trees. Identical subtrees (same digest) are taken as they
 * are without being read, so merging a large snapshot with a small one
 * reads only the directories both touch. The same path with different
 * contents, or a file where the other has a directory, is a
 * `snapshot-conflict` that names the path and both sides.
 *
 * The merged Directories are staged, not written (tree-io.ts
 * stageDirectory): rules merge input roots for every process, and a run
 * whose processes come from the cache never needs them in the store.
 */
export function mergeTrees(store: BlobStore, digests: readonly Digest[], signal?: AbortSignal): Promise<Digest> {
  return mergeTreesAt(store, digests, '', signal, true);
}

/**
 * mergeTrees for trees that sit at `at` in a larger one: conflicts name the
 * full path. `stage`: keep the new Directories in memory until a flush.
 */
export async function mergeTreesAt(store: BlobStore, digests: readonly Digest[], at: string, signal?: AbortSignal, stage = false): Promise<Digest> {
  const unique = new Map<string, Digest>();
  for (const d of digests) if (!digestEquals(d, EMPTY_TREE_DIGEST)) unique.set(digestString(d), d);
  const list = [...unique.values()];
  if (list.length === 0) return EMPTY_TREE_DIGEST;
  if (list.length === 1) return list[0]!;
  // The result does not depend on `at`, which only names paths in errors (and errors are not memoized).
  const memoKey = `merge:${[...unique.keys()].sort().join(',')}`;
  const memo = resultMemo(store);
  const cached = memo.get(memoKey);
  if (cached !== undefined) return cached;

  const what = at === '' ? 'tree to merge' : `directory \`${at}\` of a tree to merge`;
  const dirs = await settleInOrder(list.map((d) => readDirectory(store, d, what, signal)));
  const byName = new Map<string, NodeEntry[]>();
  const add = (e: NodeEntry): void => {
    const entries = byName.get(e.node.name);
    if (entries === undefined) byName.set(e.node.name, [e]);
    else entries.push(e);
  };
  for (const dir of dirs) {
    for (const node of dir.files) add({ kind: 'file', node });
    for (const node of dir.directories) add({ kind: 'dir', node });
    for (const node of dir.symlinks) add({ kind: 'symlink', node });
  }

  const files: FileNode[] = [];
  const symlinks: SymlinkNode[] = [];
  const subdirs: Array<{ name: string; digests: Digest[] }> = [];
  // Name order, so the conflict reported is the same whatever order the trees came in.
  for (const name of [...byName.keys()].sort(compareUtf8)) {
    const entries = byName.get(name)!;
    const first = entries[0]!;
    if (first.kind === 'dir') {
      const other = entries.find((e) => e.kind !== 'dir');
      if (other !== undefined) throw treeConflict(joinTreePath(at, name), describeEntry(first), describeEntry(other));
      const digests: Digest[] = [];
      for (const e of entries) if (e.kind === 'dir') digests.push(nodeDigest(e.node.digest, name));
      subdirs.push({ name, digests });
      continue;
    }
    const other = entries.find((e) => !sameEntry(first, e));
    if (other !== undefined) throw treeConflict(joinTreePath(at, name), describeEntry(first), describeEntry(other));
    if (first.kind === 'file') files.push(first.node);
    else symlinks.push(first.node);
  }
  const merged = await settleInOrder(subdirs.map((s) => mergeTreesAt(store, s.digests, joinTreePath(at, s.name), signal, stage)));
  const directories = subdirs.map((s, i) => create(DirectoryNodeSchema, { name: s.name, digest: toProtoDigest(merged[i]!) }));
  const dir = create(DirectorySchema, { files, directories, symlinks });
  const digest = stage ? stageDirectory(store, dir) : await putDirectory(store, dir, signal);
  memo.set(memoKey, digest);
  return digest;
}
