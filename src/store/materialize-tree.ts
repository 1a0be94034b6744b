import { mkdirSync, symlinkSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FailureError, digestEquals, digestString, failure, isAbortError, isFailureError, type Digest, mapLimit } from '../core/index.js';
import type { LinkedInput } from './input-check.js';
import { sameAsFarm, type Farm, type FarmEntry, type FarmUse, type LinkFarms } from './link-farms.js';
import type { LinkedSource, LocalStore, MaterializeMode } from './local-store.js';
import { errnoCode } from './store-failures.js';
import { missingBlob } from './tree-failures.js';
import { readDirectory } from './tree-io.js';
import { nodeDigest, settleInOrder } from './tree-nodes.js';
import { joinTreePath } from './tree-paths.js';
import { symlinkEscapes } from './symlink-escape.js';
import { flushTree } from './flush-staged.js';

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
  /**
   * Ready-made real directories (link-farms.ts): each of `realDirs` is
   * moved in whole instead of made entry by entry, when the tree holds
   * everything the farm does there.
   */
  readonly farms?: LinkFarms;
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
  /** Farms moved into the tree (`farms`): release each after the process. */
  readonly farms: readonly FarmUse[];
}

/** Files (and directories, and symlinks) created at once: enough to keep a disk busy, few enough for any fd limit. */
const CONCURRENCY = 64;
/** Input roots with up to this many directories have them made with synchronous calls. */
const SYNC_DIRS = 64;

interface Plan {
  /** Directory paths level by level, so each level's parents exist before it is created. */
  readonly levels: string[][];
  readonly files: Array<{ readonly path: string; readonly digest: Digest; readonly isExecutable: boolean }>;
  readonly symlinks: Map<string, string>;
  /** Directories that are symlinks to a shared materialization: path → absolute target. */
  readonly sharedLinks: Array<{ readonly path: string; readonly target: string }>;
  /** The digest of each directory made real (levels), and of the root (''). */
  readonly dirDigests: Map<string, Digest>;
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
  await flushTree(store, digest, signal);
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
  const farmed = await takeFarms(plan, options.shared ?? [], signal);
  const uses: FarmUse[] = [];
  try {
    // A few dozen directories (most input roots) are made at once: a round trip
    // through the thread pool per level costs more than the mkdir calls themselves.
    const sync = plan.levels.reduce((n, l) => n + l.length, 0) <= SYNC_DIRS;
    if (sync) fsStepSync(`creating ${destDir}`, () => mkdirSync(destDir, { recursive: true }));
    else await fsStep(`creating ${destDir}`, () => mkdir(destDir, { recursive: true }));
    // A farm moves in once its parent exists, before anything inside it is made.
    const pending = [...farmed];
    const moveUpTo = (depth: number): void => {
      for (const f of pending.filter((f) => f.at.split('/').length <= depth)) {
        pending.splice(pending.indexOf(f), 1);
        uses.push(fsStepSync(`moving a ready-made ${f.at} in`, () => f.move(destDir)));
      }
    };
    for (const level of plan.levels) {
      moveUpTo((level[0] ?? '').split('/').length);
      if (sync) for (const p of level) fsStepSync(`creating directory ${p}`, () => mkdirSync(join(destDir, p)));
      else await mapLimit(level, CONCURRENCY, (p) => fsStep(`creating directory ${p}`, () => mkdir(join(destDir, p))), signal);
    }
    moveUpTo(Infinity);
    const linked: LinkedInput[] = farmed.flatMap((f) => f.farm.linked.map((l) => ({ ...l, path: `${f.at}/${l.path}` })));
    await makeEntries(store, plan, destDir, mode, linked, signal);
    return { linked, sharedLinks: plan.sharedLinks.length + farmed.reduce((n, f) => n + f.links, 0), farms: uses };
  } catch (e) {
    for (const u of uses) u.abandon();
    throw e;
  }
}

async function makeEntries(store: LocalStore, plan: Plan, destDir: string, mode: MaterializeMode, linked: LinkedInput[], signal?: AbortSignal): Promise<void> {
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
}

interface Farmed {
  readonly at: string;
  readonly farm: Farm;
  /** Shared directories the farm links (for the count). */
  readonly links: number;
  move(destDir: string): FarmUse;
}

/**
 * Takes a farm for each real directory of a shared tree whose entries the
 * plan would make the same way, and drops those entries from the plan; a
 * directory where the tree differs from the farm (an entry missing or
 * changed) is made the ordinary way.
 */
async function takeFarms(plan: Plan, shared: readonly SharedTreeLink[], signal?: AbortSignal): Promise<Farmed[]> {
  const out: Farmed[] = [];
  const kept = new Set(plan.levels.flat());
  for (const link of shared) {
    const farms = link.farms;
    if (farms === undefined) continue;
    for (const at of [...link.realDirs].sort()) {
      if (!kept.has(at) || out.some((o) => at.startsWith(`${o.at}/`))) continue;
      const farm = await farms.take(link.tree, link.dir, at, signal);
      if (farm === undefined) continue;
      const drop = memoMatch(farms, plan, link, at, farm);
      if (drop === undefined) {
        farms.putBack(farm, link.tree, link.dir, at);
        continue;
      }
      (plan as { levels: string[][] }).levels = plan.levels.map((l) => l.filter((p) => !drop.dirs.has(p))).filter((l) => l.length > 0);
      plan.files.splice(0, plan.files.length, ...plan.files.filter((f) => !drop.entries.has(f.path)));
      for (const p of drop.entries) plan.symlinks.delete(p);
      const sharedLinks = plan.sharedLinks.filter((l) => !drop.entries.has(l.path));
      const links = plan.sharedLinks.length - sharedLinks.length;
      plan.sharedLinks.splice(0, plan.sharedLinks.length, ...sharedLinks);
      out.push({ at, farm, links, move: (destDir) => farms.use(farm, join(destDir, at), at, link.tree, link.dir, drop.additions) });
    }
  }
  return out;
}

type FarmMatch = { dirs: Set<string>; entries: Set<string>; additions: string[] };

/** Bound on remembered matches per pool: one per (directory digest, farm), a few per package of a workspace. */
const MATCH_MEMO_MAX = 1024;
const matchMemos = new WeakMap<LinkFarms, Map<string, FarmMatch | null>>();

/**
 * matchFarm, remembered: the plan's entries under `at` are a function of
 * the digest of the directory the input root has there, and the farm's
 * entries a function of the farm's key (farms of one key are made alike),
 * so sandboxes of one package (the same node_modules with the same
 * workspace links) match once per process, not once per sandbox.
 */
function memoMatch(farms: LinkFarms, plan: Plan, link: SharedTreeLink, at: string, farm: Farm): FarmMatch | undefined {
  const dir = plan.dirDigests.get(at);
  if (dir === undefined) return matchFarm(plan, link, at, farm);
  let memo = matchMemos.get(farms);
  if (memo === undefined) matchMemos.set(farms, (memo = new Map()));
  const key = `${digestString(dir)}\0${digestString(link.tree)}\0${link.dir}\0${at}\0${[...link.realDirs].sort().join("\0")}`;
  const known = memo.get(key);
  if (known !== undefined) return known ?? undefined;
  const found = matchFarm(plan, link, at, farm);
  if (memo.size >= MATCH_MEMO_MAX) memo.clear();
  memo.set(key, found ?? null);
  return found;
}

/** The plan's entries the farm at `at` already holds, or undefined when the plan differs from the farm there. */
function matchFarm(plan: Plan, link: SharedTreeLink, at: string, farm: Farm): FarmMatch | undefined {
  const farmRel = (path: string): string | undefined => {
    if (path === at) return '';
    if (!path.startsWith(`${at}/`)) return undefined;
    const rel = path.slice(at.length + 1);
    return farm.entries.has(rel) ? rel : undefined;
  };
  const dirs = new Set<string>([at]);
  const entries = new Set<string>();
  const matched = new Map<string, number>();
  const additions: string[] = [];
  let ok = true;
  const consider = (path: string, entry: FarmEntry | 'kept-dir' | 'shared-dir'): void => {
    const slash = path.lastIndexOf('/');
    if (slash < 0) return;
    const rel = farmRel(path.slice(0, slash));
    if (rel === undefined) return;
    const name = path.slice(slash + 1);
    const own = farm.entries.get(rel)?.get(name);
    if (own === undefined) {
      // The sandbox's own entry (a workspace link): made after the farm is moved in, removed before it goes back.
      additions.push(path.slice(at.length + 1));
      return;
    }
    const childRel = rel === '' ? name : `${rel}/${name}`;
    if (entry === 'kept-dir') {
      if (!farm.entries.has(childRel)) ok = false;
      else dirs.add(path);
    } else if (entry === 'shared-dir') {
      if (own.kind !== 'dir') ok = false;
      else entries.add(path);
    } else if (!sameAsFarm(own, entry)) ok = false;
    else entries.add(path);
    matched.set(rel, (matched.get(rel) ?? 0) + 1);
  };
  for (const level of plan.levels) for (const p of level) consider(p, 'kept-dir');
  for (const l of plan.sharedLinks) {
    if (l.target === `${link.dir}/${l.path}`) consider(l.path, 'shared-dir');
  }
  for (const f of plan.files) consider(f.path, { kind: 'file', digest: f.digest, isExecutable: f.isExecutable });
  for (const [p, target] of plan.symlinks) consider(p, { kind: 'symlink', target });
  if (!ok) return undefined;
  // Every entry of the farm must be one the tree has too: the farm shows them all.
  for (const [rel, own] of farm.entries) {
    if (rel !== '' && !dirs.has(`${at}/${rel}`)) continue; // linked whole (identical), or missing: the parent's count shows it
    if ((matched.get(rel) ?? 0) !== own.size) return undefined;
  }
  return { dirs, entries, additions };
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
  const plan: Plan = { levels: [], files: [], symlinks: new Map(), sharedLinks: [], dirDigests: new Map() };
  let level: PlanItem[] = [{ digest, at: '', shared: shared.map((link) => ({ link, digest: link.tree })) }];
  while (level.length > 0) {
    const kept: PlanItem[] = [];
    for (const item of level) {
      const same = item.shared.find((s) => digestEquals(s.digest, item.digest) && !mustStayReal(s.link, item.at));
      // Concatenated, not join()ed: both are normal already, and a node_modules has hundreds of these per sandbox.
      if (same !== undefined) plan.sharedLinks.push({ path: item.at, target: `${same.link.dir}/${item.at}` });
      else {
        kept.push(item);
        plan.dirDigests.set(item.at, item.digest);
      }
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
      // By name: a node_modules has hundreds of packages, and a scan per child was quadratic.
      const sharedByName = sharedDirs[i]!.map((sd) => new Map(sd.directories.map((x) => [x.name, x])));
      for (const f of dir.files) {
        plan.files.push({ path: joinTreePath(at, f.name), digest: nodeDigest(f.digest, f.name), isExecutable: f.isExecutable });
      }
      for (const s of dir.symlinks) plan.symlinks.set(joinTreePath(at, s.name), s.target);
      for (const d of dir.directories) {
        const childShared: Array<{ link: SharedTreeLink; digest: Digest }> = [];
        item.shared.forEach((s, j) => {
          const node = sharedByName[j]!.get(d.name);
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

function fsStepSync<T>(what: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    if (errnoCode(e) === undefined) throw e;
    throw new FailureError(failure('environment', 'materialize-failed', `materializing a tree: ${what}: ${(e as Error).message}`));
  }
}
