import { create } from '@bufbuild/protobuf';
import { EMPTY_DIGEST, FailureError, digestEquals, digestString, type Digest } from '../core/index.js';
import { DirectorySchema, canonicalDirectory, decodeMessage, digestMessage, type Directory } from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { BoundedCache } from './bounded-cache.js';
import { Limiter } from './limiter.js';
import { malformedTree, missingBlob } from './tree-failures.js';

/** Made on first use: a schema used at load would boot the protobuf descriptors in every run (scripts/lazy-modules.mjs). */
let emptyDirectory: Directory | undefined;

/**
 * The digest of the empty Directory: its encoding is zero bytes, so it is the
 * empty blob's, always present (tree-io.test.ts checks it against the encoder).
 */
export const EMPTY_TREE_DIGEST: Digest = EMPTY_DIGEST;

/** Decoded Directory messages kept per store, bounded by their encoded size. */
const DIRECTORY_MEMO_BYTES = 32 * 1024 * 1024;
const DIRECTORY_MEMO_ENTRIES = 200_000;
/** Digests known to be in a store because this process put or read them. */
const KNOWN_ENTRIES = 500_000;
/** Results of tree operations (merge, subset, Tree → root). */
const RESULT_ENTRIES = 50_000;
/** Blob reads in flight at once, across every walk, so a wide tree does not open thousands of files. */
const READ_CONCURRENCY = 32;

/** A Directory encoded but not written yet (see stageDirectory). */
interface StagedDirectory {
  readonly digest: Digest;
  readonly bytes: Uint8Array;
  /** The memo's period when it was staged (see endMemoPeriod). */
  readonly stamp: number;
}

/** A workspace file whose blob is not copied into the store yet (see stageFile). */
export interface StagedFile {
  readonly digest: Digest;
  /** Root-relative, for the message when it changed before it was copied. */
  readonly path: string;
  /** Copies it into the store; returns the digest of what was copied. */
  readonly copy: (signal?: AbortSignal) => Promise<Digest>;
  /** Reads its bytes as they are now (for an upload that need not go through the store: staged-read.ts). */
  readonly read: (signal?: AbortSignal) => Promise<Uint8Array>;
}

interface StoreMemo {
  readonly directories: BoundedCache<string, Directory>;
  readonly known: BoundedCache<string, true>;
  readonly results: BoundedCache<string, Digest>;
  /** Staged writes: not bounded here; stagedOverLimit() tells the stager to flush. */
  readonly stagedDirs: Map<string, StagedDirectory>;
  readonly stagedFiles: Map<string, { readonly file: StagedFile; readonly stamp: number }>;
  stagedBytes: number;
  /** Periods ended (a daemon's runs, see endMemoPeriod): what the memos' entries are stamped with. */
  period: number;
}

// Per store object: a digest's content is global, but its presence is not,
// and an operation's result is only usable in the store it was written to.
const memos = new WeakMap<BlobStore, StoreMemo>();
const reads = new Limiter(READ_CONCURRENCY);

function memoOf(store: BlobStore): StoreMemo {
  let m = memos.get(store);
  if (m === undefined) {
    m = {
      directories: new BoundedCache(DIRECTORY_MEMO_ENTRIES, DIRECTORY_MEMO_BYTES),
      known: new BoundedCache(KNOWN_ENTRIES),
      results: new BoundedCache(RESULT_ENTRIES),
      stagedDirs: new Map(),
      stagedFiles: new Map(),
      stagedBytes: 0,
      period: 0,
    };
    memos.set(store, m);
  }
  return m;
}

function isEmptyTree(d: Digest): boolean {
  return digestEquals(d, EMPTY_TREE_DIGEST);
}

/**
 * True when this process has put or read the blob in this store. Saves a
 * stat per blob on every snapshot; the price is that a blob evicted by a GC
 * meanwhile is only noticed when it is read (a `missing-blob` failure).
 */
export function isKnownPresent(store: BlobStore, d: Digest): boolean {
  return isEmptyTree(d) || memoOf(store).known.get(digestString(d)) === true;
}

export function markKnownPresent(store: BlobStore, d: Digest): void {
  memoOf(store).known.set(digestString(d), true);
}

/** Memo for the results of tree operations in this store; the key names the operation and its inputs. */
export function resultMemo(store: BlobStore): BoundedCache<string, Digest> {
  return memoOf(store).results;
}

/** Stores bytes unless this process already knows the store has them. */
export async function putBlobBytes(store: BlobStore, digest: Digest, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (isKnownPresent(store, digest)) return;
  await store.put(digest, bytes, signal);
  markKnownPresent(store, digest);
  unstage(store, digest);
}

/** Staged entries past which a stager should flush them all (a daemon that never runs a process must not grow without bound). */
const STAGED_MAX_ENTRIES = 100_000;
const STAGED_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Encodes a Directory and keeps it in memory instead of writing it: the
 * store sees it only if something needs the tree from the store — a
 * process that runs (materializeTree), an upload, a listing (see
 * flush-staged.ts). A fully cached run needs only the digests, and writing
 * each Directory again cost a stat, a read and a hash of the copy already
 * stored. Readers in this process (readDirectory) see it at once.
 */
export function stageDirectory(store: BlobStore, dir: Directory): Digest {
  const canonical = canonicalDirectory(dir);
  if (!canonical.ok) throw new FailureError(canonical.failure);
  const { digest, bytes } = digestMessage(DirectorySchema, canonical.value);
  if (isEmptyTree(digest)) return digest;
  const memo = memoOf(store);
  const key = digestString(digest);
  memo.directories.set(key, canonical.value, bytes.byteLength);
  if (memo.known.get(key) === true || memo.stagedDirs.has(key)) return digest;
  memo.stagedDirs.set(key, { digest, bytes, stamp: memo.period });
  memo.stagedBytes += bytes.byteLength;
  return digest;
}

/** Records a workspace file to copy into the store when a tree naming it is flushed, unless the store is known to have it. */
export function stageFile(store: BlobStore, file: StagedFile): void {
  if (isKnownPresent(store, file.digest)) return;
  const memo = memoOf(store);
  const key = digestString(file.digest);
  if (!memo.stagedFiles.has(key)) memo.stagedFiles.set(key, { file, stamp: memo.period });
}

export function stagedOverLimit(store: BlobStore): boolean {
  const memo = memoOf(store);
  return memo.stagedDirs.size + memo.stagedFiles.size > STAGED_MAX_ENTRIES || memo.stagedBytes > STAGED_MAX_BYTES;
}

/** True when nothing is staged for this store: every tree this process made is in it (as far as this process knows). */
export function nothingStaged(store: BlobStore): boolean {
  const memo = memoOf(store);
  return memo.stagedDirs.size === 0 && memo.stagedFiles.size === 0;
}

export function stagedDirectoryOf(store: BlobStore, d: Digest): StagedDirectory | undefined {
  return memoOf(store).stagedDirs.get(digestString(d));
}

export function stagedFileOf(store: BlobStore, d: Digest): StagedFile | undefined {
  return memoOf(store).stagedFiles.get(digestString(d))?.file;
}

/**
 * Staged entries, for a flush: every one, or (`stagedBefore`) those staged
 * in a period before that one.
 */
export function stagedEntries(store: BlobStore, stagedBefore = Number.POSITIVE_INFINITY): { readonly dirs: Digest[]; readonly files: StagedFile[] } {
  const memo = memoOf(store);
  const dirs: Digest[] = [];
  const files: StagedFile[] = [];
  for (const s of memo.stagedDirs.values()) if (s.stamp < stagedBefore) dirs.push(s.digest);
  for (const s of memo.stagedFiles.values()) if (s.stamp < stagedBefore) files.push(s.file);
  return { dirs, files };
}

/** How many entries a store's memos hold (not bytes): for the daemon's log and for tests of the bounds. */
export interface StoreMemoSizes {
  readonly directories: number;
  readonly known: number;
  readonly results: number;
  readonly stagedDirs: number;
  readonly stagedFiles: number;
}

export function storeMemoSizes(store: BlobStore): StoreMemoSizes {
  const m = memoOf(store);
  return { directories: m.directories.size, known: m.known.size, results: m.results.size, stagedDirs: m.stagedDirs.size, stagedFiles: m.stagedFiles.size };
}

/** The current period of a store's memos (see endMemoPeriod). */
export function memoPeriod(store: BlobStore): number {
  return memoOf(store).period;
}

/**
 * Ends a period (a daemon's run) of a store's memos: forgets the decoded
 * Directories, the digests known present and the tree results that none of
 * the last `idlePeriods` periods used (the current one included; 0 forgets
 * nothing), then starts the next period. Staged entries are not forgotten
 * here — the graph may still name them — but written out (flush-staged.ts
 * flushIdleStaged, before this). Returns how many entries it forgot.
 */
export function endMemoPeriod(store: BlobStore, idlePeriods: number): number {
  const m = memoOf(store);
  const n = m.directories.forgetIdle(idlePeriods) + m.known.forgetIdle(idlePeriods) + m.results.forgetIdle(idlePeriods);
  m.directories.tick();
  m.known.tick();
  m.results.tick();
  m.period++;
  return n;
}

/** The blob is in the store now: forget its staged copy. */
export function unstage(store: BlobStore, d: Digest): void {
  const memo = memoOf(store);
  const key = digestString(d);
  const dir = memo.stagedDirs.get(key);
  if (dir !== undefined) {
    memo.stagedDirs.delete(key);
    memo.stagedBytes -= dir.bytes.byteLength;
  }
  memo.stagedFiles.delete(key);
}

/**
 * Reads a Directory, in canonical form (entries sorted, names checked to be
 * single segments, so a walk can trust them). The result is shared through
 * a memo: callers must not modify it. `what` names the directory in errors.
 */
export async function readDirectory(store: BlobStore, digest: Digest, what: string, signal?: AbortSignal): Promise<Directory> {
  if (isEmptyTree(digest)) return (emptyDirectory ??= create(DirectorySchema));
  const memo = memoOf(store);
  const key = digestString(digest);
  const cached = memo.directories.get(key);
  if (cached !== undefined) return cached;
  const staged = memo.stagedDirs.get(key);
  const bytes = staged?.bytes ?? (await reads.run(() => store.getBytes(digest, signal), signal));
  if (bytes === undefined) {
    memo.known.delete(key);
    throw missingBlob(what, digest, store);
  }
  const decoded = decodeMessage(DirectorySchema, bytes);
  if (!decoded.ok) throw malformedTree(what, digest, decoded.failure);
  const canonical = canonicalDirectory(decoded.value);
  if (!canonical.ok) throw malformedTree(what, digest, canonical.failure);
  memo.directories.set(key, canonical.value, bytes.byteLength);
  if (staged === undefined) memo.known.set(key, true);
  return canonical.value;
}

/**
 * Stores a Directory in canonical form and returns its digest. A Directory
 * that has none (a name used twice, a bad name) is the caller's input error.
 */
export async function putDirectory(store: BlobStore, dir: Directory, signal?: AbortSignal): Promise<Digest> {
  return (await putDirectoryMessage(store, dir, signal)).digest;
}

/** putDirectory, also returning the canonical message that was stored (for building a Tree). */
export async function putDirectoryMessage(
  store: BlobStore,
  dir: Directory,
  signal?: AbortSignal,
): Promise<{ digest: Digest; directory: Directory }> {
  const canonical = canonicalDirectory(dir);
  if (!canonical.ok) throw new FailureError(canonical.failure);
  const { digest, bytes } = digestMessage(DirectorySchema, canonical.value);
  if (isEmptyTree(digest)) return { digest, directory: canonical.value };
  await putBlobBytes(store, digest, bytes, signal);
  // Trees are usually read right after they are built (merged, materialized): keep it decoded.
  memoOf(store).directories.set(digestString(digest), canonical.value, bytes.byteLength);
  return { digest, directory: canonical.value };
}
