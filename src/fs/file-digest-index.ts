import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Logger, Sha256Hex } from '../core/index.js';
import { workDirOf } from './workspace.js';

/**
 * A persisted index of workspace file digests, as git's index keeps stat data
 * so that unchanged files are never re-read: a cold engine (`--no-daemon`,
 * CI, a daemon's first run) asks it before hashing a file. See README.md
 * "The file digest index" for the rules; in short:
 *
 * - An entry is keyed by the path and the file's (size, mtime ns, ctime ns,
 *   inode, device, mode) as `lstat` gave them before the bytes were read.
 *   ctime moves on every write, chmod, rename and `utimes`, and nobody can set
 *   it back, so an edit that restores the size and mtime is still seen.
 * - Racy-clean (git's rule, made per process): a file whose mtime or ctime is
 *   not older than RACY_MARGIN_MS before this index was opened is never
 *   recorded. A later write in the same timestamp tick as the stat we
 *   recorded would leave the stat unchanged; such a write happens after the
 *   process started, so the files we record are older than any tick it can
 *   reuse. The cost: a file changed just before a run is hashed again by the
 *   next one.
 * - Written whole to a temporary file and renamed (atomic: readers see an old
 *   or a new index, never a torn one; of two concurrent writers the last
 *   rename wins and the other's entries are hashed again next time), with a
 *   version line, a SHA-256 of the payload and the build root: anything else
 *   (truncated, garbage, another version, another root) is ignored with a
 *   debug line and rebuilt by the run.
 * - Bounded: at most MAX_ENTRIES; past it, entries this process did not use go first.
 */
export interface FileDigestIndex {
  /** The hash recorded for `path` if the file's stat is exactly the one recorded with it. */
  lookup(path: string, st: BigIntStats): Sha256Hex | undefined;
  /** Remembers the hash of `path` read after `st` was taken (ignored when `st` is racy). */
  record(path: string, st: BigIntStats, hash: Sha256Hex): void;
  /** The path is not a regular file any more. */
  forget(path: string): void;
  /** Writes the index if it changed (best effort: a failure is a debug line and a re-hash next time). */
  save(): void;
}

/**
 * The same index over any stat identity the caller makes (the local store
 * keeps the blobs it verified in one: store/README.md "Verification"). The
 * caller passes the latest of the file's mtime and ctime for the racy rule.
 */
export interface StatIndex {
  lookup(path: string, stat: string): Sha256Hex | undefined;
  record(path: string, stat: string, hash: Sha256Hex, changedAtNs: bigint): void;
  forget(path: string): void;
  save(): void;
}

export const FILE_DIGEST_INDEX_FILE = 'file-digests';
/** Covers file systems with 1 s (or FAT's 2 s) timestamps and a coarse kernel clock lagging Date.now(). */
export const RACY_MARGIN_MS = 3000;
export const MAX_ENTRIES = 250_000;
const HEX64 = /^[0-9a-f]{64}$/;

interface Entry {
  readonly stat: string;
  readonly hash: Sha256Hex;
  used: boolean;
}

function statKey(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}:${st.mode}`;
}

export interface FileDigestIndexOptions {
  readonly logger?: Logger;
  /** The clock the racy cutoff is taken from (tests move it). */
  readonly now?: () => number;
  /** The index file (default `<root>/.trews.d/file-digests`). */
  readonly file?: string;
}

/** The index of the build root at `root`, read on first use. */
export function openFileDigestIndex(root: string, options: FileDigestIndexOptions = {}): FileDigestIndex {
  const ix = openStatIndex(options.file ?? join(workDirOf(root), FILE_DIGEST_INDEX_FILE), root, 'file-digests', options);
  return {
    lookup: (path, st) => ix.lookup(path, statKey(st)),
    record: (path, st, hash) => ix.record(path, statKey(st), hash, st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs),
    forget: (path) => ix.forget(path),
    save: () => ix.save(),
  };
}

/**
 * A StatIndex kept in `file`, valid only for `scope` (a build root, a store
 * directory), with its own `kind` in the version line; read on first use.
 */
export function openStatIndex(file: string, scope: string, kind: string, options: Omit<FileDigestIndexOptions, 'file'> = {}): StatIndex {
  return new PersistedIndex(scope, file, `trews-${kind} 1`, kind.replace(/s$/, '').replace(/-/g, ' '), options.logger, (options.now ?? Date.now)());
}

class PersistedIndex implements StatIndex {
  readonly #root: string;
  readonly #file: string;
  readonly #header: string;
  /** For debug lines: `file digest`. */
  readonly #label: string;
  readonly #logger: Logger | undefined;
  readonly #cutoffNs: bigint;
  #entries: Map<string, Entry> | undefined;
  #dirty = false;

  constructor(root: string, file: string, header: string, label: string, logger: Logger | undefined, openedAtMs: number) {
    this.#root = root;
    this.#file = file;
    this.#header = header;
    this.#label = label;
    this.#logger = logger;
    this.#cutoffNs = BigInt(Math.floor(openedAtMs - RACY_MARGIN_MS)) * 1_000_000n;
  }

  lookup(path: string, stat: string): Sha256Hex | undefined {
    const e = this.#load().get(path);
    if (e === undefined || e.stat !== stat) return undefined;
    e.used = true;
    return e.hash;
  }

  record(path: string, stat: string, hash: Sha256Hex, changedAtNs: bigint): void {
    const entries = this.#load();
    if (changedAtNs >= this.#cutoffNs) {
      // Racy: a write in the same tick could leave this stat as it is. Hashed again next time.
      if (entries.delete(path)) this.#dirty = true;
      return;
    }
    const e = entries.get(path);
    if (e !== undefined && e.stat === stat && e.hash === hash) {
      e.used = true;
      return;
    }
    entries.delete(path);
    entries.set(path, { stat, hash, used: true });
    this.#dirty = true;
  }

  forget(path: string): void {
    if (this.#load().delete(path)) this.#dirty = true;
  }

  save(): void {
    if (!this.#dirty || this.#entries === undefined) return;
    const rows: [string, string, string][] = [];
    const keep = this.#entries.size > MAX_ENTRIES ? this.#bounded(this.#entries) : this.#entries;
    for (const [path, e] of keep) rows.push([path, e.stat, e.hash]);
    const payload = JSON.stringify({ root: this.#root, entries: rows });
    const text = `${this.#header}\n${createHash('sha256').update(payload).digest('hex')}\n${payload}`;
    const tmp = `${this.#file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, text, { mode: 0o644 });
      renameSync(tmp, this.#file);
      this.#dirty = false;
    } catch (e) {
      rmSync(tmp, { force: true });
      this.#logger?.debug(`${this.#label} index: cannot write ${this.#file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** At most MAX_ENTRIES: the ones this process used, then the most recently recorded. */
  #bounded(entries: Map<string, Entry>): Map<string, Entry> {
    const used = [...entries].filter(([, e]) => e.used);
    const rest = [...entries].filter(([, e]) => !e.used);
    const room = Math.max(0, MAX_ENTRIES - used.length);
    return new Map([...used.slice(-MAX_ENTRIES), ...rest.slice(rest.length - Math.min(room, rest.length))]);
  }

  #load(): Map<string, Entry> {
    if (this.#entries !== undefined) return this.#entries;
    this.#entries = new Map();
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return this.#entries; // the first run
    }
    const why = this.#parse(text);
    if (why !== undefined) {
      this.#entries.clear();
      this.#dirty = true; // rewritten whole by this run
      this.#logger?.debug(`${this.#label} index: ignoring ${this.#file} (${why}); what it named is hashed again and the index rebuilt`);
    }
    return this.#entries;
  }

  /** Fills #entries from the file's text; the reason it cannot be used, if so. */
  #parse(text: string): string | undefined {
    const nl1 = text.indexOf('\n');
    const nl2 = text.indexOf('\n', nl1 + 1);
    if (nl1 < 0 || nl2 < 0) return 'truncated or not an index';
    const header = text.slice(0, nl1);
    if (header !== this.#header) {
      const kind = this.#header.slice(0, this.#header.lastIndexOf(' ') + 1);
      return header.startsWith(kind) ? `version "${header.slice(kind.length)}", this trews reads 1` : 'not an index';
    }
    const payload = text.slice(nl2 + 1);
    if (createHash('sha256').update(payload).digest('hex') !== text.slice(nl1 + 1, nl2)) return 'checksum mismatch: truncated or damaged';
    let v: unknown;
    try {
      v = JSON.parse(payload);
    } catch {
      return 'not JSON';
    }
    const { root, entries } = (v ?? {}) as { root?: unknown; entries?: unknown };
    if (root !== this.#root) return `written for ${JSON.stringify(root)}, not this one`;
    if (!Array.isArray(entries)) return 'no entries';
    for (const row of entries) {
      if (!Array.isArray(row) || row.length !== 3 || typeof row[0] !== 'string' || typeof row[1] !== 'string' || typeof row[2] !== 'string' || !HEX64.test(row[2])) {
        return 'malformed entry';
      }
      this.#entries!.set(row[0], { stat: row[1], hash: row[2] as Sha256Hex, used: false });
    }
    return undefined;
  }
}
