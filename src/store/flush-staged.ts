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

/** Staged Directories written at once by a flush of staged entries (each a small put). */
const puts = new Limiter(32);

/**
 * Writes the staged entries given, and the staged ones their Directories
 * name: files first, each Directory after its children. Unlike flushTree
 * it descends only through staged Directories: one that is not staged is
 * in the store with everything it names (flushTree's rule), so reading it
 * would prove nothing. Walking every given tree through the store cost a
 * run that had recomputed the snapshots of 200 packages (a `dist/` gone
 * or back) seconds: each staged sandbox root was read down through its
 * installed packages, each root separately. A tree naming a file that
 * changed since is stale (its snapshot is recomputed when asked again): it
 * is dropped with every staged Directory above it, not an error of
 * whoever happened to cross the bound.
 */
async function flushStaged(store: BlobStore, { dirs, files }: { readonly dirs: Digest[]; readonly files: StagedFile[] }, signal?: AbortSignal): Promise<void> {
  /** Per digest: whether it is in the store now (false: dropped, its file changed). */
  const done = new Map<string, Promise<boolean>>();
  const once = (d: Digest, write: () => Promise<boolean>): Promise<boolean> => {
    const key = digestString(d);
    let p = done.get(key);
    if (p === undefined) done.set(key, (p = write()));
    return p;
  };
  const flushFile = (f: StagedFile): Promise<boolean> =>
    once(f.digest, async () => {
      if (stagedFileOf(store, f.digest) === undefined) return true;
      try {
        await copyStaged(store, f, signal);
        return true;
      } catch (e) {
        if (!(e instanceof FailureError && e.failure.reason === 'input-changed')) throw e;
        unstage(store, f.digest);
        return false;
      }
    });
  const flushDir = (d: Digest): Promise<boolean> =>
    once(d, async () => {
      const staged = stagedDirectoryOf(store, d);
      if (staged === undefined) return true;
      const dir = await readDirectory(store, d, 'a staged directory', signal);
      const children = await Promise.all([
        ...dir.files.map((f) => {
          const file = stagedFileOf(store, nodeDigest(f.digest, f.name));
          return file === undefined ? true : flushFile(file);
        }),
        ...dir.directories.map((c) => flushDir(nodeDigest(c.digest, c.name))),
      ]);
      if (!children.every(Boolean)) {
        unstage(store, d);
        return false;
      }
      await puts.run(() => putBlobBytes(store, staged.digest, staged.bytes, signal), signal);
      return true;
    });
  await Promise.all([...files.map(flushFile), ...dirs.map(flushDir)]);
}

/** Writes one staged file into the store (and stops holding it), after checking that it still has the digest the tree names. */
export async function copyStaged(store: BlobStore, file: StagedFile, signal?: AbortSignal): Promise<void> {
  const [missing] = await store.findMissing([file.digest], signal);
  if (missing === undefined) {
    markKnownPresent(store, file.digest);
    unstage(store, file.digest);
    return;
  }
  const actual = await copies.run(() => file.copy(signal), signal);
  markKnownPresent(store, actual);
  if (!digestEquals(actual, file.digest)) throw stagedFileChanged(file, actual);
  unstage(store, file.digest);
}

/** A staged file whose bytes no longer have the digest its tree names: the process must not run on other bytes. */
export function stagedFileChanged(file: StagedFile, actual: Digest): FailureError {
  return new FailureError(
    failure('input', 'input-changed', `\`${file.path}\` changed while trews was running (it was ${digestString(file.digest)}, it is now ${digestString(actual)})`, {
      hints: ['run the command again once nothing is writing to it'],
    }),
  );
}
