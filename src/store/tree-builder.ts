import { create } from '@bufbuild/protobuf';
import type { Digest } from '../core/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  FileNodeSchema,
  SymlinkNodeSchema,
  toProtoDigest,
  type FileNode,
  type NodeProperties,
  type SymlinkNode,
} from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { mergeTreesAt } from './merge-trees.js';
import { treeConflict } from './tree-failures.js';
import { EMPTY_TREE_DIGEST, putDirectory, stageDirectory } from './tree-io.js';
import { describeEntry, sameEntry, settleInOrder, type NodeEntry } from './tree-nodes.js';
import { joinTreePath, treePathSegments } from './tree-paths.js';

type Leaf = Extract<NodeEntry, { kind: 'file' | 'symlink' }>;

class DirNode {
  readonly leaves = new Map<string, Leaf>();
  readonly dirs = new Map<string, DirNode>();
  /** Existing trees mounted at this directory; merged with what was added under it. */
  readonly mounts: Digest[] = [];
}

/**
 * Builds a tree from entries at arbitrary paths (files, symlinks, and whole
 * existing trees mounted at a path), writing each Directory once, bottom-up.
 * The same entry twice is fine; two different ones at a path, or a file
 * where a directory is needed, is a `snapshot-conflict`.
 */
export class TreeBuilder {
  readonly #root = new DirNode();

  addFile(path: string, digest: Digest, isExecutable: boolean, nodeProperties?: NodeProperties): this {
    const node: FileNode = create(FileNodeSchema, { digest: toProtoDigest(digest), isExecutable, nodeProperties });
    return this.#addLeaf(path, { kind: 'file', node });
  }

  addSymlink(path: string, target: string, nodeProperties?: NodeProperties): this {
    const node: SymlinkNode = create(SymlinkNodeSchema, { target, nodeProperties });
    return this.#addLeaf(path, { kind: 'symlink', node });
  }

  /** Places the tree `digest` at `path` ('' is the root). */
  addTree(path: string, digest: Digest): this {
    this.#dirAt(treePathSegments(path, 'path', true), path).mounts.push(digest);
    return this;
  }

  /** `stage`: keep the Directories in memory until a flush (tree-io.ts stageDirectory), for trees only this process needs. */
  build(store: BlobStore, signal?: AbortSignal, stage = false): Promise<Digest> {
    return this.#build(store, this.#root, '', signal, stage);
  }

  #addLeaf(path: string, leaf: Leaf): this {
    const segments = treePathSegments(path);
    const name = segments.pop()!;
    const parent = this.#dirAt(segments, path);
    leaf.node.name = name;
    if (parent.dirs.has(name)) throw treeConflict(path, describeEntry(leaf), 'a directory');
    const existing = parent.leaves.get(name);
    if (existing !== undefined && !sameEntry(existing, leaf)) throw treeConflict(path, describeEntry(existing), describeEntry(leaf));
    parent.leaves.set(name, leaf);
    return this;
  }

  #dirAt(segments: readonly string[], path: string): DirNode {
    let node = this.#root;
    let at = '';
    for (const s of segments) {
      at = joinTreePath(at, s);
      const leaf = node.leaves.get(s);
      if (leaf !== undefined) throw treeConflict(at, describeEntry(leaf), `a directory (needed for \`${path}\`)`);
      let next = node.dirs.get(s);
      if (next === undefined) {
        next = new DirNode();
        node.dirs.set(s, next);
      }
      node = next;
    }
    return node;
  }

  async #build(store: BlobStore, node: DirNode, at: string, signal: AbortSignal | undefined, stage: boolean): Promise<Digest> {
    const names = [...node.dirs.keys()];
    const subs = await settleInOrder(names.map((n) => this.#build(store, node.dirs.get(n)!, joinTreePath(at, n), signal, stage)));
    const hasOwn = node.leaves.size > 0 || names.length > 0;
    if (!hasOwn && node.mounts.length === 1) return node.mounts[0]!;
    const files: FileNode[] = [];
    const symlinks: SymlinkNode[] = [];
    for (const leaf of node.leaves.values()) {
      if (leaf.kind === 'file') files.push(leaf.node);
      else symlinks.push(leaf.node);
    }
    const directories = names.map((name, i) => create(DirectoryNodeSchema, { name, digest: toProtoDigest(subs[i]!) }));
    const dir = create(DirectorySchema, { files, directories, symlinks });
    const own = !hasOwn ? EMPTY_TREE_DIGEST : stage ? stageDirectory(store, dir) : await putDirectory(store, dir, signal);
    if (node.mounts.length === 0) return own;
    return mergeTreesAt(store, [...node.mounts, own], at, signal, stage);
  }
}
