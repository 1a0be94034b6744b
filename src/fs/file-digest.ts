import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure, type Digest, type Sha256Hex } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { linkFailure } from './link-failure.js';
import { realPathOf } from './real-path.js';
import type { Workspace } from './workspace.js';

/** Files up to this size are read in one go; larger ones stream, so memory stays bounded. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** Never read through a symlink swapped in after the path was resolved. */
const NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

export interface FileDigest {
  readonly digest: Digest;
  readonly isExecutable: boolean;
}

/**
 * The REAPI digest of a workspace file (null when there is no regular file),
 * following symlinks inside the build root. The content is hashed by a key at
 * the file's real path, so an edit made through any name reaches every path
 * that leads to it; a symlink out of the root or in a loop is a failure
 * naming it, and nothing outside the root is read.
 */
export class FileDigestKey implements Key<FileDigest | null> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #path: string;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.#path = path;
    this.id = `file-digest:${path}`;
  }
  describe(): string {
    return `digest of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<FileDigest | null> {
    const real = await realPathOf(ctx, this.#ws, this.#path);
    if (real.type === 'outside' || real.type === 'loop') raise(linkFailure(real));
    if (real.type === 'missing' || real.kind !== 'file') return null;
    return ctx.get(new RealFileDigestKey(this.#ws, real.path));
  }
}

/**
 * The digest of the file at a real path (no symlink in it), streamed so large
 * files never sit in memory. A file-system key: unchanged files are never
 * hashed twice by one engine.
 */
export class RealFileDigestKey implements Key<FileDigest | null> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.path = path;
    this.id = `real-file-digest:${path}`;
  }
  describe(): string {
    return `digest of ${this.path}`;
  }
  async compute(_ctx: unknown, signal: AbortSignal): Promise<FileDigest | null> {
    const abs = join(this.#ws.root, this.path);
    const index = this.#ws.digestIndex;
    let st;
    try {
      // bigint: the persisted index compares mtime and ctime to the nanosecond.
      st = await lstat(abs, { bigint: true });
    } catch {
      index?.forget(this.path);
      return null;
    }
    // The path was real when it was resolved; if it is a symlink or anything
    // but a file now, it changed meanwhile, and its event will ask again.
    if (!st.isFile()) {
      index?.forget(this.path);
      return null;
    }
    const isExecutable = (st.mode & 0o111n) !== 0n;
    const known = index?.lookup(this.path, st);
    if (known !== undefined) return { digest: { hash: known, sizeBytes: Number(st.size) }, isExecutable };
    const digest = await this.#hash(abs, Number(st.size), signal);
    if (digest === null) {
      index?.forget(this.path);
      return null;
    }
    // Recorded under the stat taken before the read: a write during the read moves it, so the next run hashes again.
    if (digest.sizeBytes === Number(st.size)) index?.record(this.path, st, digest.hash);
    return { digest, isExecutable };
  }

  async #hash(abs: string, size: number, signal: AbortSignal): Promise<Digest | null> {
    if (size <= SMALL_FILE_BYTES) {
      // Most sources are small: one read beats a stream's open/read/read/close
      // round trips through the thread pool by a wide margin.
      let bytes: Buffer;
      try {
        bytes = await readFile(abs, { signal, flag: NO_FOLLOW });
      } catch (e) {
        if (signal.aborted) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ELOOP') return null;
        raise(failure('environment', 'fs-read', `cannot read ${this.path}: ${(e as Error).message}`));
      }
      return { hash: createHash('sha256').update(bytes).digest('hex') as Sha256Hex, sizeBytes: bytes.byteLength };
    }
    const hash = createHash('sha256');
    let read = 0;
    try {
      // The stream owns (and closes) the handle.
      const handle = await open(abs, NO_FOLLOW);
      for await (const chunk of createReadStream(abs, { fd: handle, signal })) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).byteLength;
      }
    } catch (e) {
      if (signal.aborted) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') return null;
      raise(failure('environment', 'fs-read', `cannot read ${this.path}: ${(e as Error).message}`));
    }
    return { hash: hash.digest('hex') as Sha256Hex, sizeBytes: read };
  }
}
