import { digestString, type Digest } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import type { BlobStore } from './blob-store.js';
import { listTree, type TreeEntry } from './tree-ops.js';

/**
 * The files and symlinks of a tree (listTree), as an engine key: a tree is
 * named by its digest, so its listing never changes and is never
 * invalidated. Memoized (and kept with the graph of a run without a
 * daemon), it spares a fully cached build reading and decoding every
 * Directory of every output tree it writes back into the workspace.
 */
export class TreeListingKey implements Key<readonly TreeEntry[]> {
  readonly id: string;
  readonly #store: BlobStore;
  readonly #tree: Digest;
  constructor(store: BlobStore, tree: Digest) {
    this.#store = store;
    this.#tree = tree;
    this.id = `tree-listing:${digestString(tree)}`;
  }
  describe(): string {
    return `the files of tree ${digestString(this.#tree)}`;
  }
  compute(_ctx: ComputeContext, signal: AbortSignal): Promise<readonly TreeEntry[]> {
    return listTree(this.#store, this.#tree, signal);
  }
}
