// Helpers shared by exec's tests and its contract suite; not exported from index.ts.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MemoryLogger, digestString, type Digest, type Logger } from '../core/index.js';
import { createLocalStore, flushTree, type LocalStore } from '../store/index.js';
import { DirectorySchema, decodeMessage, fromProtoDigest } from '../reapi/index.js';
import { createLocalRunner, type LocalRunnerOptions } from './local-runner.js';
import type { CommandRunner, ExecContext, ProcessObserver } from './types.js';

export async function makeTempDir(prefix = 'trews-exec-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function makeCtx(over: Partial<ExecContext> = {}): ExecContext & { logger: Logger } {
  return {
    signal: over.signal ?? new AbortController().signal,
    runId: over.runId ?? randomUUID(),
    logger: over.logger ?? new MemoryLogger('debug'),
    ...(over.observer === undefined ? {} : { observer: over.observer }),
  };
}

export type TreeEntry =
  | { readonly kind: 'file'; readonly digest: Digest; readonly executable: boolean }
  | { readonly kind: 'dir' }
  | { readonly kind: 'symlink'; readonly target: string };

/** Every entry below a Directory, by path relative to it. */
export async function listTree(store: LocalStore, root: Digest, prefix = ''): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  // Read from the store itself (what another process would see), once this process's staged Directories are written.
  await flushTree(store, root);
  const bytes = await store.getBytes(root);
  if (bytes === undefined) throw new Error(`directory ${digestString(root)} is not in the store`);
  const dir = decodeMessage(DirectorySchema, bytes);
  if (!dir.ok) throw new Error(dir.failure.message);
  for (const f of dir.value.files) {
    const d = fromProtoDigest(f.digest);
    if (!d.ok) throw new Error(d.failure.message);
    out.set(prefix + f.name, { kind: 'file', digest: d.value, executable: f.isExecutable });
  }
  for (const s of dir.value.symlinks) out.set(prefix + s.name, { kind: 'symlink', target: s.target });
  for (const sub of dir.value.directories) {
    const d = fromProtoDigest(sub.digest);
    if (!d.ok) throw new Error(d.failure.message);
    out.set(prefix + sub.name, { kind: 'dir' });
    for (const [k, v] of await listTree(store, d.value, `${prefix}${sub.name}/`)) out.set(k, v);
  }
  return out;
}

export async function readText(store: LocalStore, d: Digest): Promise<string> {
  const bytes = await store.getBytes(d);
  if (bytes === undefined) throw new Error(`blob ${digestString(d)} is not in the store`);
  return Buffer.from(bytes).toString('utf8');
}

export async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Records observer calls in order. */
export class RecordingObserver implements ProcessObserver {
  readonly events: string[] = [];
  readonly kept: string[] = [];
  readonly results: { id: number; source?: string; error?: unknown }[] = [];
  started(id: number): void {
    this.events.push(`started ${id}`);
  }
  finished(id: number, _p: unknown, outcome: { readonly result?: { source: string }; readonly error?: unknown }): void {
    this.events.push(`finished ${id}`);
    this.results.push({ id, ...(outcome.result ? { source: outcome.result.source } : {}), ...(outcome.error !== undefined ? { error: outcome.error } : {}) });
  }
  sandboxKept(_id: number, _p: unknown, path: string): void {
    this.kept.push(path);
  }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `f` until it returns true, or fails after `ms`. */
export async function eventually(f: () => Promise<boolean> | boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A local runner over a store and a sandbox root of its own in a temp dir, which `dispose` removes. */
export interface LocalRunnerFixture {
  readonly dir: string;
  readonly runner: CommandRunner;
  readonly store: LocalStore;
  readonly sandboxRoot: string;
  dispose(): Promise<void>;
}

export async function localRunnerFixture(options: Omit<LocalRunnerOptions, 'store' | 'sandboxRoot'> = {}, prefix?: string): Promise<LocalRunnerFixture> {
  const dir = await makeTempDir(prefix);
  const store = createLocalStore({ dir: join(dir, 'store') });
  const sandboxRoot = join(dir, 'sandboxes');
  const runner = createLocalRunner({ store, sandboxRoot, ...options });
  return {
    dir,
    runner,
    store,
    sandboxRoot,
    dispose: async () => {
      await store.close();
      await removeDir(dir);
    },
  };
}
