// Shared by the remote client tests: a real `trews remote-server` process on
// 127.0.0.1 with a random port (stopped by its PID), options resolved as a
// user would set them, and local stores in temp dirs.
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { MemoryLogger, nullLogger, type Logger } from '../../src/core/index.js';
import { makeCommandRunner, type CommandRunner, type ExecContext } from '../../src/exec/index.js';
import type { Options } from '../../src/options/index.js';
import { createRemoteLayers, type RemoteLayers } from '../../src/remote/client/index.js';
import type { ReapiProvider } from '../../src/remote/client/reapi-provider.js';
import { expectOptions, resolveSample } from '../../src/options/test-support.js';
import { createLocalStore, type LocalStore } from '../../src/store/index.js';
import { repoRoot } from './index.js';
import { spawnListening } from './remote-server.js';

export interface ServerProcess {
  /** `127.0.0.1:PORT` */
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  readonly storeDir: string;
  /** The server's log (stderr) so far. */
  log(): string;
  /** SIGTERM by PID, then waits for the exit; removes the store dir unless it was given. */
  stop(): Promise<void>;
  /** SIGKILL by PID: a crash, no clean shutdown. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Reuse a port (to restart a server where clients expect it). */
  readonly port?: number;
  /** Reuse a store (a restarted server keeps its CAS). */
  readonly storeDir?: string;
  readonly args?: readonly string[];
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  // A failed test must not leave servers behind.
  for (const c of live) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
});

export async function startServer(o: StartOptions = {}): Promise<ServerProcess> {
  const storeDir = o.storeDir ?? (await mkdtemp(join(tmpdir(), 'trews-rc-server-')));
  await mkdir(storeDir, { recursive: true });
  const argv = [
    join(repoRoot(), 'bin', 'trews.cjs'),
    'remote-server',
    '--listen',
    `127.0.0.1:${o.port ?? 0}`,
    '--store-dir',
    storeDir,
    '--workers',
    '4',
    '--log-level',
    'debug',
    // These tests watch actions from outside (pid files) and share the client's tools: unconfined, unless a test asks.
    ...((o.args ?? []).includes('--isolation') ? [] : ['--isolation', 'none']),
    ...(o.args ?? []),
  ];
  const { child, address, exited, stderr } = await spawnListening(argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: storeDir } });
  live.add(child);
  void exited.then(() => live.delete(child));
  const pid = child.pid!;
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, sig);
    await exited;
  };
  return {
    address,
    port: Number(address.split(':')[1]),
    pid,
    storeDir,
    log: stderr,
    async stop() {
      await signal('SIGTERM');
      if (o.storeDir === undefined) await rm(storeDir, { recursive: true, force: true });
    },
    kill: () => signal('SIGKILL'),
  };
}

/** Runs `fn` against a fresh `trews remote-server` started with `args`, and stops it by PID after. */
export async function withServer<T>(fn: (server: ServerProcess) => Promise<T>, args: readonly string[] = []): Promise<T> {
  const server = await startServer({ args });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Options as resolved from TREWS_* variables (the way a CI job would set them). */
export function remoteOptions(env: Record<string, string>): Options {
  return expectOptions(resolveSample({ env }));
}

export interface TempStore {
  readonly dir: string;
  readonly store: LocalStore;
  dispose(): Promise<void>;
}

export async function tempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-rc-local-'));
  const store = createLocalStore({ dir: join(dir, 'store') });
  return {
    dir,
    store,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function memoryLogger(): MemoryLogger {
  return new MemoryLogger('debug');
}

/** The runner stack a CLI run would build from `env` (TREWS_* variables), over a local store of its own. */
export interface Client {
  readonly layers: RemoteLayers;
  readonly runner: CommandRunner;
  readonly local: TempStore;
  /** What was shown as `warning: …` lines. */
  readonly warnings: string[];
  dispose(): Promise<void>;
}

export async function remoteClient(env: Record<string, string>, o: { logger?: Logger } = {}): Promise<Client> {
  const local = await tempStore();
  const options = remoteOptions(env);
  const warnings: string[] = [];
  const layers = createRemoteLayers(options, { store: local.store, logger: o.logger ?? nullLogger, warnings: (m) => warnings.push(m) });
  assert.ok(layers, 'remote layers for these options');
  const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot: join(local.dir, 'sandboxes'), remote: layers });
  return {
    layers,
    runner,
    local,
    warnings,
    async dispose() {
      await layers.close();
      await local.dispose();
    },
  };
}

/** The REAPI provider under `layers` (loaded on first use), for tests of gRPC specifics: batches, RPC counts, GetTree. */
export async function reapiOf(layers: RemoteLayers): Promise<ReapiProvider> {
  const p = await layers.provider();
  assert.equal(p.protocol, 'reapi');
  return p as ReapiProvider;
}

let runs = 0;
export function execContext(signal: AbortSignal = new AbortController().signal): ExecContext {
  return { signal, runId: `test-run-${process.pid}-${++runs}`, logger: nullLogger };
}
