import { symlinkSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FailureError, digestEquals, failure, isAbortError, isFailureError, type Digest, mapLimit } from '../core/index.js';
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
  /**
   * Trees already materialized read-only elsewhere (shared-trees.ts): a
   * directory of the tree being materialized that is identical (same
   * digest) to the directory at the same path of one of them becomes a
   * symlink to it instead of being made file by file.
   */
  readonly shared?: readonly SharedTreeLink[];
}

/** A tree materialized once, read-only, that sandboxes link into (see SharedTrees). */
export interface SharedTreeLink {
  /** The tree, laid out from the root of the tree being materialized. */
  readonly tree: Digest;
  /** Where it is materialized (absolute). */
  readonly dir: string;
  /**
   * Directories made real even when identical (their entries are linked
   * one by one), so that a process can add files there: `node_modules`,
   * where tools keep caches (`.cache`, `.vite`).
   */
  readonly realDirs: ReadonlySet<string>;
}

/** What materializing a tree made. */
export interface MaterializedTree {
  /**
   * The files that are hard links to store files (`hardlink` mode): a
   * process run on the tree could write into the store through them, so
   * check them afterwards with checkLinkedInputs.
   */
  readonly linked: readonly LinkedInput[];
  /** Directories linked from a shared tree (`shared`), by their path in the tree. */
  readonly sharedLinks: number;
}

/** Files (and directories, and symlinks) created at once: enough to keep a disk busy, few enough for any fd limit. */
const CONCURRENCY = 64;

interface Plan {
  /** Directory paths level by level, so each level's parents exist before it is created. */
  readonly levels: string[][];
  readonly files: Array<{ readonly path: string; readonly digest: Digest; readonly isExecutable: boolean }>;
  readonly symlinks: Map<string, string>;
  /** Directories that are symlinks to a shared materialization: path → absolute target. */
  readonly sharedLinks: Array<{ readonly path: string; readonly target: string }>;
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
  const plan = await readPlan(store, digest, options.shared ?? [], signal);
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
  // Synchronous: a few hundred symlinks take a millisecond, a thread-pool round trip each would take ten.
  for (const l of plan.sharedLinks) fsStepSync(`linking ${l.path}`, () => symlinkSync(l.target, join(destDir, l.path)));
  return { linked, sharedLinks: plan.sharedLinks.length };
}

interface PlanItem {
  readonly digest: Digest;
  readonly at: string;
  /** The directories at this path in the shared trees that have one. */
  readonly shared: ReadonlyArray<{ readonly link: SharedTreeLink; readonly digest: Digest }>;
}

function mustStayReal(link: SharedTreeLink, at: string): boolean {
  if (at === '') return true;
  for (const r of link.realDirs) if (r === at || r.startsWith(`${at}/`)) return true;
  return false;
}

async function readPlan(store: LocalStore, digest: Digest, shared: readonly SharedTreeLink[], signal?: AbortSignal): Promise<Plan> {
  const plan: Plan = { levels: [], files: [], symlinks: new Map(), sharedLinks: [] };
  let level: PlanItem[] = [{ digest, at: '', shared: shared.map((link) => ({ link, digest: link.tree })) }];
  while (level.length > 0) {
    const kept: PlanItem[] = [];
    for (const item of level) {
      const same = item.shared.find((s) => digestEquals(s.digest, item.digest) && !mustStayReal(s.link, item.at));
      if (same !== undefined) plan.sharedLinks.push({ path: item.at, target: join(same.link.dir, item.at) });
      else kept.push(item);
    }
    if (kept.length > 0 && kept[0]!.at !== '') plan.levels.push(kept.map((k) => k.at));
    const dirs = await settleInOrder(
      kept.map((l) => readDirectory(store, l.digest, l.at === '' ? 'tree to materialize' : `directory \`${l.at}\``, signal)),
    );
    const sharedDirs = await settleInOrder(
      kept.map((l) => settleInOrder(l.shared.map((s) => readDirectory(store, s.digest, `shared directory \`${l.at}\``, signal)))),
    );
    const next: PlanItem[] = [];
    dirs.forEach((dir, i) => {
      const item = kept[i]!;
      const at = item.at;
      for (const f of dir.files) {
        plan.files.push({ path: joinTreePath(at, f.name), digest: nodeDigest(f.digest, f.name), isExecutable: f.isExecutable });
      }
      for (const s of dir.symlinks) plan.symlinks.set(joinTreePath(at, s.name), s.target);
      for (const d of dir.directories) {
        const childShared: Array<{ link: SharedTreeLink; digest: Digest }> = [];
        item.shared.forEach((s, j) => {
          const node = sharedDirs[i]![j]!.directories.find((x) => x.name === d.name);
          if (node !== undefined) childShared.push({ link: s.link, digest: nodeDigest(node.digest, node.name) });
        });
        next.push({ digest: nodeDigest(d.digest, d.name), at: joinTreePath(at, d.name), shared: childShared });
      }
    });
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

function fsStepSync(what: string, op: () => void): void {
  try {
    op();
  } catch (e) {
    if (errnoCode(e) === undefined) throw e;
    throw new FailureError(failure('environment', 'materialize-failed', `materializing a tree: ${what}: ${(e as Error).message}`));
  }
}
