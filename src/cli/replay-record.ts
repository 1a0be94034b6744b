import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { RestorePlan } from '../backends/index.js';
import type { Logger } from '../core/index.js';
import type { IdleProof } from '../daemon/index.js';
import { stampFollowingNow, stampOf, stampPaths, stampPathsNow, workDirOf, type DirEntries } from '../fs/index.js';
import type { ReplayWitness } from '../goals/index.js';
import { casPath } from '../store/index.js';
import type { App } from './app.js';
import type { ReplayProof } from './graph-file.js';
import { removeLeftTemporaries } from './left-temporaries.js';
import { REPLAY_FORMAT, replayField, replayFile, sortedEnvironment } from './replay-format.js';

/**
 * Replaying a proven no-op: a run without a daemon (CI's way) of a command
 * line whose answer the kept graph already held, recorded so that the next
 * identical command line is answered by the native client
 * (src/native-client/replay.c) without starting Node, or by the Node client
 * before it loads the runner (replay-check.ts), while every stamp the record
 * holds is unchanged. See src/native-client/README.md "Replaying a proven
 * no-op"; the format is in replay-format.ts.
 *
 * The record holds everything the run's answer rested on:
 * - the command line, working directory, every environment variable, and
 *   the user and group (which access() answers for);
 * - the stamp (fs/path-stamps.ts) of every path the kept graph read, of
 *   trews.toml, and of every output the goals compared in the workspace,
 *   with the directories they listed for stale files;
 * - the stamp, through links, of each program the graph's transient records
 *   found on the machine (a tool on PATH, its package.json), of trews' own
 *   code, of node (which `node` on PATH must still be), and of the local
 *   store's GC generation;
 * then what the run printed, with each summary's time left for the replay
 * to fill, and its exit code (0: only a run that succeeded is recorded).
 *
 * A record is written only after a run that computed, re-validated and
 * wrote nothing, loaded every path of the kept graph proven by its stamp,
 * and found every transient record as kept: then the kept graph alone gave
 * the answer, and gives it again while those stamps hold. Any stamp taken
 * within the racy margin of the run's start leaves the run unrecorded.
 */

/** A run that printed more is not recorded (a replay holds its output in memory). */
const MAX_OUTPUT_BYTES = 1 << 20;
/** Records kept per build root; the least recently written go first. */
const KEEP_RECORDS = 32;

/**
 * Marks in the captured output, taken out before it reaches the stream: a
 * summary's elapsed time `\0T0.21s\0`, and the counts of a restorable
 * build's result line `\0W3:6 files written, 0 unchanged\0` (group 3).
 */
const MARK = '\u0000';

/** A summary's elapsed time as a recorded run prints it (ReplayWitness.markElapsed), for OutputCapture to take out. */
export function markElapsed(elapsed: string): string {
  return `${MARK}T${elapsed}${MARK}`;
}
const MARKED = new RegExp(`${MARK}([TW])([^${MARK}]*)${MARK}`, 'g');
const COUNTS = /^(\d+):/;

interface Segment {
  readonly fd: 1 | 2;
  /** Text; a summary's elapsed time or a restorable build's counts, filled in by the replay. */
  readonly kind: 'text' | 'elapsed' | 'counts';
  /** The text, or the elapsed time; for counts, the group's number. */
  readonly bytes: Buffer;
}

/**
 * What this process writes to stdout and stderr, in order, for the record:
 * installed on the process's own streams for the one run a process without
 * a daemon makes. Whatever it cannot keep exactly (binary output in another
 * encoding, too much of it) leaves the run unrecorded.
 */
export class OutputCapture {
  readonly #segments: Segment[] = [];
  #bytes = 0;
  #broken: string | undefined;

  install(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
    this.#wrap(1, stdout);
    this.#wrap(2, stderr);
  }

  /** Why the output cannot be replayed, if it cannot. */
  get broken(): string | undefined {
    return this.#broken;
  }

  get segments(): readonly Segment[] {
    return this.#segments;
  }

  #wrap(fd: 1 | 2, stream: NodeJS.WritableStream): void {
    const original = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => original(this.#take(fd, chunk, rest[0]), ...rest)) as typeof stream.write;
  }

  /** Records a chunk and returns what goes to the stream: the text with the marks taken out. */
  #take(fd: 1 | 2, chunk: unknown, encoding: unknown): unknown {
    if (typeof chunk !== 'string') {
      if (chunk instanceof Uint8Array) this.#add(fd, 'text', Buffer.from(chunk));
      else this.#broken ??= 'a write of something other than text or bytes';
      return chunk;
    }
    if (typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8') {
      this.#broken ??= `text written as ${encoding}`;
      return chunk;
    }
    if (!chunk.includes(MARK)) {
      this.#add(fd, 'text', Buffer.from(chunk, 'utf8'));
      return chunk;
    }
    let at = 0;
    for (const m of chunk.matchAll(MARKED)) {
      this.#add(fd, 'text', Buffer.from(chunk.slice(at, m.index), 'utf8'));
      const group = m[1] === 'W' ? COUNTS.exec(m[2]!) : null;
      if (m[1] === 'T') this.#add(fd, 'elapsed', Buffer.from(m[2]!, 'utf8'));
      else if (group !== null) this.#add(fd, 'counts', Buffer.from(group[1]!, 'utf8'));
      else this.#broken ??= 'a NUL byte in the output';
      at = m.index! + m[0].length;
    }
    const rest = chunk.slice(at);
    if (rest.includes(MARK)) this.#broken ??= 'a NUL byte in the output';
    this.#add(fd, 'text', Buffer.from(rest, 'utf8'));
    return chunk.replace(MARKED, (_m, kind: string, payload: string) => (kind === 'W' ? payload.replace(COUNTS, '') : payload));
  }

  #add(fd: 1 | 2, kind: Segment['kind'], bytes: Buffer): void {
    if (bytes.length === 0 && kind === 'text') return;
    this.#bytes += bytes.length;
    if (this.#bytes > MAX_OUTPUT_BYTES) this.#broken ??= `more than ${MAX_OUTPUT_BYTES} bytes of output`;
    if (this.#broken !== undefined) return;
    this.#segments.push({ fd, kind, bytes });
  }
}

/** What a process without a daemon knows of itself for the record: see main.ts. */
export interface ReplaySetup {
  readonly capture: OutputCapture;
  /** trews' own code this process runs (bin/ and dist/ files), absolute. */
  readonly codeFiles: readonly string[];
  /** The node binary running this (the real path); for a daemon's run, the one on its client's PATH. */
  readonly execPath: string;
  readonly uid: number;
  readonly gid: number;
  /** A run the daemon serves: proven after its answer is out, from the daemon's graph (daemon-replay.ts). */
  readonly live?: LiveReplay;
}

/** The ReplaySetup of a run in this process, its output captured from now on (a run without a daemon, or one the daemon serves). */
export function makeReplaySetup(o: {
  readonly codeFiles: readonly string[];
  readonly execPath: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly live?: LiveReplay;
}): ReplaySetup {
  const capture = new OutputCapture();
  capture.install(o.stdout, o.stderr);
  return {
    capture,
    codeFiles: o.codeFiles,
    execPath: o.execPath,
    uid: process.geteuid?.() ?? -1,
    gid: process.getegid?.() ?? -1,
    ...(o.live !== undefined ? { live: o.live } : {}),
  };
}

/** How a daemon's run is proven and recorded once its answer is out (daemon-replay.ts). */
export interface LiveReplay {
  /** Keeps the task that records the run; the daemon starts it with the first proof of the file system after the run. */
  afterRun(task: (proof: Promise<IdleProof | undefined>) => Promise<void>): void;
  /** The run's answer proven from the daemon's graph and `proof`, or why it cannot be. */
  prove(run: LiveRun, proof: IdleProof | undefined): Promise<ReplayProof | string>;
}

/** What LiveReplay.prove is told of the run, besides the proof. */
export interface LiveRun {
  readonly app: App;
  /** The directories holding output directories the run wrote back (ReplayRecorder.listedDirs). */
  readonly listed: ReadonlySet<string>;
  /** Those output directories. */
  readonly bases: ReadonlySet<string>;
  /** Engine.stats() as the run had just started. */
  readonly runsAtStart: number;
  readonly liveAtStart: number;
}

/** What the runner hands over once a run ended, for its record. */
export interface FinishedRun {
  readonly root: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly exitCode: number;
  /** When the run started (Date.now()): what changed after it is racy. */
  readonly startedAtMs: number;
  /** GraphFile.replayProof(listedDirs()): undefined when the kept graph did not give the answer alone; for a daemon's run, why it could not be proven. */
  readonly graph: ReplayProof | string | undefined;
  /** The local store's files whose change means a GC (storeGenerationFile). */
  readonly storeFiles: readonly string[];
  /** The local store's directory (absolute): restorable outputs are copied from its blobs. */
  readonly storeDir: string;
  /** The trews.toml that was read (root-relative). */
  readonly configFile: string;
}

/**
 * One run's witness and recorder: goals tell it what else their answer
 * rests on (ReplayWitness), and at the end it writes the record, or says in
 * the log why not.
 */
export class ReplayRecorder implements ReplayWitness {
  readonly #setup: ReplaySetup;
  readonly #logger: Logger;
  readonly #observed = new Set<string>();
  /** Restorable outputs (restorable()), by group: a group's number is its index. */
  readonly #groups: RestorePlan[] = [];
  #refused: string | undefined;

  constructor(setup: ReplaySetup, logger: Logger) {
    this.#setup = setup;
    this.#logger = logger;
  }

  observe(path: string): void {
    this.#observed.add(path);
  }

  refuse(why: string): void {
    this.#refused ??= why;
  }

  markElapsed(elapsed: string): string {
    return markElapsed(elapsed);
  }

  restorable(plan: RestorePlan): (counts: string) => string {
    const group = this.#groups.length;
    this.#groups.push(plan);
    return (counts) => `${MARK}W${group}:${counts}${MARK}`;
  }

  /**
   * The directories holding a restorable output directory (`packages/lib`
   * for `packages/lib/dist`): a restore changes them, so the record proves
   * them by their listing rather than by their stamp (GraphFile.replayProof's `listed`).
   */
  /** The output directories restorable() was told of. */
  bases(): ReadonlySet<string> {
    return new Set(this.#groups.flatMap((g) => g.bases));
  }

  listedDirs(): ReadonlySet<string> {
    const dirs = new Set<string>();
    for (const g of this.#groups) for (const b of g.bases) dirs.add(parentOf(b));
    return dirs;
  }

  /** Why the run will not be recorded whatever its end, if a goal or the runner said so already. */
  get refusal(): string | undefined {
    return this.#refused;
  }

  /** Writes the record of `run`, or logs why it is not one to replay. Never throws: a record only spares time. */
  record(run: FinishedRun): Promise<void> {
    const file = recordFile(run.root, run.cwd, run.argv);
    let why: string | undefined;
    try {
      why = this.#write(run, file);
    } catch (e) {
      why = `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (why !== undefined) this.#forget(file, why);
    return Promise.resolve();
  }

  /** A run that ended without an answer to record: any older record of its command line goes. */
  discard(root: string, cwd: string, argv: readonly string[], why: string): Promise<void> {
    this.#forget(recordFile(root, cwd, argv), why);
    return Promise.resolve();
  }

  #forget(file: string, why: string): void {
    this.#logger.debug(`replay: not recorded (${why})`);
    // An older record of this command line is not this run's answer: replaying it after this run could be wrong.
    try {
      rmSync(file, { force: true });
    } catch (e) {
      this.#logger.warn(`replay: cannot remove ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Undefined when written, else why not. */
  #write(run: FinishedRun, file: string): string | undefined {
    const setup = this.#setup;
    if (this.#refused !== undefined) return this.#refused;
    if (run.exitCode !== 0) return `the run exited with ${run.exitCode}`;
    if (setup.capture.broken !== undefined) return setup.capture.broken;
    if (run.graph === undefined) return 'the kept graph did not give the whole answer (it computed or re-validated something, or a path or a program had changed)';
    if (typeof run.graph === 'string') return run.graph;
    const listed = this.listedDirs();
    const bases = this.bases();
    // What a restore changes is proven by the restore plan and the listings, not by stamps.
    const observed = [...this.#observed].filter((p) => !insideAnyOf(bases, p) && !listed.has(p));
    const inRoot = stampPaths(run.root, [run.configFile, ...observed], run.startedAtMs);
    for (const p of [run.configFile, ...observed]) {
      const s = inRoot.get(p);
      if (s === undefined) return `${p} changed too recently to be proven by its stamp`;
      if (s.startsWith('error:')) return `${p} could not be read (${s})`;
    }
    const absolute = [setup.execPath, ...setup.codeFiles, ...run.storeFiles, ...run.graph.programs];
    const { stamps: outside, racy } = stampFollowingNow(absolute, run.startedAtMs);
    if (racy.size > 0) return `${[...racy][0]} changed too recently to be proven by its stamp`;
    for (const p of [setup.execPath, ...setup.codeFiles]) if (!outside.get(p)!.startsWith('f:')) return `${p} is not a file`;
    for (const [p, s] of outside) if (s.startsWith('error:')) return `${p} could not be read (${s})`;
    const restore = this.#restoreFields(run, listed);
    if (typeof restore === 'string') return restore;

    const parts: Buffer[] = [Buffer.from(`${REPLAY_FORMAT}\n`)];
    const field = (tag: string, value: string | Buffer): void => {
      parts.push(...replayField(tag, value));
    };
    field('u', String(setup.uid));
    field('g', String(setup.gid));
    field('c', run.cwd);
    for (const a of run.argv) field('a', a);
    for (const e of sortedEnvironment(run.env)) field('e', e);
    field('n', setup.execPath);
    const written = new Set<string>();
    for (const [p, s] of [...run.graph.stamps, ...inRoot]) {
      if (listed.has(p) || written.has(p)) continue;
      written.add(p);
      field('p', p);
      field('s', s);
    }
    for (const [p, s] of outside) {
      field('q', p);
      field('s', s);
    }
    parts.push(...restore);
    for (const seg of setup.capture.segments) {
      if (seg.kind === 'elapsed') field('t', String(seg.fd));
      else if (seg.kind === 'counts') field(seg.fd === 1 ? 'w' : 'v', seg.bytes);
      else field(seg.fd === 1 ? 'o' : 'r', seg.bytes);
    }
    field('x', String(run.exitCode));
    field('z', '');
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, Buffer.concat(parts));
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
    pruneRecords(dir);
    this.#logger.debug(
      `replay: recorded in ${file} (${written.size} paths in the root, ${outside.size} outside, ${listed.size} listed directories, ${this.#groups.length} restorable builds)`,
    );
    return undefined;
  }

  /**
   * The record's restore plan (see replay-format.ts): each directory in
   * `listed` with its listing; each restorable output directory with the
   * directories under it and their names, and each output with its digest
   * (checked against the local store's blob, which is stamped) or its link
   * target. A stamp is written only where it proves the path unchanged
   * since the run started, else `-`: the replay then compares by content.
   * A string says why the run cannot be recorded.
   */
  #restoreFields(run: FinishedRun, listed: ReadonlySet<string>): Buffer[] | string {
    const out: Buffer[] = [];
    const field = (tag: string, value: string | Buffer): void => {
      out.push(...replayField(tag, value));
    };
    const proof = run.graph as ReplayProof;
    const root = run.root;
    const listedNow = stampPathsNow(root, listed, run.startedAtMs);
    for (const dir of [...listed].sort()) {
      const before = stampOf(root, dir);
      if (!before.startsWith('d:')) return `${dir} is not a directory`;
      const kept = proof.listings.get(dir);
      let listing: Buffer;
      let proven: string | undefined;
      if (kept !== undefined) {
        // What the graph's answer rests on; its stamp only while the directory is as the graph read it.
        listing = keptListing(kept);
        proven = proof.stamps.get(dir);
      } else {
        // A directory the graph does not list: what is there now, unchanged while it is read.
        listing = listingOf(root, dir);
        if (stampOf(root, dir) !== before) return `${dir} changed while the run was recorded`;
        proven = listedNow.racy.has(dir) ? undefined : listedNow.stamps.get(dir);
      }
      field('P', dir);
      field('s', proven === before ? before : '-');
      field('L', listing);
    }
    const blobs = new Map<string, { hash: string; size: number }>();
    for (let group = 0; group < this.#groups.length; group++) {
      const plan = this.#groups[group]!;
      for (const base of plan.bases) {
        const entries = plan.entries.filter((e) => e.path.startsWith(`${base}/`));
        // Every directory down to each entry, with the names it must hold at most.
        const dirs = new Map<string, Set<string>>([[base, new Set()]]);
        for (const e of entries) {
          for (let child = e.path; child !== base; child = parentOf(child)) {
            const dir = parentOf(child);
            let names = dirs.get(dir);
            if (names === undefined) dirs.set(dir, (names = new Set()));
            names.add(posix.basename(child));
          }
        }
        const dirPaths = [...dirs.keys()].sort();
        const fresh = stampPathsNow(root, [...dirPaths, ...entries.map((e) => e.path)], run.startedAtMs);
        const stampOrDash = (p: string): string => (fresh.racy.has(p) ? '-' : fresh.stamps.get(p)!);
        field('B', base);
        field('k', String(group));
        for (const d of dirPaths) {
          const expected = [...dirs.get(d)!].map((n) => Buffer.from(n, 'utf8')).sort(Buffer.compare);
          let names: string[];
          try {
            names = readdirSync(join(root, d));
          } catch (e) {
            return `cannot list ${d}: ${e instanceof Error ? e.message : String(e)}`;
          }
          const wanted = new Set(expected.map((b) => b.toString('utf8')));
          const extra = names.find((n) => !wanted.has(n));
          if (extra !== undefined) return `${d}/${extra} is in a restorable output directory but not an output`;
          const stamp = stampOrDash(d);
          field('D', d);
          field('s', stamp !== '-' && stampOf(root, d) === stamp ? stamp : '-');
          field('L', Buffer.concat(expected.flatMap((b) => [b, Buffer.from([0])])));
        }
        for (const e of entries) {
          if (e.kind === 'symlink') {
            field('Y', e.path);
            field('l', e.target);
            field('s', stampOrDash(e.path));
            continue;
          }
          field('F', e.path);
          field('h', `${e.digest.hash}:${e.digest.sizeBytes}:${e.isExecutable ? 1 : 0}`);
          field('s', stampOrDash(e.path));
          if (e.digest.sizeBytes > 0) blobs.set(casPath(run.storeDir, e.digest), { hash: e.digest.hash, size: e.digest.sizeBytes });
        }
      }
    }
    // The blobs a replay copies: stamped, and read once here so that their stamp stands for bytes known right.
    const { stamps: blobStamps, racy } = stampFollowingNow(blobs.keys(), run.startedAtMs);
    for (const [path, { hash, size }] of blobs) {
      const stamp = blobStamps.get(path)!;
      if (racy.has(path)) return `${path} changed too recently to be proven by its stamp`;
      if (!stamp.startsWith(`f:${size}:`)) return `the local store has no ${path}`;
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        return `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (createHash('sha256').update(bytes).digest('hex') !== hash) return `${path} does not hold its digest`;
      if (stampFollowingNow([path], run.startedAtMs).stamps.get(path) !== stamp) return `${path} changed while the run was recorded`;
      field('m', path);
      field('s', stamp);
    }
    return out;
  }
}

/** Whether the root-relative `path` is one of `dirs` or under one. */
export function insideAnyOf(dirs: ReadonlySet<string>, path: string): boolean {
  for (let at = path; at !== ''; at = parentOf(at)) if (dirs.has(at)) return true;
  return false;
}

/** A root-relative path's directory ('' for the root). */
function parentOf(path: string): string {
  const d = posix.dirname(path);
  return d === '.' ? '' : d;
}

/**
 * A directory's listing as a record holds it: per entry, sorted by the
 * bytes of its name, its kind (`f`, `d`, `l`, `o` as lstat says), its name
 * and a NUL; a symlink's target and a NUL after it. What the graph's
 * listing records read (fs/dir-entries.ts), so an equal one reads as kept.
 */
function encodeListing(entries: readonly { readonly kind: string; readonly name: string; readonly target?: string | undefined }[]): Buffer {
  const named = entries.map((e) => ({ e, name: Buffer.from(e.name, 'utf8') })).sort((a, b) => Buffer.compare(a.name, b.name));
  const parts: Buffer[] = [];
  for (const { e, name } of named) {
    parts.push(Buffer.from(e.kind), name, Buffer.from([0]));
    if (e.kind === 'l') parts.push(Buffer.from(e.target ?? '', 'utf8'), Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

/** The listing of `dir` on disk now. */
function listingOf(root: string, dir: string): Buffer {
  const abs = dir === '' ? root : join(root, dir);
  return encodeListing(
    readdirSync(abs, { withFileTypes: true }).map((d) => {
      const kind = d.isFile() ? 'f' : d.isDirectory() ? 'd' : d.isSymbolicLink() ? 'l' : 'o';
      return { kind, name: d.name, target: kind === 'l' ? readlinkSync(join(abs, d.name)) : undefined };
    }),
  );
}

/** A listing the kept graph holds (fs/dir-entries.ts). */
function keptListing(listing: DirEntries): Buffer {
  const kinds: Record<string, string> = { file: 'f', dir: 'd', symlink: 'l' };
  return encodeListing(listing.entries.map((e) => ({ kind: kinds[e.kind] ?? 'o', name: e.name, target: e.target })));
}

function recordFile(root: string, cwd: string, argv: readonly string[]): string {
  return replayFile(workDirOf(root), cwd, argv);
}

/** A record's temporary (`<record>.<pid>.tmp`), with its writer's pid. */
const TEMPORARY = /^[0-9a-f]{16}\.(\d+)\.tmp$/;

/** Keeps the KEEP_RECORDS most recently written records (and removes temporaries a killed process left). */
function pruneRecords(dir: string): void {
  removeLeftTemporaries(dir, TEMPORARY);
  const records: { name: string; mtimeMs: number }[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) continue;
    try {
      records.push({ name, mtimeMs: statSync(join(dir, name)).mtimeMs });
    } catch {
      // Gone meanwhile.
    }
  }
  records.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const r of records.slice(KEEP_RECORDS)) rmSync(join(dir, r.name), { force: true });
}
