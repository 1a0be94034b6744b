import { FailureError, digestString, failure, isFailureError, type Digest } from '../../core/index.js';
import { readDirectory, type BlobStore } from '../../store/index.js';
import { TreeSchema, decodeMessage, fromProtoDigest, type ActionResult, type Directory } from '../../reapi/index.js';
import type { TransferStats } from './provider.js';
import type { HeldBlobs } from './remote-blob-store.js';
import type { CallContext } from './request-metadata.js';

/**
 * Directory digests whose whole closure (every Directory and file below
 * them) this client has seen present on the server or uploaded there.
 * Input roots of one build share most subtrees, so after the first action
 * only new subtrees are walked and asked about. Per run: a server may evict
 * between runs, and the next run checks again.
 */
export class UploadedTrees {
  readonly #set = new Set<string>();
  readonly #max: number;

  constructor(max = 200_000) {
    this.#max = max;
  }

  has(d: Digest): boolean {
    return this.#set.has(digestString(d));
  }

  add(d: Digest): void {
    if (this.#set.size >= this.#max) this.#set.clear();
    this.#set.add(digestString(d));
  }

  clear(): void {
    this.#set.clear();
  }
}

export interface TreeWalk {
  readonly digests: Digest[];
  /** Absolute symlink targets met, for servers that refuse them. */
  readonly absoluteSymlinks: string[];
}

/**
 * A Directory of the local store, through the store's memo of decoded
 * Directories (store/tree-io.ts): the input roots were just built or
 * merged in this process, so most are there, and reading each one back
 * from disk was a file open per directory on the way to every Execute.
 */
async function readDir(local: BlobStore, d: Digest, signal?: AbortSignal): Promise<Directory> {
  try {
    return await readDirectory(local, d, `directory ${digestString(d)}`, signal);
  } catch (e) {
    if (isFailureError(e) && e.failure.reason === 'missing-blob') {
      throw new FailureError(failure('internal', 'missing-blob', `directory ${digestString(d)} is not in the local store`, { hints: ['the local store may have been garbage-collected during the run; run again'] }));
    }
    throw e;
  }
}

function digestOf(p: Parameters<typeof fromProtoDigest>[0], what: string): Digest {
  const r = fromProtoDigest(p, what);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

/** Every Directory and file digest below `roots` (skipping subtrees known uploaded), from the local store. */
export async function walkTrees(local: BlobStore, roots: readonly Digest[], known: UploadedTrees | undefined, signal?: AbortSignal): Promise<TreeWalk> {
  const digests = new Map<string, Digest>();
  const absoluteSymlinks: string[] = [];
  const seen = new Set<string>();
  let level = roots.filter((r) => !known?.has(r));
  while (level.length > 0) {
    const next: Digest[] = [];
    const dirs = await Promise.all(
      level.map(async (d) => {
        const key = digestString(d);
        if (seen.has(key)) return undefined;
        seen.add(key);
        digests.set(key, d);
        return readDir(local, d, signal);
      }),
    );
    for (const dir of dirs) {
      if (dir === undefined) continue;
      for (const f of dir.files) {
        const fd = digestOf(f.digest, `digest of file ${JSON.stringify(f.name)}`);
        digests.set(digestString(fd), fd);
      }
      for (const s of dir.symlinks) if (s.target.startsWith('/')) absoluteSymlinks.push(s.target);
      for (const c of dir.directories) {
        const cd = digestOf(c.digest, `digest of directory ${JSON.stringify(c.name)}`);
        if (!known?.has(cd)) next.push(cd);
      }
    }
    level = next;
  }
  return { digests: [...digests.values()], absoluteSymlinks };
}

/** Where ensureUploaded sends blobs: a provider, or remote execution's uploader, which may take some blobs from memory (`held`). */
export interface Uploader {
  readonly description: string;
  uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats>;
}

/**
 * Makes the server hold `roots` (Directory trees) and `blobs`, uploading
 * what FindMissingBlobs says it lacks, from the local store, or from
 * `held` for blobs given in memory (only `remote` reads them).
 */
export async function ensureUploaded(
  local: BlobStore,
  remote: Uploader,
  what: { readonly roots: readonly Digest[]; readonly blobs: readonly Digest[]; readonly absoluteSymlinksAllowed?: boolean; readonly held?: HeldBlobs },
  known: UploadedTrees | undefined,
  signal?: AbortSignal,
  call?: CallContext,
): Promise<TransferStats> {
  const walk = await walkTrees(local, what.roots, known, signal);
  if (what.absoluteSymlinksAllowed === false && walk.absoluteSymlinks.length > 0) {
    throw new FailureError(
      failure('input', 'remote-absolute-symlink', `${remote.description} does not allow absolute symlinks in inputs, and the input tree has one pointing to ${JSON.stringify(walk.absoluteSymlinks[0])}`, {
        hints: ['make the symlink relative, or run this process locally'],
      }),
    );
  }
  const stats = await remote.uploadFrom(local, [...walk.digests, ...what.blobs], signal, call, what.held);
  for (const r of what.roots) known?.add(r);
  return stats;
}

/** Every blob an ActionResult names, with output directories' files read from their Tree blobs in `local`. */
export async function actionResultBlobs(local: BlobStore, ar: ActionResult, signal?: AbortSignal): Promise<Digest[]> {
  const out: Digest[] = [];
  const add = (p: Parameters<typeof fromProtoDigest>[0], what: string): void => {
    if (p !== undefined) out.push(digestOf(p, what));
  };
  add(ar.stdoutDigest, 'stdout digest');
  add(ar.stderrDigest, 'stderr digest');
  for (const f of ar.outputFiles) add(f.digest, `digest of output file ${JSON.stringify(f.path)}`);
  for (const od of ar.outputDirectories) {
    if (od.treeDigest === undefined) continue;
    const td = digestOf(od.treeDigest, `tree of output directory ${JSON.stringify(od.path)}`);
    out.push(td);
    const bytes = await local.getBytes(td, signal);
    if (bytes === undefined) throw new FailureError(failure('internal', 'missing-blob', `the tree of output directory ${JSON.stringify(od.path)} is not in the local store`));
    const tree = decodeMessage(TreeSchema, bytes);
    if (!tree.ok) throw new FailureError(tree.failure);
    for (const dir of [...(tree.value.root ? [tree.value.root] : []), ...tree.value.children]) {
      for (const f of dir.files) add(f.digest, `digest of ${JSON.stringify(f.name)} in output directory ${JSON.stringify(od.path)}`);
    }
  }
  return out;
}
