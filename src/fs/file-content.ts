import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { linkFailure } from './link-failure.js';
import { realPathOf } from './real-path.js';
import { firstInvalidUtf8 } from './utf8.js';
import { DEFAULT_TEXT_FILE_MAX_BYTES, type Workspace } from './workspace.js';

/**
 * How strictly to decode: a BUILD file must be UTF-8 (an invalid byte is an
 * error at its offset, never a silent U+FFFD that changes a name or a path);
 * a `.gitignore` is bytes to git, so it is decoded leniently.
 */
export type TextMode = 'utf8-strict' | 'utf8-lenient';

/**
 * The text of a small file (BUILD files, .gitignore), or null when there is no
 * regular file. Follows symlinks inside the build root; one that leads out of
 * it or loops is a failure naming it. The bytes are read by a key at the real
 * path, so an edit through any name reaches every path that leads to the file.
 */
export class FileTextKey implements Key<string | null> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #path: string;
  readonly #mode: TextMode;
  constructor(ws: Workspace, path: string, mode: TextMode = 'utf8-lenient') {
    this.#ws = ws;
    this.#path = path;
    this.#mode = mode;
    this.id = `file-text:${mode}:${path}`;
  }
  describe(): string {
    return `contents of ${this.#path}`;
  }
  /**
   * The path is resolved here (its directory's real path and listing, shared
   * with its siblings), the bytes are read by a node at the real path. A
   * sibling coming or going recomputes this node only, which cuts off.
   */
  async compute(ctx: ComputeContext): Promise<string | null> {
    const real = await realPathOf(ctx, this.#ws, this.#path);
    if (real.type === 'outside' || real.type === 'loop') raise(linkFailure(real));
    if (real.type === 'missing' || real.kind !== 'file') return null;
    return ctx.get(new RealFileTextKey(this.#ws, real.path, this.#path, this.#mode));
  }
}

/** Flags that never block on a FIFO and never follow a symlink swapped in after the path was resolved. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The text of the file at a real path: a file-system key. */
export class RealFileTextKey implements Key<string | null> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  /** The path as asked for, which messages name. */
  readonly #shown: string;
  readonly #mode: TextMode;
  constructor(ws: Workspace, path: string, shown: string, mode: TextMode) {
    this.#ws = ws;
    this.path = path;
    this.#shown = shown;
    this.#mode = mode;
    // The shown name is in the id: it is in the failures this node memoizes.
    this.id = `real-file-text:${mode}:${path}${shown === path ? '' : `:${shown}`}`;
  }
  describe(): string {
    return `contents of ${this.path}`;
  }
  async compute(): Promise<string | null> {
    const max = this.#ws.rules.textFileMaxBytes ?? DEFAULT_TEXT_FILE_MAX_BYTES;
    let bytes: Buffer;
    try {
      const handle = await open(join(this.#ws.root, this.path), OPEN_FLAGS);
      try {
        const st = await handle.stat();
        // Changed since it was resolved (now a FIFO, a directory…): its event will ask again.
        if (!st.isFile()) return null;
        if (st.size > max) raise(tooLarge(this.#shown, st.size, max));
        // Read at most one byte more than allowed, so a file growing meanwhile cannot make us read it all.
        bytes = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
        let n = 0;
        for (;;) {
          const { bytesRead } = await handle.read(bytes, n, bytes.length - n, n);
          if (bytesRead === 0) break;
          n += bytesRead;
          if (n === bytes.length) break;
        }
        if (n > max) raise(tooLarge(this.#shown, n, max));
        bytes = bytes.subarray(0, n);
      } finally {
        await handle.close();
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') return null;
      if (code === undefined) throw e;
      raise(failure('environment', 'fs-read', `cannot read ${this.#shown}: ${(e as Error).message}`));
    }
    if (this.#mode === 'utf8-strict' && !isUtf8(bytes)) raise(notUtf8(this.#shown, bytes));
    return bytes.toString('utf8');
  }
}

function tooLarge(path: string, size: number, max: number): ReturnType<typeof failure> {
  return failure('input', 'file-too-large', `this file is ${formatBytes(size)}; trews reads BUILD and .gitignore files of at most ${formatBytes(max)}`, {
    location: { file: path },
    hints: ['if it is meant to be this large, raise `build_file_max_size` in the [GLOBAL] section of trews.toml (or pass --build-file-max-size)'],
  });
}

function notUtf8(path: string, bytes: Buffer): ReturnType<typeof failure> {
  const offset = firstInvalidUtf8(bytes);
  const lineStart = bytes.lastIndexOf(0x0a, offset - 1) + 1;
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  const lineEnd = bytes.indexOf(0x0a, offset);
  const before = bytes.subarray(lineStart, offset).toString('utf8');
  const lineText = bytes.subarray(lineStart, lineEnd < 0 ? bytes.length : lineEnd).toString('utf8');
  return failure('input', 'build-not-utf8', `not valid UTF-8: byte 0x${bytes[offset]!.toString(16).padStart(2, '0')} at offset ${offset}`, {
    location: { file: path, line, col: before.length + 1, lineText, length: 1 },
    hints: ['BUILD files are read as UTF-8: save it in that encoding'],
  });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
