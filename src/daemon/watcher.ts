import { createRequire } from 'node:module';
import { lstatSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { failure, FailureError, type Logger } from '../core/index.js';
import type { FsRules } from '../fs/index.js';
import { findIgnoredDirs } from './ignored-dirs.js';
import { cookiesDir, daemonDir } from './layout.js';
import { relativeEventPath, WatchFilter, type PathKind } from './watch-filter.js';

/** One delivery of changes, build-root-relative posix paths. */
export interface ChangeBatch {
  /** Paths trews can see whose content, existence or listing changed: what the engine invalidates. */
  readonly paths: readonly string[];
  /** Every changed path outside `.git` and `.trews.d`, ignored ones included (for the daemon's exit globs). */
  readonly changed: readonly string[];
  /** Events may have been lost (a watcher error, a rule change): treat everything as changed. */
  readonly everything: boolean;
  /** Why `everything` is set, for the log and for `--loop`'s message. */
  readonly reason?: string;
  /**
   * Set when `everything` stands for a burst that may have overflowed the
   * kernel's queue: that burst's number (FileWatcher.burst), so that a daemon
   * whose stamps were taken and synced before it began can check them
   * instead of invalidating everything (quiet-check.ts).
   */
  readonly overflowBurst?: number;
  /**
   * Set when `everything` stands for the gap of a re-subscription that only
   * left out more ignored directories (the rules unchanged, no sync waiting):
   * the burst number it began with, so that a daemon whose stamps were synced
   * before it can check them instead (quiet-check.ts coversGap).
   */
  readonly gapBurst?: number;
}

export type ChangeListener = (batch: ChangeBatch) => void;

/** Where `--loop` hears about changes. */
export interface ChangeFeed {
  /** Listeners run synchronously, in order, as each batch arrives. Returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
}

export interface FileWatcher extends ChangeFeed {
  /**
   * Resolves once every change made before the call has been delivered to the
   * listeners, so a run started afterwards sees it (see README: sync cookies).
   * Never rejects; after `syncTimeoutMs` it reports everything as changed instead.
   * True when the cookie came back (every earlier change was delivered as
   * itself); false when everything was reported as changed instead, or the
   * watcher is closed.
   */
  sync(): Promise<boolean>;
  /**
   * The number of the current burst of deliveries (bursts are a second
   * without one apart; reaching the burst limit starts a new number too), if
   * the watcher counts them. A sync whose cookie came back during burst n
   * saw no event lost to an overflow reported for a burst numbered n or later.
   */
  burst?(): number;
  close(): Promise<void>;
}

/** The part of @parcel/watcher used here; tests pass a scripted one. */
export interface WatchBackend {
  subscribe(
    dir: string,
    callback: (err: Error | null, events: readonly { readonly path: string; readonly type: 'create' | 'update' | 'delete' }[]) => void,
    options: { ignore: (string | RegExp)[] },
  ): Promise<{ unsubscribe(): Promise<void> }>;
}

export interface WatcherOptions {
  /** Absolute build root. */
  readonly root: string;
  readonly rules: FsRules;
  readonly logger: Logger;
  /** Write sync cookies (the daemon); an in-process `--loop` has no reader racing its writer and needs none. */
  readonly cookies: boolean;
  readonly backend?: WatchBackend;
  /** Used in cookie names, so two watchers of one root never answer each other's cookies. */
  readonly pid: number;
  readonly syncTimeoutMs?: number;
  /** Events within OVERFLOW_WINDOW_MS of each other from which some may have been dropped unseen (default: defaultBurstLimit()). */
  readonly burstLimit?: number;
  readonly now?: () => number;
  /** The watch was lost and could not be set up again: a daemon must stop serving answers it cannot keep fresh. */
  readonly onFatal?: (message: string) => void;
  /** Time from the first event in an ignored directory created since the watch began until it is left out (default 5 s). */
  readonly leaveOutDelayMs?: number;
}

/**
 * An ignored directory created after the watch began (a build's `dist/`, a
 * store or `node_modules` made inside the root) is watched like any other by
 * @parcel/watcher, which keeps an inotify watch per directory under it and an
 * entry per file in its tree, for as long as the watch lives: a daemon's memory
 * then grows with every file written there (bench/README.md, seventh stop).
 * This long after the first event in one, the watch is set up again leaving
 * out every such directory seen by then (the events in between are lost, so
 * everything is invalidated once): a build creating many of them costs a
 * re-subscription every few seconds at most, and then none.
 */
const LEAVE_OUT_DELAY_MS = 5000;

/**
 * Deliveries less than this far apart belong to one burst of changes (its
 * number is FileWatcher.burst).
 */
const BURST_GAP_MS = 1000;

/**
 * The events delivered within this long of each other are counted against
 * `burstLimit`. The kernel drops events only when they come faster than the
 * watcher's reading thread takes them, so what matters is how many come
 * close together, not how many a long busy spell brings: a cold build
 * writing its outputs for a minute, or two tools restoring 1,200 files each
 * back to back, never gives the queue a quiet second, and counted whole such
 * a spell passed the limit every few thousand events (invalidating
 * everything, or making the next run check every stamp).
 */
const OVERFLOW_WINDOW_MS = 1000;

/**
 * The kernel queues at most `fs.inotify.max_queued_events` unread events per
 * watch (16384 by default) and drops the rest, and @parcel/watcher ignores
 * the overflow notice (IN_Q_OVERFLOW). Events it delivers are merged per path,
 * so a delivery cannot show how many were queued; an eighth of the queue's
 * size delivered within OVERFLOW_WINDOW_MS is taken as a burst that may have
 * overflowed.
 */
export function defaultBurstLimit(platform: NodeJS.Platform = process.platform): number {
  if (platform !== 'linux') return Number.POSITIVE_INFINITY; // FSEvents and others report drops as errors
  let max = 16384;
  try {
    const v = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    if (Number.isSafeInteger(v) && v > 0) max = v;
  } catch {
    // The kernel's default, then.
  }
  return Math.max(1, Math.floor(max / 8));
}

/**
 * Watches `root` with @parcel/watcher (inotify on Linux), minus `.git`,
 * `.trews.d` (but for its `cookies/`) and the ignored directories, and hands
 * each batch of changes to the listeners. Rejects with a FailureError when the
 * watch cannot be set up (the inotify limits name what to raise).
 */
export async function startWatcher(options: WatcherOptions): Promise<FileWatcher> {
  const backend = options.backend ?? (await loadParcel());
  const w = new ParcelFileWatcher(options, backend);
  await w.start();
  return w;
}

async function loadParcel(): Promise<WatchBackend> {
  // Loaded on demand: the thin client shares this folder's index and must not load a native module.
  // By require, not import(): the bundled in-process runner (bin/trews.cjs) runs in a vm.Script, where import() is unavailable.
  const mod = createRequire(import.meta.url)('@parcel/watcher') as { default?: WatchBackend } & WatchBackend;
  return Promise.resolve(mod.default ?? mod);
}

class ParcelFileWatcher implements FileWatcher {
  readonly #o: WatcherOptions;
  readonly #backend: WatchBackend;
  readonly #listeners = new Set<ChangeListener>();
  readonly #now: () => number;
  #subscription: { unsubscribe(): Promise<void> } | undefined;
  #filter: WatchFilter | undefined;
  /** Bumped per subscription, so a late callback of a replaced one is ignored. */
  #generation = 0;
  #lastDelivery = Number.NEGATIVE_INFINITY;
  /** Deliveries of the last OVERFLOW_WINDOW_MS (oldest first) and the sum of their events. */
  readonly #recent: { at: number; events: number }[] = [];
  #recentEvents = 0;
  /** Bumped as each burst begins, after each burst limit reached, and as a coverable re-subscription begins (see FileWatcher.burst). */
  #burstSeq = 0;
  readonly #burstLimit: number;
  #cookieSeq = 0;
  readonly #cookies = new Map<string, () => void>();
  /** A re-subscription in progress; syncs wait for it. */
  #refreshing: Promise<void> | undefined;
  #closed = false;
  /** The directories the current subscription leaves out (none are left out one by one when the walk found too many). */
  #leftOut: ReadonlySet<string> = new Set();
  #leftOutComplete = true;
  /** Ignored directories created since the watch began, to be left out when the next subscription starts (LEAVE_OUT_DELAY_MS). */
  readonly #toLeaveOut = new Set<string>();
  /**
   * Ignored directories to leave out that were absent when the subscription
   * started (a `dist/` deleted again before it): their contents are left out
   * by pattern, and they themselves are watched, so that one made again costs
   * no re-subscription and a *file* of that name is still seen.
   */
  #contentsLeftOut: ReadonlySet<string> = new Set();
  #leaveOutTimer: NodeJS.Timeout | undefined;
  /** What this watcher last wrote to the file of remembered directories (rememberedPath). */
  #remembered: string | undefined;
  #rememberWrites: Promise<unknown> = Promise.resolve();

  constructor(o: WatcherOptions, backend: WatchBackend) {
    this.#o = o;
    this.#backend = backend;
    this.#now = o.now ?? (() => performance.now());
    this.#burstLimit = o.burstLimit ?? (o.backend === undefined ? defaultBurstLimit() : Number.POSITIVE_INFINITY);
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    const { root, rules, logger } = this.#o;
    if (this.#o.cookies) await mkdir(cookiesDir(root), { recursive: true });
    const t0 = this.#now();
    const ignored = await findIgnoredDirs(root, rules);
    const kindOf = (rel: string): PathKind => {
      try {
        return lstatSync(join(root, rel)).isDirectory() ? 'dir' : 'file';
      } catch {
        return 'missing';
      }
    };
    const filter = new WatchFilter(ignored.rootRules, ignored.dirs, kindOf, ignored.nested);
    // Directories created since the last walk that the rules (which may have changed: a .gitignore) still hide:
    // by path where one is now; where none is, its contents by pattern (#contentsLeftOut).
    const leftOut = new Set(ignored.dirs);
    const contentsLeftOut = new Set<string>();
    // Forgotten only once this subscription stands: a failed one (a directory of the walk
    // deleted before the native watch reached it) is tried again with them.
    const pending = [...this.#toLeaveOut];
    if (!ignored.truncated) {
      // The last subscription's too: one absent now (deleted again) keeps its contents left out.
      // A daemon's first starts from those its predecessor left out (a restore's dist/, deleted now):
      // watched, they would cost a burst of events and a re-subscription once made again.
      const remembered = this.#generation === 0 && this.#o.cookies ? readRemembered(this.#o.root) : [];
      for (const d of [...pending, ...this.#leftOut, ...this.#contentsLeftOut, ...remembered]) {
        const hiding = filter.hidingDirIfDir(d);
        if (hiding === undefined) continue;
        const kind = kindOf(hiding);
        if (kind === 'dir') leftOut.add(hiding);
        else if (kind === 'missing') contentsLeftOut.add(hiding);
      }
    }
    for (const d of leftOut) contentsLeftOut.delete(d);
    const generation = ++this.#generation;
    try {
      const sub = await this.#backend.subscribe(root, (err, events) => this.#onEvents(generation, err, events), {
        ignore: [...nativeIgnorePatterns(), ...leftOut, ...(contentsLeftOut.size > 0 ? [contentsPattern(contentsLeftOut)] : [])],
      });
      if (this.#closed) {
        await sub.unsubscribe().catch(() => {});
        return;
      }
      this.#subscription = sub;
      this.#filter = filter;
      this.#leftOut = leftOut;
      this.#contentsLeftOut = contentsLeftOut;
      this.#leftOutComplete = !ignored.truncated;
      for (const d of pending) this.#toLeaveOut.delete(d);
      if (this.#o.cookies) this.#remember([...leftOut, ...contentsLeftOut]);
    } catch (e) {
      throw new FailureError(describeWatchError(root, e));
    }
    logger.info(
      `watching ${root} (${leftOut.size}${ignored.truncated ? '+' : ''} ignored directories left out${contentsLeftOut.size > 0 ? `, and the contents of ${contentsLeftOut.size} absent ones` : ''}) in ${Math.round(this.#now() - t0)} ms`,
    );
  }

  async sync(): Promise<boolean> {
    if (this.#closed) return false;
    // Let callbacks the native side has already queued run first.
    await yieldToLoop();
    if (this.#refreshing) await this.#refreshing;
    if (!this.#o.cookies) return true;
    if (this.#subscription === undefined) return false;
    // Always, however quiet the watcher has been: while it works through a burst
    // (tens of thousands of deletions take it seconds) it delivers nothing, so
    // silence proves nothing. The cookie lines up behind every change made
    // before it, so seeing it means the watcher has caught up past this moment.
    const name = `${this.#o.pid}-${++this.#cookieSeq}`;
    const path = join(cookiesDir(this.#o.root), name);
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<boolean>((resolve) => {
      this.#cookies.set(name, () => resolve(true));
      timer = setTimeout(() => resolve(false), this.#o.syncTimeoutMs ?? 5000);
    });
    try {
      await writeFile(path, '');
    } catch (e) {
      this.#cookies.delete(name);
      clearTimeout(timer);
      this.#everything(`cannot write the sync cookie ${path}: ${(e as Error).message}`);
      return false;
    }
    const ok = await seen;
    clearTimeout(timer);
    this.#cookies.delete(name);
    void rm(path, { force: true }).catch(() => {});
    if (!ok) this.#everything(`the watcher did not report the sync cookie ${name} within ${this.#o.syncTimeoutMs ?? 5000} ms`);
    return ok && !this.#closed;
  }

  burst(): number {
    return this.#burstSeq;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#leaveOutTimer);
    this.#generation++;
    for (const done of this.#cookies.values()) done();
    this.#cookies.clear();
    const sub = this.#subscription;
    this.#subscription = undefined;
    if (sub) await sub.unsubscribe().catch(() => {});
  }

  #onEvents(generation: number, err: Error | null, events: readonly { readonly path: string; readonly type: string }[]): void {
    if (generation !== this.#generation || this.#closed) return;
    const now = this.#now();
    if (now - this.#lastDelivery > BURST_GAP_MS) this.#burstSeq++;
    this.#lastDelivery = now;
    while (this.#recent.length > 0 && now - this.#recent[0]!.at >= OVERFLOW_WINDOW_MS) this.#recentEvents -= this.#recent.shift()!.events;
    this.#recent.push({ at: now, events: events.length });
    this.#recentEvents += events.length;
    if (err) {
      this.#o.logger.error(`watcher error: ${err.message}`);
      // @parcel/watcher drops a subscription that failed; watch again, and trust nothing seen meanwhile.
      this.#refresh(`the file watcher failed (${err.message})`);
      return;
    }
    const filter = this.#filter!;
    const paths: string[] = [];
    const changed: string[] = [];
    const cookies: string[] = [];
    let gitignore = false;
    for (const e of events) {
      const rel = relativeEventPath(this.#o.root, e.path);
      if (rel === undefined) continue;
      const c = filter.classify(rel);
      if (c.kind === 'cookie') {
        if (e.type !== 'delete') cookies.push(c.name);
        continue;
      }
      if (c.kind === 'internal') continue;
      changed.push(rel);
      if (c.kind === 'ignored' && e.type !== 'delete' && this.#leftOutComplete) {
        const dir = filter.hidingDir(rel);
        if (dir !== undefined && !this.#leftOut.has(dir) && !this.#contentsLeftOut.has(dir)) this.#leaveOut(dir);
      }
      if (c.kind !== 'visible') continue;
      paths.push(rel);
      if (this.#o.rules.useGitignore && (rel === '.gitignore' || rel.endsWith('/.gitignore'))) gitignore = true;
    }
    if (changed.length > 0) {
      this.#o.logger.debug(`watcher: ${changed.length} changed (${paths.length} visible): ${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''}`);
      this.#emit({ paths, changed, everything: false });
    }
    if (this.#recentEvents >= this.#burstLimit) {
      // The kernel may have dropped events of this burst without a trace; only what is on disk now can be trusted.
      this.#everything(
        `${this.#recentEvents} file events came within ${OVERFLOW_WINDOW_MS / 1000} s, so the kernel may have dropped some (its queue holds fs.inotify.max_queued_events)`,
        'warn',
        { overflowBurst: this.#burstSeq },
      );
      this.#recent.length = 0;
      this.#recentEvents = 0;
      // A cookie delivered from now on came after events that may be lost: it gets a later number.
      this.#burstSeq++;
    }
    // Which directories are left out of the watch depends on the .gitignore files.
    if (gitignore) this.#refresh('a .gitignore changed');
    // Last: a cookie's waiter may start a run, which must see this batch's changes.
    for (const name of cookies) this.#cookies.get(name)?.();
  }

  #emit(batch: ChangeBatch): void {
    for (const l of [...this.#listeners]) {
      try {
        l(batch);
      } catch (e) {
        this.#o.logger.error(`watch listener failed: ${(e as Error).stack ?? String(e)}`);
      }
    }
  }

  /** `stamped`: what stamps synced before the loss can stand for instead (ChangeBatch.overflowBurst or gapBurst). */
  #everything(reason: string, level: 'info' | 'warn' = 'warn', stamped?: { readonly overflowBurst: number } | { readonly gapBurst: number }): void {
    this.#o.logger[level](`${reason}; invalidating everything${stamped !== undefined ? ' (unless the paths read were stamped before it)' : ''}`);
    this.#emit({ paths: [], changed: [], everything: true, reason, ...stamped });
  }

  /** Writes what this subscription leaves out for the next daemon (readRemembered), when it differs from what is there. */
  #remember(dirs: string[]): void {
    const text = dirs.length === 0 ? '' : `${dirs.sort().slice(0, MAX_REMEMBERED).join('\n')}\n`;
    if (text === this.#remembered) return;
    this.#remembered = text;
    const path = rememberedPath(this.#o.root);
    const tmp = `${path}.${this.#o.pid}.tmp`;
    // One write at a time, so that the last one written is the last one asked for.
    this.#rememberWrites = this.#rememberWrites
      .then(() => mkdir(daemonDir(this.#o.root), { recursive: true }))
      .then(() => writeFile(tmp, text))
      .then(() => rename(tmp, path))
      .catch((e: Error) => {
        this.#o.logger.debug(`cannot write ${path}: ${e.message}`);
        return rm(tmp, { force: true }).catch(() => {});
      });
  }

  /** Leaves `dir` out of the watch a while after the first event in an ignored directory still watched (LEAVE_OUT_DELAY_MS). */
  #leaveOut(dir: string): void {
    if (this.#closed) return;
    this.#toLeaveOut.add(dir);
    // Counted from the first such event, not the last: a store inside the root is written to by every run.
    if (this.#leaveOutTimer !== undefined) return;
    this.#leaveOutTimer = setTimeout(() => {
      this.#leaveOutTimer = undefined;
      if (this.#toLeaveOut.size === 0) return;
      const dirs = [...this.#toLeaveOut];
      this.#refresh(`ignored directories created since the watch began are left out of it (${dirs.slice(0, 3).join(', ')}${dirs.length > 3 ? `, and ${dirs.length - 3} more` : ''})`, 'info', true);
    }, this.#o.leaveOutDelayMs ?? LEAVE_OUT_DELAY_MS);
    this.#leaveOutTimer.unref();
  }

  /**
   * Subscribes again with freshly computed ignores; events in between are
   * lost, so everything is invalidated after. `leavingOut`: only to leave out
   * more ignored directories (the rules are those of the last subscription),
   * so stamps synced before the gap can stand for it (ChangeBatch.gapBurst),
   * unless a sync is waiting, which would take the gap as delivered.
   */
  #refresh(reason: string, level: 'info' | 'warn' = 'warn', leavingOut = false): void {
    if (this.#refreshing || this.#closed) return;
    // A cookie that comes back from now on came after the gap: it gets a later number.
    const gap = leavingOut && this.#cookies.size === 0 ? ++this.#burstSeq : undefined;
    this.#refreshing = (async () => {
      const old = this.#subscription;
      this.#subscription = undefined;
      this.#generation++;
      if (old) await old.unsubscribe().catch(() => {});
      for (let attempt = 1; !this.#closed; attempt++) {
        try {
          await this.start();
          break;
        } catch (e) {
          const f = e instanceof FailureError ? e.failure.message : String(e);
          this.#o.logger.error(`cannot watch ${this.#o.root} again (attempt ${attempt}): ${f}`);
          if (attempt >= 3) {
            this.#emit({ paths: [], changed: [], everything: true, reason: `the file watcher stopped: ${f}` });
            this.#o.onFatal?.(f);
            return;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
      this.#everything(reason, level, gap !== undefined && this.#cookies.size === 0 ? { gapBurst: gap } : undefined);
      // A sync whose cookie was written before the old subscription went may never see it
      // (its event went to that subscription, or to none), and waited out its timeout, 5 s,
      // on a daemon's next run. What it waited for is done: everything is invalidated, so
      // every change made before the cookie is accounted for.
      for (const done of [...this.#cookies.values()]) done();
    })().finally(() => {
      this.#refreshing = undefined;
    });
  }
}

/**
 * What leaves out everything under each of `dirs` (root-relative) but not the
 * directories themselves: @parcel/watcher matches it against root-relative
 * paths. One expression, shaped as a tree of the paths' common prefixes:
 * @parcel/watcher tries every ignore expression on every path it walks, and a
 * thousand of them (one per absent `dist/`) made a subscription take 80 s,
 * where this one adds a fraction of a second (bench/README.md, twelfth stop).
 */
export function contentsPattern(dirs: Iterable<string>): RegExp {
  type Node = Map<string, Node>;
  const tree: Node = new Map();
  const END = '';
  for (const d of dirs) {
    let node = tree;
    for (const ch of `${d}/`) {
      if (node.has(END)) break; // a shorter one covers it
      let next = node.get(ch);
      if (next === undefined) node.set(ch, (next = new Map()));
      node = next;
    }
    node.clear();
    node.set(END, new Map());
  }
  const source = (node: Node): string => {
    if (node.has(END)) return '';
    const branches = [...node].map(([ch, next]) => ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + source(next));
    return branches.length === 1 ? branches[0]! : `(?:${branches.join('|')})`;
  };
  return new RegExp(`^${source(tree)}`);
}

/** Remembered left-out directories beyond this many are not worth a daemon's start. */
const MAX_REMEMBERED = 5000;

/** `.trews.d/daemon/watch-left-out`: the directories the last subscription left out, one per line. */
function rememberedPath(root: string): string {
  return join(daemonDir(root), 'watch-left-out');
}

/**
 * The directories a daemon's watch last left out: only a hint, since each is
 * checked against the rules and the disk before it is left out again.
 */
function readRemembered(root: string): string[] {
  let text: string;
  try {
    text = readFileSync(rememberedPath(root), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('/') && !l.split('/').includes('..')).slice(0, MAX_REMEMBERED);
}

/**
 * Left out of the native watch by pattern: `.git` and `.trews.d` at any depth,
 * except the root `.trews.d/cookies/` (the root `.trews.d` itself is watched so
 * that its `cookies` child is). @parcel/watcher matches a RegExp anywhere in the
 * root-relative path.
 */
export function nativeIgnorePatterns(): RegExp[] {
  return [/(?:^|\/)\.git(?:\/|$)/, /^\.trews\.d\/(?!cookies(?:\/|$))/, /.\/\.trews\.d(?:\/|$)/];
}

/** A failed watch as the user should read it: the inotify limits name the file to raise. */
export function describeWatchError(root: string, e: unknown): ReturnType<typeof failure> {
  const msg = e instanceof Error ? e.message : String(e);
  if (/no space left on device|ENOSPC/i.test(msg)) {
    return failure('environment', 'inotify-watch-limit', `cannot watch ${root}: the system limit on inotify watches was reached (${msg})`, {
      hints: [
        'raise /proc/sys/fs/inotify/max_user_watches, e.g. `sudo sysctl fs.inotify.max_user_watches=524288` (add `fs.inotify.max_user_watches=524288` to /etc/sysctl.conf to keep it)',
        'or add directories trews need not see to `ignore` in trews.toml',
      ],
    });
  }
  if (/too many open files|EMFILE/i.test(msg) && /inotify/i.test(msg)) {
    return failure('environment', 'inotify-instance-limit', `cannot watch ${root}: the system limit on inotify instances was reached (${msg})`, {
      hints: ['raise /proc/sys/fs/inotify/max_user_instances, e.g. `sudo sysctl fs.inotify.max_user_instances=1024`'],
    });
  }
  return failure('environment', 'watch-failed', `cannot watch ${root}: ${msg}`);
}
