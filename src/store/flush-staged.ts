import { FailureError, digestEquals, digestString, failure, type Digest } from '../core/index.js';
import type { BlobStore } from './blob-store.js';
import { Limiter } from './limiter.js';
import { markKnownPresent, memoPeriod, nothingStaged, putBlobBytes, readDirectory, stagedDirectoryOf, stagedEntries, stagedFileOf, unstage, type StagedFile } from './tree-io.js';
import { nodeDigest } from './tree-nodes.js';

/** Staged file copies in flight at once, across all flushes of the process. */
const copies = new Limiter(32);
/** Flushes in flight per store and tree, so processes sharing subtrees write each once. */
const inFlight = new WeakMap<BlobStore, Map<string, Promise<void>>>();

/**
 * Writes into the store whatever of the tree `root` is only staged
 * (tree-io.ts stageDirectory / stageFile): files first, then each
 * Directory after its children, so a Directory in the store never names a
 * blob that is not. Costs nothing when nothing is staged. A staged file
 * whose content changed since it was hashed is an input failure: the tree
 * already names the old digest, and the process must not run on other bytes.
 */
export async function flushTree(store: BlobStore, root: Digest, signal?: AbortSignal): Promise<void> {
  if (nothingStaged(store)) return;
  let flights = inFlight.get(store);
  if (flights === undefined) {
    flights = new Map();
    inFlight.set(store, flights);
  }
  const seen = new Set<string>();
  const visit = (d: Digest, at: string): Promise<void> => {
    const key = digestString(d);
    if (seen.has(key)) return Promise.resolve();
    seen.add(key);
    const running = flights.get(key);
    if (running !== undefined) return running;
    const p = flushOne(d, at).finally(() => flights.delete(key));
    flights.set(key, p);
    return p;
  };
  const flushOne = async (d: Digest, at: string): Promise<void> => {
    const dir = await readDirectory(store, d, at === '' ? 'tree to write' : `directory \`${at}\` of a tree to write`, signal);
    const join = (name: string): string => (at === '' ? name : `${at}/${name}`);
    await Promise.all([
      ...dir.files.map((f) => {
        const staged = stagedFileOf(store, nodeDigest(f.digest, f.name));
        return staged === undefined ? undefined : copyStaged(store, staged, signal);
      }),
      ...dir.directories.map((c) => visit(nodeDigest(c.digest, c.name), join(c.name))),
    ]);
    const staged = stagedDirectoryOf(store, d);
    if (staged !== undefined) await putBlobBytes(store, staged.digest, staged.bytes, signal);
  };
  await visit(root, '');
}

/** Writes everything staged for this store (a stager over its bound). */
export async function flushAllStaged(store: BlobStore, signal?: AbortSignal): Promise<void> {
  await flushStaged(store, stagedEntries(store), signal);
}

/**
 * Writes what was staged in a period (a daemon's run) that none of the last
 * `idlePeriods` are (tree-io.ts memoPeriod; 0 writes nothing), and so stops
 * holding it in memory: a graph node may still name such a tree, so it is
 * written rather than dropped. A daemon's edits stage new trees on every
 * run, and those whose processes never ran would otherwise stay in memory
 * until the stager's bound. Returns how many entries it wrote or dropped.
 */
export async function flushIdleStaged(store: BlobStore, idlePeriods: number, signal?: AbortSignal): Promise<number> {
  if (idlePeriods <= 0 || nothingStaged(store)) return 0;
  const idle = stagedEntries(store, memoPeriod(store) - idlePeriods + 1);
  await flushStaged(store, idle, signal);
  return idle.dirs.length + idle.files.length;
}

async function flushStaged(store: BlobStore, { dirs, files }: { readonly dirs: Digest[]; readonly files: StagedFile[] }, signal?: AbortSignal): Promise<void> {
  // Through flushTree, so each Directory is written after its children. A
  // tree naming a file that changed since is stale (its snapshot is
  // recomputed when asked again): it is dropped, not an error of whoever
  // happened to cross the bound.
  for (const d of dirs) {
    try {
      await flushTree(store, d, signal);
    } catch (e) {
      if (!(e instanceof FailureError && e.failure.reason === 'input-changed')) throw e;
      unstage(store, d);
    }
  }
  for (const f of files) {
    if (stagedFileOf(store, f.digest) === undefined) continue;
    try {
      await copyStaged(store, f, signal);
    } catch (e) {
      if (!(e instanceof FailureError && e.failure.reason === 'input-changed')) throw e;
      unstage(store, f.digest);
    }
  }
}

async function copyStaged(store: BlobStore, file: StagedFile, signal?: AbortSignal): Promise<void> {
  const [missing] = await store.findMissing([file.digest], signal);
  if (missing === undefined) {
    markKnownPresent(store, file.digest);
    unstage(store, file.digest);
    return;
  }
  const actual = await copies.run(() => file.copy(signal), signal);
  markKnownPresent(store, actual);
  if (!digestEquals(actual, file.digest)) {
    throw new FailureError(
      failure('input', 'input-changed', `\`${file.path}\` changed while trews was running (it was ${digestString(file.digest)}, it is now ${digestString(actual)})`, {
        hints: ['run the command again once nothing is writing to it'],
      }),
    );
  }
  unstage(store, file.digest);
}
