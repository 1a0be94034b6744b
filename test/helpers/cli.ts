import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo.js';

/**
 * What users run: the launcher, which execs the native client when the build
 * made one (src/native-client/) and the Node client otherwise. It finds `node`
 * on PATH, as `#!/usr/bin/env node` would.
 */
export const TREWS_LAUNCHER = join(repoRoot(), 'bin', 'trews');
/** The Node client's entry, for `node <it>`: what the launcher and the native client exec for what they do not serve. */
export const TREWS_NODE_ENTRY = join(repoRoot(), 'bin', 'trews.cjs');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunTrewsOptions {
  readonly cwd: string;
  readonly env?: Record<string, string>;
  readonly input?: string;
  readonly timeoutMs?: number;
  /**
   * Go through the daemon. Off by default (`TREWS_DAEMON=false`): a test that
   * does not stop the daemons it starts would leave one running per temp repo.
   * Tests that opt in stop theirs (see daemon.ts in this folder).
   */
  readonly daemon?: boolean;
  /** Let runs without a daemon keep and load `.trews.d/graph` (option persist_graph; off by default here). */
  readonly persistGraph?: boolean;
  /**
   * Let the native client replay a run without a daemon that did nothing
   * (option replay_no_ops; off by default here, so a test that runs the same
   * command twice sees both runs in Node: test/native-replay.test.ts turns it on).
   */
  readonly replay?: boolean;
}

/**
 * Runs the real `trews` CLI (the launcher) as a child process. The environment is minimal and
 * explicit, so a developer's own TREWS_* variables never leak into a test.
 */
export function runTrews(args: readonly string[], opts: RunTrewsOptions): Promise<CliResult> {
  const spawned = spawnTrews(args, opts);
  // A run that is given no input reads end-of-file at once, as from /dev/null.
  if (opts.input === undefined) spawned.child.stdin?.end('');
  return spawned.result;
}

/** A running `trews` whose result is awaited later: for tests that signal it (Ctrl-C) or run several at once. */
export interface SpawnedTrews {
  readonly child: ReturnType<typeof spawn>;
  /** What it has written so far. */
  output(): { stdout: string; stderr: string };
  readonly result: Promise<CliResult>;
}

export function spawnTrews(args: readonly string[], opts: RunTrewsOptions): SpawnedTrews {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...(opts.daemon === true ? {} : { TREWS_DAEMON: 'false' }),
    // A second run without a daemon would start from the graph the first one kept
    // (persist_graph) and say `memoized` where these tests expect `local cache`:
    // off unless a test asks (test/persisted-graph.test.ts does).
    ...(opts.persistGraph === true ? {} : { TREWS_PERSIST_GRAPH: 'false' }),
    ...(opts.replay === true ? {} : { TREWS_REPLAY_NO_OPS: 'false' }),
    ...opts.env,
  };
  const child = spawn(TREWS_LAUNCHER, args, { cwd: opts.cwd, env, stdio: 'pipe' });
  // A run that exits without reading its input closes the pipe: writing to it then
  // fails with EPIPE, which is no failure of the run (its result says what happened)
  // and must not become the test process's uncaught exception.
  child.stdin.on('error', () => undefined);
  const { output, result } = collectOutput(child, `trews ${args.join(' ')}`, opts.timeoutMs ?? 60000);
  if (opts.input !== undefined) child.stdin.end(opts.input);
  return { child, output, result };
}

/** What a child with piped stdout and stderr has written so far, and its result. */
export interface CollectedOutput {
  output(): { stdout: string; stderr: string };
  readonly result: Promise<CliResult>;
}

/**
 * Collects a spawned child's stdout and stderr; `result` settles when it has
 * closed them and exited, or rejects (after SIGKILL) when `timeoutMs` pass
 * first, with `what` and everything it wrote.
 */
export function collectOutput(child: ChildProcess, what: string, timeoutMs: number): CollectedOutput {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { output: () => ({ stdout, stderr }), result };
}

/**
 * A PATH whose first `node` is a stand-in shell script (`body`, after the
 * shebang) in a new directory `bin` — to see what trews execs node with, or
 * to prove it never does — followed by this process's PATH.
 */
export function pathWithStandInNode(bin: string, body: string): string {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'node'), `#!/bin/sh\n${body}`);
  chmodSync(join(bin, 'node'), 0o755);
  return `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}
