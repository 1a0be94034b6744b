import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure, type Digest, type Sha256Hex } from '../core/index.js';
import type { Key } from '../engine/index.js';
import type { Workspace } from './workspace.js';

/** Files up to this size are read in one go; larger ones stream, so memory stays bounded. */
const SMALL_FILE_BYTES = 1024 * 1024;

export interface FileDigest {
  readonly digest: Digest;
  readonly isExecutable: boolean;
}

/**
 * The REAPI digest of a workspace file, streamed so large files never sit in
 * memory. A file-system key: unchanged files are never hashed twice by one engine.
 */
export class FileDigestKey implements Key<FileDigest | null> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.path = path;
    this.id = `file-digest:${path}`;
  }
  describe(): string {
    return `digest of ${this.path}`;
  }
  async compute(_ctx: unknown, signal: AbortSignal): Promise<FileDigest | null> {
    const abs = join(this.#ws.root, this.path);
    let st;
    try {
      st = await stat(abs);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const isExecutable = (st.mode & 0o111) !== 0;
    if (st.size <= SMALL_FILE_BYTES) {
      // Most sources are small: one read beats a stream's open/read/read/close
      // round trips through the thread pool by a wide margin.
      let bytes: Buffer;
      try {
        bytes = await readFile(abs, { signal });
      } catch (e) {
        if (signal.aborted) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return null;
        raise(failure('environment', 'fs-read', `cannot read ${this.path}: ${(e as Error).message}`));
      }
      return { digest: { hash: createHash('sha256').update(bytes).digest('hex') as Sha256Hex, sizeBytes: bytes.byteLength }, isExecutable };
    }
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of createReadStream(abs, { signal })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).byteLength;
      }
    } catch (e) {
      if (signal.aborted) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      raise(failure('environment', 'fs-read', `cannot read ${this.path}: ${(e as Error).message}`));
    }
    return {
      digest: { hash: hash.digest('hex') as Sha256Hex, sizeBytes: size },
      isExecutable,
    };
  }
}
