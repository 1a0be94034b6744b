import { create } from '@bufbuild/protobuf';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailureError, digestEquals, failure, sha256Hex, type Digest } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { FileDigestKey, type FileDigest, type Workspace } from '../fs/index.js';
import { DirectoryNodeSchema, DirectorySchema, FileNodeSchema, toProtoDigest } from '../reapi/index.js';
import { copyIntoStore } from './copy-into-store.js';
import { flushAllStaged } from './flush-staged.js';
import type { LocalStore } from './local-store.js';
import { treeConflict } from './tree-failures.js';
import { EMPTY_TREE_DIGEST, stageDirectory, stageFile, stagedOverLimit } from './tree-io.js';
import { treePathSegments } from './tree-paths.js';

/** A Directory tree in the store holding workspace files at their root-relative paths. */
export interface Snapshot {
  readonly digest: Digest;
  /** The snapshot's paths, sorted and unique. */
  readonly files: readonly string[];
}

/** Ids quote short path lists as they are (readable in logs and cycle reports); longer ones are hashed. */
const VERBATIM_ID_MAX = 200;

function sortedUnique(paths: readonly string[]): readonly string[] {
  let ok = true;
  for (let i = 1; i < paths.length && ok; i++) ok = paths[i - 1]! < paths[i]!;
  if (ok) return paths;
  const sorted = [...paths].sort();
  return sorted.filter((p, i) => i === 0 || p !== sorted[i - 1]);
}

/**
 * Captures every input of a snapshot node: the store it writes to (a value
 * made for one store is no use in another) and the exact path list.
 */
function listId(store: LocalStore, paths: readonly string[]): string {
  const verbatim = JSON.stringify(paths);
  if (verbatim.length <= VERBATIM_ID_MAX) return `${store.dir}:${verbatim}`;
  return `${paths.length}:${sha256Hex(`${store.dir}\0${paths.join('\0')}`)}`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Workspace files → a Directory tree in the store, as an engine node.
 *
 * The tree is built by one DirSnapshotKey per directory, each depending on
 * the FileDigestKeys of its own files and the DirSnapshotKeys of its
 * subdirectories. A one-file edit therefore re-hashes that file and rebuilds
 * only the Directory messages on its path to the root; an edit that leaves
 * the content as it was stops at the file (early cut-off). Files follow
 * symlinks, as the workspace listing does.
 */
export class SnapshotKey implements Key<Snapshot> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #store: LocalStore;
  readonly #paths: readonly string[];
  #root: DirSnapshotKey | undefined;

  constructor(ws: Workspace, store: LocalStore, paths: readonly string[]) {
    this.#ws = ws;
    this.#store = store;
    this.#paths = sortedUnique(paths);
    this.id = `snapshot:${listId(store, this.#paths)}`;
  }

  describe(): string {
    const n = this.#paths.length;
    return n === 1 ? `snapshot of ${this.#paths[0]!}` : `snapshot of ${n} files${n > 0 ? ` (${this.#paths[0]!}, …)` : ''}`;
  }

  async compute(ctx: ComputeContext): Promise<Snapshot> {
    if (this.#paths.length === 0) return { digest: EMPTY_TREE_DIGEST, files: [] };
    for (const p of this.#paths) treePathSegments(p, 'snapshot path');
    this.#root ??= new DirSnapshotKey(this.#ws, this.#store, '', this.#paths);
    return { digest: await ctx.get(this.#root), files: this.#paths };
  }

  equal(a: Snapshot, b: Snapshot): boolean {
    return digestEquals(a.digest, b.digest) && sameList(a.files, b.files);
  }
}

interface DirPlan {
  readonly files: ReadonlyArray<{ readonly name: string; readonly path: string; readonly key: FileDigestKey }>;
  readonly dirs: ReadonlyArray<{ readonly name: string; readonly key: DirSnapshotKey }>;
}

/**
 * One directory of a snapshot: `paths` are the snapshot's paths under
 * `dir` (root-relative, sorted). Not exported: its id scheme is private to
 * SnapshotKey, and two snapshots that share a subdirectory with the same
 * files share its node.
 */
class DirSnapshotKey implements Key<Digest> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #store: LocalStore;
  readonly #dir: string;
  readonly #paths: readonly string[];
  /** Made once per node: the engine keeps the first key object and recomputes with it. */
  #plan: DirPlan | undefined;

  constructor(ws: Workspace, store: LocalStore, dir: string, paths: readonly string[]) {
    this.#ws = ws;
    this.#store = store;
    this.#dir = dir;
    this.#paths = paths;
    this.id = `dir-snapshot:${dir}:${listId(store, paths)}`;
  }

  describe(): string {
    return `snapshot of ${this.#paths.length} file(s) in ${this.#dir || '.'}`;
  }

  equal(a: Digest, b: Digest): boolean {
    return digestEquals(a, b);
  }

  async compute(ctx: ComputeContext, signal: AbortSignal): Promise<Digest> {
    const plan = (this.#plan ??= this.#makePlan());
    const [fileDigests, dirDigests] = await Promise.all([
      ctx.getAll(plan.files.map((f) => f.key)),
      ctx.getAll(plan.dirs.map((d) => d.key)),
    ]);
    const found: FileDigest[] = fileDigests.map((fd, i) => {
      if (fd !== null) return fd;
      const path = plan.files[i]!.path;
      throw new FailureError(
        failure('input', 'missing-file', `cannot snapshot \`${path}\`: it does not exist or is not a regular file`),
      );
    });
    // Staged, not written: a run whose processes all come from a cache
    // needs only the digest. Whatever runs a process on the tree writes it
    // first (flush-staged.ts), copying each file then.
    const store = this.#store;
    plan.files.forEach((f, i) => {
      const digest = found[i]!.digest;
      const abs = join(this.#ws.root, f.path);
      stageFile(store, { digest, path: f.path, copy: (s) => copyIntoStore(store, abs, digest.sizeBytes, s), read: (s) => readFile(abs, { signal: s }) });
    });
    const files = plan.files.map((f, i) =>
      create(FileNodeSchema, { name: f.name, digest: toProtoDigest(found[i]!.digest), isExecutable: found[i]!.isExecutable }),
    );
    const directories = plan.dirs.map((d, i) => create(DirectoryNodeSchema, { name: d.name, digest: toProtoDigest(dirDigests[i]!) }));
    const digest = stageDirectory(store, create(DirectorySchema, { files, directories }));
    if (stagedOverLimit(store)) await flushAllStaged(store, signal);
    return digest;
  }

  #makePlan(): DirPlan {
    const prefix = this.#dir === '' ? 0 : this.#dir.length + 1;
    const files: Array<DirPlan['files'][number]> = [];
    const groups = new Map<string, string[]>();
    for (const path of this.#paths) {
      const slash = path.indexOf('/', prefix);
      if (slash < 0) {
        const name = path.slice(prefix);
        files.push({ name, path, key: new FileDigestKey(this.#ws, path) });
        continue;
      }
      const name = path.slice(prefix, slash);
      const group = groups.get(name);
      if (group === undefined) groups.set(name, [path]);
      else group.push(path);
    }
    for (const f of files) {
      const under = groups.get(f.name);
      if (under !== undefined) throw treeConflict(f.path, 'a file', `a directory (holding \`${under[0]!}\`)`);
    }
    const dirs = [...groups].map(([name, paths]) => ({
      name,
      key: new DirSnapshotKey(this.#ws, this.#store, this.#dir === '' ? name : `${this.#dir}/${name}`, paths),
    }));
    return { files, dirs };
  }
}
