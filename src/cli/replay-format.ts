import { join } from 'node:path';

/**
 * The replay record's file and format, shared by the writer
 * (replay-record.ts), the Node client's check (replay-check.ts) and, in C,
 * the native client's (src/native-client/replay.c, which keeps the same
 * constants).
 *
 * A record is the line `trews-replay 2`, then fields `<tag><length>:<bytes>\n`
 * (so a value can hold any byte): u euid, g egid, c cwd, a each argument, e
 * each environment variable (`NAME=value`, sorted by bytes), n the real path
 * of node, then p (root-relative, lstat) or q (absolute, stat through links)
 * each followed by s its stamp (fs/path-stamps.ts).
 *
 * Then the restore plan, for a `build` whose outputs the native client may
 * write back from the local store (replay-record.ts restoreFields). A stamp
 * there may be `-`: none proves the path, which is then checked by content.
 * - P a directory holding a restorable output directory, s its stamp, L its
 *   listing (per entry by the bytes of its name: kind `f`/`d`/`l`/`o`, the
 *   name, NUL, and for a link its target and NUL). Its stamp may move (a
 *   restore makes an entry anew): then its listing, with the output
 *   directories the replay will make, must be exactly L.
 * - B an output directory, k its build's group number; after it, until the
 *   next B: D each directory from it down (top-down), s its stamp, L the
 *   names it may hold (each followed by NUL); F each file, h
 *   `<sha256>:<size>:<1 if executable, else 0>`, s its stamp; Y each
 *   symlink, l its target, s its stamp.
 * - m each blob the plan copies from (absolute, in the local store), s its
 *   stamp through links (taken when the recorder had read it and found its
 *   digest).
 *
 * Then the output in order (o stdout, r stderr, t `1` or `2`: a summary's
 * time, filled in by the replay; w stdout, v stderr: a build's counts,
 * `N files written, M unchanged`, for the group the value names), x the
 * exit code, and z, empty, last.
 */

/** `.trews.d/replay`: one record per command line and working directory. */
export const REPLAY_DIR = 'replay';
/** The first line of a record; a client replays only this format. */
export const REPLAY_FORMAT = 'trews-replay 2';

/**
 * The record's file name for a command line: FNV-1a (64-bit) over the
 * working directory and each argument, each followed by a NUL byte, in hex.
 * The record itself holds the command line and directory, so a collision is
 * a miss, never a wrong answer.
 */
export function replayFileName(cwd: string, argv: readonly string[]): string {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const feed = (text: string): void => {
    for (const byte of Buffer.from(text, 'utf8')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & mask;
    h = (h * 0x100000001b3n) & mask; // the NUL byte: h ^ 0 is h
  };
  feed(cwd);
  for (const a of argv) feed(a);
  return h.toString(16).padStart(16, '0');
}

/** The record of a command line in the build root's work directory (`.trews.d`). */
export function replayFile(workDir: string, cwd: string, argv: readonly string[]): string {
  return join(workDir, REPLAY_DIR, replayFileName(cwd, argv));
}

/** One field: its tag and its bytes. */
export interface ReplayField {
  readonly tag: string;
  readonly value: Buffer;
}

/** A record's fields in order, after its format line; undefined when it is damaged, truncated or of another format. */
export function parseReplayRecord(bytes: Buffer): ReplayField[] | undefined {
  const head = Buffer.from(`${REPLAY_FORMAT}\n`);
  if (bytes.length < head.length || !bytes.subarray(0, head.length).equals(head)) return undefined;
  const fields: ReplayField[] = [];
  let at = head.length;
  while (at < bytes.length) {
    const tag = String.fromCharCode(bytes[at]!);
    let i = at + 1;
    let len = 0;
    while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39 && i - at <= 10) len = len * 10 + (bytes[i++]! - 0x30);
    if (i === at + 1 || i >= bytes.length || bytes[i] !== 0x3a) return undefined;
    const start = i + 1;
    if (start + len >= bytes.length || bytes[start + len] !== 0x0a) return undefined;
    fields.push({ tag, value: bytes.subarray(start, start + len) });
    at = start + len + 1;
    if (tag === 'z') return at === bytes.length ? fields : undefined;
  }
  return undefined;
}

/** The environment as a record holds it: `NAME=value` in UTF-8, sorted by bytes (as C's strcmp orders them). */
export function sortedEnvironment(env: Readonly<Record<string, string>>): Buffer[] {
  return Object.entries(env)
    .map(([k, v]) => Buffer.from(`${k}=${v}`, 'utf8'))
    .sort(Buffer.compare);
}

/** Encodes one field. */
export function replayField(tag: string, value: string | Buffer): Buffer[] {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return [Buffer.from(`${tag}${bytes.length}:`), bytes, Buffer.from('\n')];
}
