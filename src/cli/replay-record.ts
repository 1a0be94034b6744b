import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../core/index.js';
import { stampFollowingNow, stampPaths, workDirOf, type PathStamps } from '../fs/index.js';
import type { ReplayWitness } from '../goals/index.js';
import { markElapsedTimes } from '../ui/index.js';
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

/** Wraps a summary's elapsed time in the captured output: `\0T0.21s\0`. */
const MARK = '\u0000';
const MARKED = new RegExp(`${MARK}T([^${MARK}]*)${MARK}`, 'g');

interface Segment {
  readonly fd: 1 | 2;
  /** A summary's elapsed time (filled in by the replay) rather than text. */
  readonly elapsed: boolean;
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

  install(stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream): void {
    markElapsedTimes((t) => `${MARK}T${t}${MARK}`);
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

  #wrap(fd: 1 | 2, stream: NodeJS.WriteStream): void {
    const original = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => original(this.#take(fd, chunk, rest[0]), ...rest)) as typeof stream.write;
  }

  /** Records a chunk and returns what goes to the stream: the text with the marks taken out. */
  #take(fd: 1 | 2, chunk: unknown, encoding: unknown): unknown {
    if (typeof chunk !== 'string') {
      if (chunk instanceof Uint8Array) this.#add(fd, false, Buffer.from(chunk));
      else this.#broken ??= 'a write of something other than text or bytes';
      return chunk;
    }
    if (typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8') {
      this.#broken ??= `text written as ${encoding}`;
      return chunk;
    }
    if (!chunk.includes(MARK)) {
      this.#add(fd, false, Buffer.from(chunk, 'utf8'));
      return chunk;
    }
    let at = 0;
    for (const m of chunk.matchAll(MARKED)) {
      this.#add(fd, false, Buffer.from(chunk.slice(at, m.index), 'utf8'));
      this.#add(fd, true, Buffer.from(m[1]!, 'utf8'));
      at = m.index! + m[0].length;
    }
    const rest = chunk.slice(at);
    if (rest.includes(MARK)) this.#broken ??= 'a NUL byte in the output';
    this.#add(fd, false, Buffer.from(rest, 'utf8'));
    return chunk.replace(MARKED, '$1');
  }

  #add(fd: 1 | 2, elapsed: boolean, bytes: Buffer): void {
    if (bytes.length === 0 && !elapsed) return;
    this.#bytes += bytes.length;
    if (this.#bytes > MAX_OUTPUT_BYTES) this.#broken ??= `more than ${MAX_OUTPUT_BYTES} bytes of output`;
    if (this.#broken !== undefined) return;
    this.#segments.push({ fd, elapsed, bytes });
  }
}

/** What a process without a daemon knows of itself for the record: see main.ts. */
export interface ReplaySetup {
  readonly capture: OutputCapture;
  /** trews' own code this process runs (bin/ and dist/ files), absolute. */
  readonly codeFiles: readonly string[];
  /** The node binary running this (the real path). */
  readonly execPath: string;
  readonly uid: number;
  readonly gid: number;
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
  /** GraphFile.replayProof(): undefined when the kept graph did not give the answer alone. */
  readonly graph: { readonly stamps: PathStamps; readonly programs: readonly string[] } | undefined;
  /** The local store's files whose change means a GC (storeGenerationFile). */
  readonly storeFiles: readonly string[];
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
    const inRoot = stampPaths(run.root, [run.configFile, ...this.#observed], run.startedAtMs);
    for (const p of [run.configFile, ...this.#observed]) {
      const s = inRoot.get(p);
      if (s === undefined) return `${p} changed too recently to be proven by its stamp`;
      if (s.startsWith('error:')) return `${p} could not be read (${s})`;
    }
    const absolute = [setup.execPath, ...setup.codeFiles, ...run.storeFiles, ...run.graph.programs];
    const { stamps: outside, racy } = stampFollowingNow(absolute, run.startedAtMs);
    if (racy.size > 0) return `${[...racy][0]} changed too recently to be proven by its stamp`;
    for (const p of [setup.execPath, ...setup.codeFiles]) if (!outside.get(p)!.startsWith('f:')) return `${p} is not a file`;
    for (const [p, s] of outside) if (s.startsWith('error:')) return `${p} could not be read (${s})`;

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
    const graphPaths = new Set(run.graph.stamps.keys());
    for (const [p, s] of run.graph.stamps) {
      field('p', p);
      field('s', s);
    }
    for (const [p, s] of inRoot) {
      if (graphPaths.has(p)) continue;
      field('p', p);
      field('s', s);
    }
    for (const [p, s] of outside) {
      field('q', p);
      field('s', s);
    }
    for (const seg of setup.capture.segments) {
      if (seg.elapsed) field('t', String(seg.fd));
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
    this.#logger.debug(`replay: recorded in ${file} (${run.graph.stamps.size + inRoot.size} paths in the root, ${outside.size} outside)`);
    return undefined;
  }
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
