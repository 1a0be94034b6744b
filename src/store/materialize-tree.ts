import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FailureError, failure, isAbortError, isFailureError, type Digest, mapLimit } from '../core/index.js';
import type { LinkedInput } from './input-check.js';
import type { LinkedSource, LocalStore, MaterializeMode } from './local-store.js';
import { errnoCode } from './store-failures.js';
import { missingBlob } from './tree-failures.js';
import { readDirectory } from './tree-io.js';
import { nodeDigest, settleInOrder } from './tree-nodes.js';
import { joinTreePath } from './tree-paths.js';
import { symlinkEscapes } from './symlink-escape.js';

export interface MaterializeTreeOptions {
  /** `hardlink`: read-only links into the CAS (copies where links are impossible); `copy`: private writable files. */
  readonly mode: MaterializeMode;
  readonly signal?: AbortSignal;
}

/** What materializing a tree made. */
export interface MaterializedTree {
  /**
   * The files that are hard links to store files (`hardlink` mode): a
   * process run on the tree could write into the store through them, so
   * check them afterwards with checkLinkedInputs.
   */
  readonly linked: readonly LinkedInput[];
}

/** Files (and directories, and symlinks) created at once: enough to keep a disk busy, few enough for any fd limit. */
const CONCURRENCY = 64;

interface Plan {
  /** Directory paths level by level, so each level's parents exist before it is created. */
  readonly levels: string[][];
  readonly files: Array<{ readonly path: string; readonly digest: Digest; readonly isExecutable: boolean }>;
  readonly symlinks: Map<string, string>;
}

/**
 * Writes the tree `digest` into `destDir` (created if missing; it must not
 * already hold any of the tree's paths). Directories are created writable,
 * so a process can create its outputs inside them; files come from the CAS
 * by `materializeFile` (hard links are read-only, which stops a careless
 * tool but not root or a `chmod u+w`: the links are returned, for
 * checkLinkedInputs after the process); symlinks are created as symlinks,
 * after checking that none leads outside `destDir`, even through other
 * symlinks of the tree. A blob the store lacks is a `missing-blob` failure.
 */
export async function materializeTree(store: LocalStore, digest: Digest, destDir: string, options: MaterializeTreeOptions): Promise<MaterializedTree> {
  const { mode, signal } = options;
  const plan = await readPlan(store, digest, signal);
  for (const [path, target] of plan.symlinks) {
    if (symlinkEscapes(plan.symlinks, path)) {
      throw new FailureError(
        failure('input', 'symlink-escape', `symlink \`${path}\` → ${JSON.stringify(target)} points outside the tree being materialized`, {
          hints: ['a tree may only hold relative symlinks that stay inside it; an output symlink to an input outside the outputs becomes one of these'],
        }),
      );
    }
  }
  await fsStep(`creating ${destDir}`, () => mkdir(destDir, { recursive: true }));
  for (const level of plan.levels) {
    await mapLimit(level, CONCURRENCY, (p) => fsStep(`creating directory ${p}`, () => mkdir(join(destDir, p))), signal);
  }
  const linked: LinkedInput[] = [];
  await mapLimit(
    plan.files,
    CONCURRENCY,
    async (f) => {
      let source: LinkedSource | undefined;
      const onLinked = (s: LinkedSource): void => {
        source = s;
      };
      const how = await store.materializeFile(f.digest, join(destDir, f.path), { executable: f.isExecutable, mode, onLinked }, signal);
      if (how === undefined) throw missingBlob(`file \`${f.path}\``, f.digest, store);
      if (source !== undefined) linked.push({ path: f.path, digest: f.digest, source });
    },
    signal,
  );
  await mapLimit([...plan.symlinks], CONCURRENCY, ([p, target]) => fsStep(`creating symlink ${p}`, () => symlink(target, join(destDir, p))), signal);
  return { linked };
}

async function readPlan(store: LocalStore, digest: Digest, signal?: AbortSignal): Promise<Plan> {
  const plan: Plan = { levels: [], files: [], symlinks: new Map() };
  let level: Array<{ readonly digest: Digest; readonly at: string }> = [{ digest, at: '' }];
  while (level.length > 0) {
    const dirs = await settleInOrder(
      level.map((l) => readDirectory(store, l.digest, l.at === '' ? 'tree to materialize' : `directory \`${l.at}\``, signal)),
    );
    const next: typeof level = [];
    dirs.forEach((dir, i) => {
      const at = level[i]!.at;
      for (const f of dir.files) {
        plan.files.push({ path: joinTreePath(at, f.name), digest: nodeDigest(f.digest, f.name), isExecutable: f.isExecutable });
      }
      for (const s of dir.symlinks) plan.symlinks.set(joinTreePath(at, s.name), s.target);
      for (const d of dir.directories) next.push({ digest: nodeDigest(d.digest, d.name), at: joinTreePath(at, d.name) });
    });
    if (next.length > 0) plan.levels.push(next.map((n) => n.at));
    level = next;
  }
  return plan;
}


/** File-system errors while materializing are the machine's (disk full, permissions, a non-empty destination). */
async function fsStep<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (isFailureError(e) || isAbortError(e) || errnoCode(e) === undefined) throw e;
    throw new FailureError(failure('environment', 'materialize-failed', `materializing a tree: ${what}: ${(e as Error).message}`));
  }
}
