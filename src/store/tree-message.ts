import { create } from '@bufbuild/protobuf';
import { digestString, type Digest } from '../core/index.js';
import { TreeSchema, type Directory, type Tree } from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { readDirectory } from './tree-io.js';
import { nodeDigest, settleInOrder } from './tree-nodes.js';

/**
 * A REAPI Tree for a directory: the root, and every distinct Directory
 * below it exactly once, in topological order (each after all of its
 * parents, as `is_topologically_sorted` promises, even when a subtree is
 * shared by parents at different depths). `get` supplies the messages.
 */
export async function assembleTree(root: Digest, get: (d: Digest) => Promise<Directory> | Directory): Promise<Tree> {
  const rootKey = digestString(root);
  const byKey = new Map<string, Directory>([[rootKey, await get(root)]]);
  let level: string[] = [rootKey];
  while (level.length > 0) {
    const fresh: Digest[] = [];
    const freshKeys = new Set<string>();
    for (const key of level) {
      for (const node of byKey.get(key)!.directories) {
        const d = nodeDigest(node.digest, node.name);
        const k = digestString(d);
        if (byKey.has(k) || freshKeys.has(k)) continue;
        freshKeys.add(k);
        fresh.push(d);
      }
    }
    const dirs = await settleInOrder(fresh.map((d) => Promise.resolve(get(d))));
    fresh.forEach((d, i) => byKey.set(digestString(d), dirs[i]!));
    level = [...freshKeys];
  }
  // Reverse post-order of a depth-first walk: a topological order, root first.
  const postOrder: string[] = [];
  const visited = new Set<string>();
  const visit = (key: string): void => {
    visited.add(key);
    for (const node of byKey.get(key)!.directories) {
      const k = digestString(nodeDigest(node.digest, node.name));
      if (!visited.has(k)) visit(k);
    }
    postOrder.push(key);
  };
  visit(rootKey);
  const children = postOrder
    .reverse()
    .slice(1)
    .map((k) => byKey.get(k)!);
  return create(TreeSchema, { root: byKey.get(rootKey)!, children });
}

/** The REAPI Tree of a Directory already in the store (what an OutputDirectory's tree_digest names). */
export function treeMessageOf(store: BlobStore, digest: Digest, signal?: AbortSignal): Promise<Tree> {
  return assembleTree(digest, (d) => readDirectory(store, d, 'directory of the tree', signal));
}
