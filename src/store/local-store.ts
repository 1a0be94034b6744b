import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, futimesSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable, Transform, Writable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  EMPTY_DIGEST,
  FailureError,
  abortError,
  digestString,
  failure,
  nullLogger,
  type Digest,
  type Logger,
  type Sha256Hex, mapLimit} from '../core/index.js';
import {
  ActionResultSchema,
  DirectorySchema,
  TreeSchema,
  decodeMessage,
  encodeCanonical,
  fromProtoDigest,
  type ActionResult,
  type Directory,
  type ProtoDigest,
} from '../reapi/index.js';
import { frameActionResult, unframeActionResult } from './action-cache-entry.js';
import type { ActionCache, BlobStore } from './blob-store.js';
import { checkDigest, digestMismatch, errnoCode, storeIoError } from './store-failures.js';
import { TMP_DIR, acPath, casExecutablePath, casPath } from './store-layout.js';
import { DigestVerifier } from './verifying-stream.js';
import { BoundedCache } from './bounded-cache.js';
import { noteDamage } from './damage.js';
import { TOUCH_INTERVAL_MS, touchFloor } from './leases.js';
import type { StatIndex } from '../fs/index.js';

export interface LocalStoreOptions {
  /** The store directory; callers decide (option `local_store_dir`, else `$XDG_CACHE_HOME/trews`, see defaultLocalStoreDir). */
  readonly dir: string;
  readonly logger?: Logger;
  /** getBytes refuses blobs larger than this (default 64 MiB). */
  readonly getBytesLimit?: number;
  /**
   * Verifications kept by earlier processes (a build root's
   * `.trews.d/store-verified`, scoped to this store directory): a blob file
   * whose (device, inode, size, mtime, ctime) is the one recorded when an
   * earlier process hashed it is not read again. See README.md "Verification".
   */
  readonly verifiedIndex?: StatIndex;
}

export type MaterializeMode = 'hardlink' | 'copy';

/**
 * The CAS file a hard-linked materialization shares its inode with, as it
 * was when its content was last verified: a process that writes to its
 * input writes into this file, which input-check.ts detects after the run
 * by comparing the inode against this.
 */
export interface LinkedSource {
  /** The CAS file (`cas/ab/<hash>`, or its `.x` twin). */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
}

export interface MaterializeOptions {
  readonly executable: boolean;
  /**
   * `hardlink`: link the CAS file (read-only: 0444, or 0555 when executable),
   * falling back to a read-only copy when the file system refuses (another
   * device, no hard links, too many links). `copy`: a private, writable copy
   * (0644 / 0755).
   */
  readonly mode: MaterializeMode;
  /**
   * Called, before the promise resolves, when the file was hard-linked (not
   * when it was copied): the destination is then another name for a store
   * file, and whoever runs a process on it should check it afterwards
   * (see checkLinkedInputs).
   */
  readonly onLinked?: (source: LinkedSource) => void;
}

/** Counters since the store was created; for logs and run summaries. */
export interface LocalStoreStats {
  readonly blobHits: number;
  readonly blobMisses: number;
  readonly blobsWritten: number;
  readonly bytesWritten: number;
  /** Blobs (and action cache entries) whose content did not match their digest; each was deleted. */
  readonly corruptBlobs: number;
  readonly hardlinks: number;
  readonly copies: number;
  readonly acHits: number;
  readonly acMisses: number;
  /** Action cache entries found but ignored because an output blob was missing. */
  readonly acIncomplete: number;
}

export interface LocalStore extends BlobStore, ActionCache {
  readonly dir: string;
  /**
   * Returns the cached result only when every blob it references is in the
   * CAS and intact (checked as by findMissing: hashed once per process):
   * output files, stdout/stderr, output directory trees and every file
   * inside them. An entry whose outputs were evicted or damaged is a miss,
   * so callers never get a result they cannot materialize, nor a wrong one.
   */
  getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined>;
  /** Copies a file into the CAS, hashing while copying (one read, streaming); returns its digest. */
  putFile(path: string, signal?: AbortSignal): Promise<Digest>;
  /**
   * Creates `destPath` (which must not exist; its directory must) with the
   * blob's content. Returns how, or undefined when the blob is absent (or was
   * found corrupt, or evicted meanwhile).
   */
  materializeFile(
    digest: Digest,
    destPath: string,
    options: MaterializeOptions,
    signal?: AbortSignal,
  ): Promise<MaterializeMode | undefined>;
  stats(): LocalStoreStats;
  /**
   * Ends a period (a daemon's run) of the in-memory verifications: forgets
   * those none of the last `idlePeriods` periods used (0 forgets nothing),
   * which are checked again on their next use. Returns how many it forgot.
   */
  forgetIdle(idlePeriods: number): number;
  /** Waits for operations in flight; later calls fail. Streams already returned by get() keep working. */
  close(): Promise<void>;
}

export function createLocalStore(options: LocalStoreOptions): LocalStore {
  return new DiskStore(options);
}

const DEFAULT_GET_BYTES_LIMIT = 64 * 1024 * 1024;
/** Unverified blobs up to this size are read and checked before get() returns, so corruption is a miss rather than a stream error. */
const EAGER_VERIFY_MAX = 1024 * 1024;
const STAT_CONCURRENCY = 32;
/** Bound on remembered verifications; past it the least recently used are forgotten (and re-verified on next use). */
const VERIFIED_MAX = 500_000;
const AC_ENTRY_MAX = 64 * 1024 * 1024;
const LINK_FALLBACK_CODES = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EACCES']);
const HASH_BUFFER = 1024 * 1024;
/** findMissing and put verify blobs up to this size with synchronous reads (see #has). */
const SYNC_VERIFY_MAX = 64 * 1024;
/** Blobs and action cache entries up to this size are written with synchronous calls (#writeSmallSync). */
const SYNC_WRITE_MAX = 64 * 1024;

type MutableStats = { -readonly [K in keyof LocalStoreStats]: LocalStoreStats[K] };

/** What we know of a file without reading it; fs.Stats is one. */
interface FileId {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly mode: number;
}

/** What the persisted index keys a blob file by: ctime too, which no one can set back (a write restoring the mtime moves it). */
function persistedIdentity(st: FileId): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Identity of a file's current content as far as we can tell without reading it. */
function identity(st: FileId): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * A write stream on a temp file that exists once this resolves. A stream that
 * opens its file itself may create it after a failed pipeline has already
 * removed it (the open still in flight when the source errors), leaving a
 * stray file in tmp/; opening first makes the cleanup by path final.
 */
async function createdWriteStream(tmp: string): Promise<Writable> {
  const handle = await open(tmp, 'wx', 0o444);
  return handle.createWriteStream();
}

function isEmpty(d: Digest): boolean {
  return d.sizeBytes === 0 && d.hash === EMPTY_DIGEST.hash;
}

function emptyStream(): Readable {
  return Readable.from([], { objectMode: false });
}

/**
 * Hashes an open file of known size. The buffer is sized to the file (up to
 * HASH_BUFFER): most blobs are small, and a megabyte allocated per blob made
 * verifying a cold run's thousands of blobs cost more in allocation and GC
 * than in reading. Reads stop at `size` (the caller checked it with fstat);
 * whatever follows is for the caller's size check, not the hash.
 */
async function hashHandle(fh: FileHandle, size: number): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(HASH_BUFFER, size)));
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest('hex');
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

/** A fresh temp file name in the store's tmp/ directory. */
function tmpFileIn(tmpDir: string): string {
  return join(tmpDir, `${randomBytes(12).toString('hex')}.tmp`);
}

async function rmQuiet(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}

class DiskStore implements LocalStore {
  readonly dir: string;
  readonly #log: Logger;
  readonly #getBytesLimit: number;
  /** path → identity() of the file when its content was last checked against its name. */
  readonly #verified = new BoundedCache<string, string>(VERIFIED_MAX);
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #stats: MutableStats = {
    blobHits: 0,
    blobMisses: 0,
    blobsWritten: 0,
    bytesWritten: 0,
    corruptBlobs: 0,
    hardlinks: 0,
    copies: 0,
    acHits: 0,
    acMisses: 0,
    acIncomplete: 0,
  };
  #closed = false;
  #tmpReady = false;

  readonly #persisted: StatIndex | undefined;
  /** `<dir>/cas/`: only blob files go in the persisted index. */
  readonly #casPrefix: string;

  constructor(options: LocalStoreOptions) {
    this.dir = options.dir;
    this.#persisted = options.verifiedIndex;
    this.#casPrefix = join(options.dir, 'cas') + sep;
    this.#log = options.logger ?? nullLogger;
    this.#getBytesLimit = options.getBytesLimit ?? DEFAULT_GET_BYTES_LIMIT;
  }

  // ---- BlobStore ----------------------------------------------------------

  findMissing(digests: readonly Digest[], signal?: AbortSignal): Promise<Digest[]> {
    return this.#run(signal, async () => {
      const unique = new Map<string, Digest>();
      for (const d of digests) {
        checkDigest(d);
        unique.set(digestString(d), d);
      }
      const list = [...unique.values()];
      const present = await mapLimit(list, STAT_CONCURRENCY, (d) => this.#has(d), signal);
      return list.filter((_, i) => !present[i]);
    });
  }

  get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined> {
    return this.#run(signal, async () => {
      checkDigest(digest);
      if (isEmpty(digest)) return this.#withSignal(emptyStream(), signal);
      const path = casPath(this.dir, digest);
      const opened = await this.#openBlob(path, digest);
      if (opened === undefined) {
        this.#stats.blobMisses++;
        return undefined;
      }
      const { fh, st } = opened;
      let stream: Readable;
      try {
        if (this.#isVerified(path, st)) {
          stream = fh.createReadStream({ start: 0 });
        } else if (digest.sizeBytes <= EAGER_VERIFY_MAX) {
          const bytes = await fh.readFile();
          await fh.close();
          if (!(await this.#checkBytes(path, st, digest, bytes))) {
            this.#stats.blobMisses++;
            return undefined;
          }
          stream = Readable.from([bytes], { objectMode: false });
        } else {
          // Too large to check before returning: check while streaming. A
          // mismatch errors the stream at its end and deletes the blob.
          const verifier = new DigestVerifier(digest, `blob ${digestString(digest)} in the local store`, {
            onVerified: () => this.#markVerified(path, st),
            onMismatch: () => this.#discardCorrupt(path, st, `${path} does not match its digest ${digestString(digest)}`, digest),
          });
          const raw = fh.createReadStream({ start: 0 });
          raw.pipe(verifier);
          raw.on('error', (e) => verifier.destroy(e));
          verifier.on('close', () => raw.destroy());
          stream = verifier;
        }
      } catch (e) {
        await fh.close().catch(() => undefined);
        throw storeIoError(e, `reading ${path}`);
      }
      this.#stats.blobHits++;
      return this.#withSignal(stream, signal);
    });
  }

  getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return this.#run(signal, async () => {
      checkDigest(digest);
      if (digest.sizeBytes > this.#getBytesLimit) {
        throw new FailureError(
          failure('internal', 'blob-too-large', `blob ${digestString(digest)} is larger than ${this.#getBytesLimit} bytes; stream it with get()`),
        );
      }
      if (isEmpty(digest)) return new Uint8Array(0);
      const path = casPath(this.dir, digest);
      const opened = await this.#openBlob(path, digest);
      if (opened === undefined) {
        this.#stats.blobMisses++;
        return undefined;
      }
      let bytes: Buffer;
      try {
        bytes = await opened.fh.readFile();
      } catch (e) {
        throw storeIoError(e, `reading ${path}`);
      } finally {
        await opened.fh.close().catch(() => undefined);
      }
      if (!this.#isVerified(path, opened.st) || bytes.length !== digest.sizeBytes) {
        if (!(await this.#checkBytes(path, opened.st, digest, bytes))) {
          this.#stats.blobMisses++;
          return undefined;
        }
      }
      this.#stats.blobHits++;
      return bytes;
    });
  }

  put(digest: Digest, data: Readable | Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#run(signal, async () => {
      checkDigest(digest);
      const what = `blob put as ${digestString(digest)}`;
      if (data instanceof Uint8Array) {
        const hash = createHash('sha256').update(data).digest('hex');
        if (hash !== digest.hash || data.byteLength !== digest.sizeBytes) {
          throw digestMismatch(digest, { hash, sizeBytes: data.byteLength }, what);
        }
        if (isEmpty(digest) || (await this.#has(digest))) return;
        if (data.byteLength <= SYNC_WRITE_MAX) {
          this.#writeSmallSync(data, casPath(this.dir, digest), `writing ${what}`);
          this.#wrote(digest);
          return;
        }
        const tmp = await this.#tmpPath();
        try {
          await writeFile(tmp, data, { flag: 'wx', mode: 0o444 });
          await this.#commit(tmp, casPath(this.dir, digest));
        } catch (e) {
          await rmQuiet(tmp);
          throw storeIoError(e, `writing ${what}`);
        }
        this.#wrote(digest);
        return;
      }
      if (isEmpty(digest)) {
        // Nothing to store, but the claim "this stream is empty" is still checked.
        await pipeline(data, new DigestVerifier(digest, what), discard(), { signal });
        return;
      }
      if (await this.#has(digest)) {
        // Another writer got there first; reading the rest would be wasted I/O (as in REAPI's ByteStream.Write).
        data.destroy();
        return;
      }
      const tmp = await this.#tmpPath();
      try {
        await pipeline(data, new DigestVerifier(digest, what), await createdWriteStream(tmp), { signal });
        await this.#commit(tmp, casPath(this.dir, digest));
      } catch (e) {
        await rmQuiet(tmp);
        throw storeIoError(e, `writing ${what}`);
      }
      this.#wrote(digest);
    });
  }

  // ---- LocalStore ---------------------------------------------------------

  putFile(path: string, signal?: AbortSignal): Promise<Digest> {
    return this.#run(signal, async () => {
      const tmp = await this.#tmpPath();
      const hash = createHash('sha256');
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback): void {
          hash.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      try {
        // The temp file first: a source made before it could fail to open (ENOENT) while
        // this awaited, emitting 'error' before pipeline listened (an uncaught exception).
        const out = await createdWriteStream(tmp);
        await pipeline(createReadStream(path), tap, out, { signal });
      } catch (e) {
        await rmQuiet(tmp);
        throw storeIoError(e, `copying ${path} into the store`);
      }
      // The digest is of exactly the bytes copied, even if the source changed meanwhile.
      const digest: Digest = { hash: hash.digest('hex') as Sha256Hex, sizeBytes: size };
      if (isEmpty(digest) || (await this.#has(digest))) {
        await rmQuiet(tmp);
        return digest;
      }
      const dest = casPath(this.dir, digest);
      try {
        await this.#commit(tmp, dest);
        this.#markVerified(dest, await stat(dest));
      } catch (e) {
        await rmQuiet(tmp);
        throw storeIoError(e, `storing ${path}`);
      }
      this.#wrote(digest);
      return digest;
    });
  }

  materializeFile(
    digest: Digest,
    destPath: string,
    options: MaterializeOptions,
    signal?: AbortSignal,
  ): Promise<MaterializeMode | undefined> {
    return this.#run(signal, async () => {
      checkDigest(digest);
      const { executable, mode } = options;
      const readOnlyMode = executable ? 0o555 : 0o444;
      try {
        if (isEmpty(digest)) {
          await writeFile(destPath, new Uint8Array(0), { flag: 'wx' });
          await chmod(destPath, mode === 'copy' ? (executable ? 0o755 : 0o644) : readOnlyMode);
          this.#stats.copies++;
          return 'copy';
        }
        const trusted = await this.#trustedSource(digest, executable);
        if (trusted === undefined) {
          this.#stats.blobMisses++;
          return undefined;
        }
        this.#stats.blobHits++;
        const source = trusted.path;
        if (mode === 'hardlink') {
          try {
            await link(source, destPath);
            this.#stats.hardlinks++;
            const { dev, ino, size, mtimeMs, mode: fileMode } = trusted.st;
            options.onLinked?.({ path: source, dev, ino, size, mtimeMs, mode: fileMode });
            return 'hardlink';
          } catch (e) {
            const code = errnoCode(e);
            if (code === 'ENOENT' && !(await this.#exists(source))) return undefined; // evicted meanwhile
            if (code === undefined || !LINK_FALLBACK_CODES.has(code)) throw e;
            this.#log.debug(`local store: cannot hard-link ${source} to ${destPath} (${code}); copying`);
          }
        }
        try {
          await copyFile(source, destPath, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        } catch (e) {
          if (errnoCode(e) === 'ENOENT' && !(await this.#exists(source))) return undefined;
          throw e;
        }
        await chmod(destPath, mode === 'copy' ? (executable ? 0o755 : 0o644) : readOnlyMode);
        this.#stats.copies++;
        return 'copy';
      } catch (e) {
        throw storeIoError(e, `materializing ${digestString(digest)} at ${destPath}`);
      }
    });
  }

  stats(): LocalStoreStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
  }

  // ---- ActionCache --------------------------------------------------------

  getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined> {
    return this.#run(signal, async () => {
      checkDigest(actionDigest);
      const result = await this.#readActionResult(actionDigest);
      if (result === undefined) {
        this.#stats.acMisses++;
        return undefined;
      }
      const refs = await this.#referencedBlobs(result, signal);
      const missing = refs === undefined ? undefined : await this.findMissing(refs, signal);
      if (missing === undefined || missing.length > 0) {
        this.#log.debug(
          `local store: action cache entry ${digestString(actionDigest)} ignored: ${missing === undefined ? 'an output tree is missing or malformed' : `${missing.length} output blob(s) missing`}`,
        );
        this.#stats.acIncomplete++;
        this.#stats.acMisses++;
        return undefined;
      }
      this.#stats.acHits++;
      return result;
    });
  }

  updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal): Promise<void> {
    return this.#run(signal, async () => {
      checkDigest(actionDigest);
      const framed = frameActionResult(encodeCanonical(ActionResultSchema, result));
      if (framed.byteLength <= SYNC_WRITE_MAX) {
        this.#writeSmallSync(framed, acPath(this.dir, actionDigest), `writing the action cache entry for ${digestString(actionDigest)}`);
        return;
      }
      const tmp = await this.#tmpPath();
      try {
        await writeFile(tmp, framed, { flag: 'wx', mode: 0o444 });
        await this.#commit(tmp, acPath(this.dir, actionDigest));
      } catch (e) {
        await rmQuiet(tmp);
        throw storeIoError(e, `writing the action cache entry for ${digestString(actionDigest)}`);
      }
    });
  }

  // ---- internals ----------------------------------------------------------

  /** Runs one public operation: refuses after close(), honours an already-aborted signal, and is awaited by close(). */
  #run<T>(signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new FailureError(failure('internal', 'store-closed', `the local store at ${this.dir} is closed`)));
    }
    if (signal?.aborted) return Promise.reject(abortError());
    const p = op();
    this.#inflight.add(p);
    const done = (): void => void this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  #withSignal(stream: Readable, signal: AbortSignal | undefined): Readable {
    return signal === undefined ? stream : addAbortSignal(signal, stream);
  }

  async #tmpPath(): Promise<string> {
    const tmpDir = join(this.dir, TMP_DIR);
    if (!this.#tmpReady) {
      try {
        await mkdir(tmpDir, { recursive: true });
      } catch (e) {
        throw storeIoError(e, `creating ${tmpDir}`);
      }
      this.#tmpReady = true;
    }
    return tmpFileIn(tmpDir);
  }

  /**
   * Writes a small blob or action cache entry as #tmpPath and #commit do (a
   * temp file renamed into place), with synchronous calls: as with #has's
   * stat, four thread-pool round trips (open, write, close, rename) cost
   * more than the calls themselves for a few hundred bytes. A step of a
   * chain of remote actions has the server store ~8 such blobs per action
   * and the client one action cache entry.
   */
  #writeSmallSync(data: Uint8Array, dest: string, what: string): void {
    const tmpDir = join(this.dir, TMP_DIR);
    const tmp = tmpFileIn(tmpDir);
    try {
      if (!this.#tmpReady) {
        mkdirSync(tmpDir, { recursive: true });
        this.#tmpReady = true;
      }
      try {
        writeFileSync(tmp, data, { flag: 'wx', mode: 0o444 });
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        // tmp/ was removed under us (the store wiped while open): make it again, once.
        mkdirSync(tmpDir, { recursive: true });
        writeFileSync(tmp, data, { flag: 'wx', mode: 0o444 });
      }
      try {
        renameSync(tmp, dest);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        // Fan-out directories are created on first use, as #commit does.
        mkdirSync(dirname(dest), { recursive: true });
        renameSync(tmp, dest);
      }
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // Best effort, as rmQuiet: the write's own error is the one to report.
      }
      if (errnoCode(e) === 'ENOENT') this.#tmpReady = false;
      throw storeIoError(e, what);
    }
  }

  /**
   * Moves a complete temp file into place. rename() is atomic: readers see
   * the old file or the new one, never a partial one, and concurrent writers
   * of the same blob simply replace identical content.
   */
  async #commit(tmp: string, dest: string): Promise<void> {
    try {
      await rename(tmp, dest);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      // Fan-out directories are created on first use (or again, if the store was wiped under us).
      await mkdir(dirname(dest), { recursive: true });
      try {
        await rename(tmp, dest);
      } catch (e2) {
        if (errnoCode(e2) === 'ENOENT') this.#tmpReady = false;
        throw e2;
      }
    }
  }

  #wrote(d: Digest): void {
    this.#stats.blobsWritten++;
    this.#stats.bytesWritten += d.sizeBytes;
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Present and intact: the right size, and content that matches the digest
   * (hashed once per process per file identity, like every read; a corrupt
   * file is deleted and reported absent, so findMissing and put repair it
   * instead of trusting it). Refreshes its LRU time.
   */
  async #has(d: Digest): Promise<boolean> {
    if (isEmpty(d)) return true;
    const path = casPath(this.dir, d);
    let st: Stats | undefined;
    try {
      // Synchronous on purpose: a stat of a local file takes microseconds, while
      // the thread-pool round trip of the async one costs ten times that, and a
      // fully cached run of 400 processes asks this thousands of times.
      st = statSync(path, { throwIfNoEntry: false });
    } catch (e) {
      if (errnoCode(e) === 'ENOTDIR') return false;
      throw storeIoError(e, `checking ${path}`);
    }
    if (st === undefined || st.size !== d.sizeBytes) return false;
    if (this.#isVerified(path, st)) {
      await this.#touch(path, st);
      return true;
    }
    if (d.sizeBytes > SYNC_VERIFY_MAX) return (await this.#verifyFile(path, d)) !== undefined;
    // Small (sources, Directories, most outputs): read synchronously, as the
    // stat above. A cold run checks thousands; four thread-pool round trips
    // each (open, fstat, read, close) cost more CPU than the hashing.
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
      throw storeIoError(e, `reading ${path}`);
    }
    if (!(await this.#checkBytes(path, st, d, bytes))) return false;
    await this.#touch(path, st);
    return true;
  }

  /**
   * Opens a blob file and checks its size. The open descriptor keeps the
   * content readable even if a GC in another process unlinks the file now.
   */
  async #openBlob(path: string, d: Digest): Promise<{ fh: FileHandle; st: FileId } | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw storeIoError(e, `opening ${path}`);
    }
    try {
      const st = await fh.stat();
      if (st.size !== d.sizeBytes) {
        await fh.close();
        return undefined;
      }
      return { fh, st: await this.#touch(path, st, fh) };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw storeIoError(e, `opening ${path}`);
    }
  }

  /**
   * Moves the file's mtime to now if it is older than TOUCH_INTERVAL_MS, or
   * than the touch floor (a GC is running: see leases.ts). The GC evicts by
   * mtime: atime is unreliable (noatime/relatime mounts), and a separate
   * access log would need locking across processes; utimes on one file is
   * atomic and needs neither. To the millisecond, read back: a GC compares
   * the mtime with the one it scanned and must see it move forward. Returns
   * the stats as they now are.
   */
  async #touch(path: string, st: FileId, fh?: FileHandle): Promise<FileId> {
    const now = Date.now();
    if (now - st.mtimeMs < TOUCH_INTERVAL_MS && st.mtimeMs >= touchFloor(this.dir)) return st;
    let touched: FileId;
    try {
      // Synchronous, as the stat in #has: a run on a store restored by CI
      // (every mtime old) touches every blob and entry it uses, and two
      // thread-pool round trips each cost more than the system calls.
      if (fh) {
        futimesSync(fh.fd, now / 1000, now / 1000);
        touched = fstatSync(fh.fd);
      } else {
        utimesSync(path, now / 1000, now / 1000);
        touched = statSync(path);
      }
    } catch {
      return st; // e.g. a store shared read-only: LRU order is best-effort
    }
    // Our own touch does not change the content we checked; a write in between would have moved the mtime off ours.
    const ours = touched.ino === st.ino && touched.dev === st.dev && touched.size === st.size && Math.abs(touched.mtimeMs - now) < 1;
    if (ours && this.#isVerified(path, st)) this.#markVerified(path, touched);
    return touched;
  }

  #isVerified(path: string, st: FileId): boolean {
    if (this.#verified.get(path) === identity(st)) return true;
    const p = this.#persistedKey(path);
    if (p === undefined || this.#persisted!.lookup(p.rel, persistedIdentity(st)) !== p.hash) return false;
    this.#remember(path, st);
    return true;
  }

  /** A blob file's path in the persisted index (relative to the store) and the hash its name claims. */
  #persistedKey(path: string): { rel: string; hash: Sha256Hex } | undefined {
    if (this.#persisted === undefined || !path.startsWith(this.#casPrefix)) return undefined;
    const rel = path.slice(this.#casPrefix.length);
    const name = rel.slice(rel.lastIndexOf(sep) + 1);
    // casPath() built it from a checked digest: the name is the hash (and `.x` for the executable copy).
    return { rel, hash: (name.length === 66 ? name.slice(0, 64) : name) as Sha256Hex };
  }

  #markVerified(path: string, st: FileId): void {
    this.#remember(path, st);
    const p = this.#persistedKey(path);
    if (p !== undefined) this.#persisted!.record(p.rel, persistedIdentity(st), p.hash, BigInt(Math.floor(Math.max(st.mtimeMs, st.ctimeMs) * 1000)) * 1000n);
  }

  #remember(path: string, st: FileId): void {
    this.#verified.set(path, identity(st));
  }

  forgetIdle(idlePeriods: number): number {
    const n = this.#verified.forgetIdle(idlePeriods);
    this.#verified.tick();
    return n;
  }

  async #checkBytes(path: string, st: FileId, d: Digest, bytes: Uint8Array): Promise<boolean> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (hash === d.hash && bytes.byteLength === d.sizeBytes) {
      this.#markVerified(path, st);
      return true;
    }
    await this.#discardCorrupt(path, st, `${path} does not match its digest ${digestString(d)}`, d);
    return false;
  }

  /**
   * Deletes a file whose content does not match its name — but only if it is
   * still the inode we read: another process may have replaced it with a
   * good copy in the meantime.
   */
  async #discardCorrupt(path: string, st: FileId, why: string, blob?: Digest): Promise<void> {
    this.#stats.corruptBlobs++;
    this.#verified.delete(path);
    const p = this.#persistedKey(path);
    if (p !== undefined) this.#persisted!.forget(p.rel);
    if (blob !== undefined) noteDamage(this.dir, blob, 'corrupt');
    this.#log.warn(`local store: ${why}; deleting it`);
    try {
      const now = await lstat(path);
      if (now.ino === st.ino && now.dev === st.dev) await rm(path, { force: true });
    } catch {
      // already gone
    }
  }

  /**
   * Checks a blob file against its digest, once per process (per inode and
   * mtime). Returns the file as verified, or undefined when it is absent or
   * was corrupt (and is now deleted).
   */
  async #verifyFile(path: string, d: Digest): Promise<FileId | undefined> {
    // Verified already (same inode, size and mtime): one synchronous stat says
    // so, where open, fstat and close were three thread-pool round trips, for
    // every input of every sandbox.
    let known: Stats | undefined;
    try {
      known = statSync(path, { throwIfNoEntry: false });
    } catch {
      known = undefined; // the full path below says what is wrong
    }
    if (known !== undefined && known.size === d.sizeBytes && this.#isVerified(path, known)) return this.#touch(path, known);
    const opened = await this.#openBlob(path, d);
    if (opened === undefined) return undefined;
    const { fh, st } = opened;
    try {
      if (this.#isVerified(path, st)) return st;
      const hash = await hashHandle(fh, d.sizeBytes);
      if (hash === d.hash) {
        this.#markVerified(path, st);
        return st;
      }
    } catch (e) {
      throw storeIoError(e, `reading ${path}`);
    } finally {
      await fh.close().catch(() => undefined);
    }
    await this.#discardCorrupt(path, st, `${path} does not match its digest ${digestString(d)}`, d);
    return undefined;
  }

  /** The CAS file to link or copy from: verified, and with the right mode for a hard link. */
  async #trustedSource(d: Digest, executable: boolean): Promise<{ path: string; st: FileId } | undefined> {
    const plain = casPath(this.dir, d);
    if (!executable) {
      const st = await this.#verifyFile(plain, d);
      return st === undefined ? undefined : { path: plain, st };
    }
    const x = casExecutablePath(this.dir, d);
    const xst = await this.#verifyFile(x, d);
    if (xst !== undefined) return { path: x, st: xst };
    if ((await this.#verifyFile(plain, d)) === undefined) return undefined;
    const tmp = await this.#tmpPath();
    try {
      await copyFile(plain, tmp, constants.COPYFILE_FICLONE);
      await chmod(tmp, 0o555);
      await this.#commit(tmp, x);
    } catch (e) {
      await rmQuiet(tmp);
      if (errnoCode(e) === 'ENOENT' && !(await this.#exists(plain))) return undefined;
      throw e;
    }
    // Hashed rather than trusted: the plain file may have changed between its check and the copy.
    const st = await this.#verifyFile(x, d);
    return st === undefined ? undefined : { path: x, st };
  }

  async #readActionResult(actionDigest: Digest): Promise<ActionResult | undefined> {
    const path = acPath(this.dir, actionDigest);
    // Synchronous, as in #has: an entry is a few hundred bytes, and the four
    // thread-pool round trips of open, fstat, read and close cost a fully
    // cached run of 400 processes more than the reads themselves. The open
    // descriptor still keeps the content readable if a GC unlinks the file.
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw storeIoError(e, `opening ${path}`);
    }
    let opened: Stats;
    let bytes: Buffer | undefined;
    try {
      opened = fstatSync(fd);
      if (opened.size <= AC_ENTRY_MAX) bytes = readFileSync(fd);
    } catch (e) {
      throw storeIoError(e, `reading ${path}`);
    } finally {
      try {
        closeSync(fd);
      } catch {
        // nothing was written through it
      }
    }
    const st = await this.#touch(path, opened);
    const payload = bytes === undefined ? undefined : unframeActionResult(bytes);
    const decoded = payload === undefined ? undefined : decodeMessage(ActionResultSchema, payload);
    if (decoded === undefined || !decoded.ok) {
      await this.#discardCorrupt(path, st, `action cache entry ${path} is damaged`);
      return undefined;
    }
    return decoded.value;
  }

  /** Every CAS blob a result needs, or undefined if an output tree cannot be read. */
  async #referencedBlobs(result: ActionResult, signal?: AbortSignal): Promise<Digest[] | undefined> {
    const out: Digest[] = [];
    const add = (p: ProtoDigest | undefined, what: string): Digest | undefined => {
      const r = fromProtoDigest(p, what);
      if (!r.ok) return undefined;
      out.push(r.value);
      return r.value;
    };
    for (const f of result.outputFiles) if (add(f.digest, `output file ${f.path}`) === undefined) return undefined;
    if (result.stdoutDigest !== undefined && add(result.stdoutDigest, 'stdout') === undefined) return undefined;
    if (result.stderrDigest !== undefined && add(result.stderrDigest, 'stderr') === undefined) return undefined;
    const addFiles = (dir: Directory): boolean => dir.files.every((f) => add(f.digest, f.name) !== undefined);
    for (const od of result.outputDirectories) {
      if (od.treeDigest === undefined && od.rootDirectoryDigest === undefined) return undefined;
      if (od.treeDigest !== undefined) {
        const d = add(od.treeDigest, `tree of ${od.path}`);
        if (d === undefined) return undefined;
        // A tree too large to load is only checked for presence.
        if (d.sizeBytes > this.#getBytesLimit) continue;
        const bytes = await this.getBytes(d, signal);
        if (bytes === undefined) return undefined;
        const tree = decodeMessage(TreeSchema, bytes);
        if (!tree.ok) return undefined;
        for (const dir of [...(tree.value.root ? [tree.value.root] : []), ...tree.value.children]) {
          if (!addFiles(dir)) return undefined;
        }
      }
      if (od.rootDirectoryDigest !== undefined) {
        const root = add(od.rootDirectoryDigest, `root directory of ${od.path}`);
        if (root === undefined) return undefined;
        const seen = new Set<string>();
        const queue = [root];
        for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
          if (seen.has(d.hash)) continue;
          seen.add(d.hash);
          if (d.sizeBytes > this.#getBytesLimit) return undefined;
          const bytes = await this.getBytes(d, signal);
          if (bytes === undefined) return undefined;
          const dir = decodeMessage(DirectorySchema, bytes);
          if (!dir.ok || !addFiles(dir.value)) return undefined;
          for (const child of dir.value.directories) {
            const cd = add(child.digest, child.name);
            if (cd === undefined) return undefined;
            queue.push(cd);
          }
        }
      }
    }
    return out;
  }
}
