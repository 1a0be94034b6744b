import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest, Logger } from '../../core/index.js';

/**
 * One ByteStream upload in progress: its bytes so far in a file of their
 * own, and the SHA-256 state over exactly those bytes, so a Write resumed
 * after a broken connection continues where QueryWriteStatus said it stood
 * without re-reading anything.
 */
export interface UploadSession {
  readonly name: string;
  readonly digest: Digest;
  readonly path: string;
  committed: number;
  hash: Hash;
  fh: FileHandle | undefined;
  /** The Write currently feeding it; a newer Write of the same resource takes over. */
  owner: symbol | undefined;
  lastUsed: number;
  /** Serializes the file operations of competing Writes (see `exclusive`). */
  queue: Promise<unknown>;
}

/** Partial uploads untouched for this long are deleted (the client has given up). */
const IDLE_MS = 60 * 60 * 1000;
/** Remembered finished uploads, for QueryWriteStatus after the fact. */
const FINISHED_MAX = 10_000;
const SWEEP_MS = 5 * 60 * 1000;

/**
 * The resumable uploads of one server, keyed by resource name (which holds
 * the client's uuid and the digest). Partial data lives under `dir`, never in
 * the store: a blob enters the CAS only whole and verified.
 */
export class Uploads {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #sessions = new Map<string, UploadSession>();
  /** Resource names of finished uploads, oldest first (Map order). */
  readonly #finished = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;
  #ready: Promise<void> | undefined;

  constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
    this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  get(name: string): UploadSession | undefined {
    return this.#sessions.get(name);
  }

  finishedSize(name: string): number | undefined {
    return this.#finished.get(name);
  }

  /** The session for `name`, created empty when there is none. */
  async open(name: string, digest: Digest): Promise<UploadSession> {
    const existing = this.#sessions.get(name);
    if (existing !== undefined) {
      existing.lastUsed = Date.now();
      return existing;
    }
    this.#ready ??= mkdir(this.#dir, { recursive: true }).then(() => undefined);
    await this.#ready;
    const path = join(this.#dir, `${randomBytes(12).toString('hex')}.part`);
    const session: UploadSession = {
      name,
      digest,
      path,
      committed: 0,
      hash: createHash('sha256'),
      fh: await open(path, 'w', 0o600),
      owner: undefined,
      lastUsed: Date.now(),
      queue: Promise.resolve(),
    };
    // Another Write may have created it while we awaited.
    const raced = this.#sessions.get(name);
    if (raced !== undefined) {
      await session.fh?.close();
      await rm(path, { force: true });
      return raced;
    }
    this.#sessions.set(name, session);
    return session;
  }

  /**
   * Runs `fn` after every earlier operation on the session: a Write that
   * takes over a resource must not interleave its bytes with the one it
   * replaces, which may be halfway through writing a chunk.
   */
  exclusive<T>(s: UploadSession, fn: () => Promise<T>): Promise<T> {
    const run = s.queue.then(fn, fn);
    s.queue = run.catch(() => undefined);
    return run;
  }

  /** Starts the upload over from byte 0 (a client may always restart). */
  async restart(s: UploadSession): Promise<void> {
    await s.fh?.truncate(0);
    s.committed = 0;
    s.hash = createHash('sha256');
  }

  /** Appends `data` at the end: the caller has checked its offset. */
  async append(s: UploadSession, data: Uint8Array): Promise<void> {
    if (data.byteLength === 0) return;
    s.fh ??= await open(s.path, 'r+');
    let written = 0;
    while (written < data.byteLength) {
      const { bytesWritten } = await s.fh.write(data, written, data.byteLength - written, s.committed + written);
      written += bytesWritten;
    }
    s.hash.update(data);
    s.committed += data.byteLength;
    s.lastUsed = Date.now();
  }

  /** Closes the partial file so it can be read back; returns the hash of everything committed. */
  async seal(s: UploadSession): Promise<string> {
    await s.fh?.close();
    s.fh = undefined;
    return s.hash.copy().digest('hex');
  }

  /** Forgets a session and deletes its data; `finished` remembers it as complete. */
  async discard(s: UploadSession, finished: boolean): Promise<void> {
    if (this.#sessions.get(s.name) === s) this.#sessions.delete(s.name);
    if (finished) this.markFinished(s.name, s.digest.sizeBytes);
    await s.fh?.close().catch(() => undefined);
    s.fh = undefined;
    await rm(s.path, { force: true }).catch((e: unknown) => this.#log.warn(`uploads: cannot remove ${s.path}: ${String(e)}`));
  }

  markFinished(name: string, size: number): void {
    this.#finished.delete(name);
    this.#finished.set(name, size);
    while (this.#finished.size > FINISHED_MAX) {
      const oldest = this.#finished.keys().next();
      if (oldest.done === true) break;
      this.#finished.delete(oldest.value);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.values()].map((s) => this.discard(s, false)));
  }

  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.#sessions.values()]) {
      if (s.owner === undefined && now - s.lastUsed > IDLE_MS) {
        this.#log.debug(`uploads: dropping idle partial upload ${s.name} (${s.committed} bytes)`);
        await this.discard(s, false);
      }
    }
  }
}
