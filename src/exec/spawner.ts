import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { open } from 'node:fs/promises';
import { signalGroup } from './process-group.js';

/**
 * Starting a sandboxed process from a small helper process instead of from
 * trews itself.
 *
 * Node starts a child with fork() then exec(); fork copies the parent's page
 * tables, so its cost grows with the parent's memory, and it blocks the
 * event loop. A trews run or a daemon holds 200–400 MB: every spawn cost it
 * 10–20 ms of its main thread (a CPU profile of a cold 200-step chain:
 * ChildProcess.spawn 2.6 s of 30 s), against ~0.6 ms from a fresh node of
 * 40 MB. So each trews process starts one helper (lazily, once), which
 * spawns every sandboxed process exactly as we would have (same argv, argv0,
 * cwd, env, own session and process group, stdin /dev/null, stdout/stderr
 * into the files given, uid/gid) and reports its pid and its exit.
 *
 * The helper is no part of what a process sees: its env, argv and working
 * directory are the request's; it opens the stdout/stderr files itself,
 * as trews did, and keeps no descriptor of them. Process groups stay ours:
 * trews tracks and signals them by id (kill(-pgid) needs no parenthood).
 * The helper leads its own session (no terminal signal reaches it) and
 * exits when trews closes its stdin, which the kernel does when trews dies:
 * first it SIGKILLs the groups it started that are still running, so even a
 * SIGKILLed trews (whose exit hook never runs) leaves no process behind.
 */

/** What to start: `spawn(file, args, { argv0, cwd, env, detached: true, stdio: ['ignore', stdout, stderr] })`. */
export interface SpawnRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly argv0: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * A started process, as a ChildProcess reports it: `spawn` once its pid is
 * known (`pid` set), then `exit` (code, signal); or `error` instead when it
 * could not start (nothing runs), or when the helper died under it (its
 * group has been SIGKILLed).
 */
export interface SpawnedProcess {
  readonly pid: number | undefined;
  once(event: 'spawn', f: () => void): this;
  once(event: 'exit', f: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', f: (e: NodeJS.ErrnoException) => void): this;
}

export type SpawnerKind = 'helper' | 'inline';

/** Starts a process the way `kind` says: through the helper (the default) or from this process. */
export function spawnProcess(kind: SpawnerKind, req: SpawnRequest): SpawnedProcess {
  return kind === 'inline' ? spawnInline(req) : (helper ??= new SpawnHelper()).spawn(req);
}

/** The helper's pid, once started (for tests that must kill it). */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}

let helper: SpawnHelper | undefined;

/** The helper, as CommonJS for `node -e`: one JSON request a line in, one JSON event a line out. */
const HELPER_SOURCE = `'use strict';
process.title = 'trews spawner';
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const fail = (i, e) => send({ i, error: { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message } });
const live = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  for (let nl = buf.indexOf('\\n'); nl >= 0; nl = buf.indexOf('\\n')) {
    const r = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    const fds = [];
    let c;
    try {
      fds.push(openSync(r.out, 'w'));
      fds.push(openSync(r.err, 'w'));
      c = spawn(r.file, r.args, { argv0: r.argv0, cwd: r.cwd, env: r.env, detached: true, stdio: ['ignore', fds[0], fds[1]], windowsHide: true, ...(r.uid === undefined ? {} : { uid: r.uid, gid: r.gid }) });
    } catch (e) {
      fail(r.i, e);
      continue;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    const pid = c.pid;
    if (pid !== undefined) {
      live.add(pid);
      send({ i: r.i, pid });
    }
    c.once('error', (e) => fail(r.i, e));
    c.once('exit', (code, signal) => {
      live.delete(pid);
      send({ i: r.i, exit: [code, signal] });
    });
  }
});
// trews is gone (its exit hook, when it ran, has killed these already): nothing it started outlives it.
process.stdin.on('end', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
  process.exit(0);
});
`;

class HelperChild extends EventEmitter implements SpawnedProcess {
  pid: number | undefined;
}

interface HelperEvent {
  readonly i: number;
  readonly pid?: number;
  readonly error?: { code?: string; errno?: number; syscall?: string; message: string };
  readonly exit?: [number | null, NodeJS.Signals | null];
}

class SpawnHelper {
  readonly #pending = new Map<number, HelperChild>();
  #proc: ChildProcess | undefined;
  #next = 1;
  #buf = '';

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  spawn(req: SpawnRequest): SpawnedProcess {
    const child = new HelperChild();
    const i = this.#next++;
    this.#pending.set(i, child);
    const proc = this.#started();
    this.#ref(true);
    const line = JSON.stringify({ i, file: req.file, args: req.args, argv0: req.argv0, cwd: req.cwd, env: req.env, out: req.stdoutPath, err: req.stderrPath, uid: req.uid, gid: req.gid });
    proc.stdin!.write(`${line}\n`);
    return child;
  }

  #started(): ChildProcess {
    if (this.#proc !== undefined) return this.#proc;
    // An empty env: nothing of the user's (NODE_OPTIONS, say) changes how the helper runs.
    const proc = spawn(process.execPath, ['-e', HELPER_SOURCE], { env: {}, stdio: ['pipe', 'pipe', 'ignore'], detached: true, windowsHide: true });
    this.#proc = proc;
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => this.#read(chunk));
    proc.stdin!.on('error', () => undefined); // EPIPE when it died: reported by 'exit'
    const gone = (why: string): void => {
      if (this.#proc !== proc) return;
      this.#proc = undefined;
      this.#buf = '';
      this.#failAll(why);
    };
    proc.once('error', (e) => gone(`cannot start the process spawner (${process.execPath}): ${e.message}`));
    proc.once('exit', (code, signal) => gone(`the process spawner exited (${signal ?? `code ${code}`})`));
    return proc;
  }

  #read(chunk: string): void {
    this.#buf += chunk;
    for (let nl = this.#buf.indexOf('\n'); nl >= 0; nl = this.#buf.indexOf('\n')) {
      const ev = JSON.parse(this.#buf.slice(0, nl)) as HelperEvent;
      this.#buf = this.#buf.slice(nl + 1);
      const child = this.#pending.get(ev.i);
      if (child === undefined) continue;
      if (ev.pid !== undefined) {
        child.pid = ev.pid;
        child.emit('spawn');
      } else if (ev.error !== undefined) {
        this.#done(ev.i);
        child.emit('error', Object.assign(new Error(ev.error.message), ev.error));
      } else if (ev.exit !== undefined) {
        this.#done(ev.i);
        child.emit('exit', ev.exit[0], ev.exit[1]);
      }
    }
  }

  #done(i: number): void {
    this.#pending.delete(i);
    if (this.#pending.size === 0) this.#ref(false);
  }

  /** The helper keeps this process alive only while a process it started runs (a pending promise alone does not). */
  #ref(on: boolean): void {
    const p = this.#proc;
    if (p === undefined) return;
    for (const h of [p, p.stdout, p.stdin] as Array<{ ref(): void; unref(): void } | null>) {
      if (on) h?.ref();
      else h?.unref();
    }
  }

  /** The helper is gone: what it had started may still run, and nobody would hear of its exit. */
  #failAll(why: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const child of pending) {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      child.emit('error', Object.assign(new Error(`${why}${child.pid === undefined ? '' : '; the process was killed'}`), { code: 'ESPAWNER' }));
    }
  }
}

/** The same start from this process: for `LocalRunnerOptions.spawner = 'inline'`. */
function spawnInline(req: SpawnRequest): SpawnedProcess {
  const child = new HelperChild();
  void (async () => {
    const out = await open(req.stdoutPath, 'w');
    try {
      const err = await open(req.stderrPath, 'w');
      try {
        const c = spawn(req.file, [...req.args], {
          argv0: req.argv0,
          cwd: req.cwd,
          env: { ...req.env },
          detached: true,
          ...(req.uid !== undefined ? { uid: req.uid, gid: req.gid ?? req.uid } : {}),
          stdio: ['ignore', out.fd, err.fd],
          windowsHide: true,
        });
        if (c.pid !== undefined) {
          child.pid = c.pid;
          child.emit('spawn');
        }
        c.once('error', (e) => child.emit('error', e));
        c.once('exit', (code, signal) => child.emit('exit', code, signal));
      } finally {
        await err.close();
      }
    } finally {
      await out.close();
    }
  })().catch((e: unknown) => child.emit('error', e));
  return child;
}
