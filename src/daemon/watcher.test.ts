import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FailureError, MemoryLogger } from '../core/index.js';
import { cookiesDir } from './layout.js';
import { contentsPattern, defaultBurstLimit, describeWatchError, nativeIgnorePatterns, startWatcher, type ChangeBatch, type FileWatcher, type WatchBackend } from './watcher.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'trews-w-'));
  roots.push(root);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const RULES = { buildPatterns: ['BUILD'], ignorePatterns: ['.*/', '/dist/'], useGitignore: true };

type Event = { path: string; type: 'create' | 'update' | 'delete' };

/** A scripted @parcel/watcher: the test delivers batches (or errors) by hand. */
class ScriptedBackend implements WatchBackend {
  readonly subscriptions: { dir: string; ignore: (string | RegExp)[]; callback: (err: Error | null, events: Event[]) => void; active: boolean }[] = [];
  failNext: Error | undefined;

  async subscribe(
    dir: string,
    callback: (err: Error | null, events: readonly Event[]) => void,
    options: { ignore: (string | RegExp)[] },
  ): Promise<{ unsubscribe(): Promise<void> }> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    const sub = { dir, ignore: options.ignore, callback: callback as (err: Error | null, events: Event[]) => void, active: true };
    this.subscriptions.push(sub);
    return { unsubscribe: async () => void (sub.active = false) };
  }

  get current(): (typeof this.subscriptions)[number] {
    const s = this.subscriptions.filter((x) => x.active);
    assert.equal(s.length, 1, 'exactly one live subscription');
    return s[0]!;
  }

  deliver(root: string, events: [Event['type'], string][]): void {
    this.current.callback(
      null,
      events.map(([type, p]) => ({ type, path: join(root, p) })),
    );
  }
}

/** A watcher on a scripted backend over a fresh tree, leaving ignored directories out 20 ms after their first event, with the batches it emits. */
async function leavingOut(files: Record<string, string>): Promise<{ root: string; backend: ScriptedBackend; logger: MemoryLogger; w: FileWatcher; batches: ChangeBatch[] }> {
  const root = tree(files);
  const backend = new ScriptedBackend();
  const logger = new MemoryLogger();
  const w = await startWatcher({ root, rules: RULES, logger, cookies: true, pid: 1, backend, leaveOutDelayMs: 20 });
  const batches: ChangeBatch[] = [];
  w.subscribe((b) => batches.push(b));
  return { root, backend, logger, w, batches };
}

/** A watcher on @parcel/watcher over a fresh tree, leaving ignored directories out `delayMs` after their first event, with the paths it reports. */
async function leavingOutForReal(delayMs: number): Promise<{ root: string; logger: MemoryLogger; w: FileWatcher; paths: string[]; changed: string[] }> {
  const root = tree({ 'a/BUILD': '' });
  const logger = new MemoryLogger();
  const w = await startWatcher({ root, rules: RULES, logger, cookies: true, pid: process.pid, leaveOutDelayMs: delayMs });
  const paths: string[] = [];
  const changed: string[] = [];
  w.subscribe((b) => {
    paths.push(...b.paths);
    changed.push(...b.changed);
  });
  return { root, logger, w, paths, changed };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** The inotify watches this process holds (/proc/self/fdinfo of its inotify descriptors). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the watcher, with a scripted backend', () => {
  test('watches the root minus .git, .trews.d (but for its cookies) and the ignored directories', async () => {
    const root = tree({ 'node_modules/x/y': '', '.gitignore': 'node_modules/\n', 'a/BUILD': '' });
    const backend = new ScriptedBackend();
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 1, backend });
    try {
      assert.equal(backend.current.dir, root);
      assert.deepEqual(backend.current.ignore, [...nativeIgnorePatterns(), 'node_modules']);
      assert.ok(existsSync(cookiesDir(root)), 'the cookies directory exists before the watch starts');
    } finally {
      await w.close();
    }
  });

  test('the native patterns leave out what they should, and keep the cookies', () => {
    const ignored = (rel: string): boolean => nativeIgnorePatterns().some((re) => re.test(rel));
    for (const p of ['.git', '.git/HEAD', 'a/.git', 'a/.git/x', '.trews.d/daemon', '.trews.d/daemon.log', '.trews.d/sandboxes/x', 'a/.trews.d', 'a/.trews.d/x']) {
      assert.equal(ignored(p), true, p);
    }
    for (const p of ['.trews.d', '.trews.d/cookies', '.trews.d/cookies/1-2', '.gitignore', 'a/.github', 'a/b.git']) assert.equal(ignored(p), false, p);
  });

  test('hands each batch to the listeners: visible paths for the engine, every changed path for the exit globs', async () => {
    const root = tree({ 'a/BUILD': '' });
    const backend = new ScriptedBackend();
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 1, backend });
    const batches: ChangeBatch[] = [];
    w.subscribe((b) => batches.push(b));
    try {
      backend.deliver(root, [
        ['update', 'a/BUILD'],
        ['create', 'dist/out.js'],
        ['update', '.git/index'],
        ['update', '.trews.d/daemon.log'],
        ['create', 'b/new.txt'],
      ]);
      backend.current.callback(null, [{ type: 'create', path: '/elsewhere/x' }]);
      backend.deliver(root, [['update', '.git/HEAD']]);
      assert.deepEqual(batches, [{ paths: ['a/BUILD', 'b/new.txt'], changed: ['a/BUILD', 'dist/out.js', 'b/new.txt'], everything: false }]);
    } finally {
      await w.close();
    }
  });

  test('sync: a cookie every time, however long the watcher has been quiet; changes made before it are handed on first', async () => {
    const root = tree({ 'a/BUILD': '' });
    const backend = new ScriptedBackend();
    const c = clock();
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 7, backend, now: c.now });
    const seen: string[] = [];
    w.subscribe((b) => seen.push(...b.paths));
    try {
      backend.deliver(root, [['update', 'a/BUILD']]);
      // Quiet for a minute: a watcher digesting a burst delivers nothing either, so this proves nothing.
      c.advance(60_000);
      let synced = false;
      const p = w.sync().then(() => (synced = true));
      await until(() => readdirSync(cookiesDir(root)).length === 1, 'the cookie');
      const [cookie] = readdirSync(cookiesDir(root));
      assert.match(cookie!, /^7-\d+$/);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(synced, false, 'waits for the cookie');
      // The cookie arrives after a change made before it: that change is handed on first.
      backend.deliver(root, [
        ['create', 'a/late.txt'],
        ['create', `.trews.d/cookies/${cookie}`],
      ]);
      await p;
      assert.deepEqual(seen, ['a/BUILD', 'a/late.txt']);
      await until(() => readdirSync(cookiesDir(root)).length === 0, 'the cookie to be removed');
    } finally {
      await w.close();
    }
  });

  test('a burst of events the kernel may have overflowed on invalidates everything', async () => {
    const root = tree({ 'a/BUILD': '' });
    const backend = new ScriptedBackend();
    const c = clock();
    const logger = new MemoryLogger();
    const w = await startWatcher({ root, rules: RULES, logger, cookies: true, pid: 7, backend, now: c.now, burstLimit: 10 });
    const batches: ChangeBatch[] = [];
    w.subscribe((b) => batches.push(b));
    const some = (n: number, tag: string): [Event['type'], string][] => Array.from({ length: n }, (_, i) => ['delete', `junk/${tag}${i}`] as [Event['type'], string]);
    try {
      // Spread out, 9 + 9 events are two bursts, neither of which can have overflowed.
      backend.deliver(root, some(9, 'a'));
      const first = w.burst!();
      c.advance(1001);
      backend.deliver(root, some(9, 'b'));
      assert.ok(batches.every((b) => !b.everything));
      assert.equal(w.burst!(), first + 1, 'a second burst');
      // Close together, they add up.
      c.advance(500);
      backend.deliver(root, some(1, 'c'));
      assert.equal(batches.length, 4);
      assert.deepEqual(batches[2]!.paths, ['junk/c0']);
      assert.equal(batches[3]!.everything, true);
      assert.match(batches[3]!.reason!, /^10 file events came within 1 s, so the kernel may have dropped some/);
      assert.equal(batches[3]!.overflowBurst, first + 1, 'names the burst, so stamps taken before it can stand in (quiet-check.ts)');
      assert.equal(w.burst!(), first + 2, 'a cookie delivered after the limit was reached gets a later number');
      // Counting starts again after it.
      backend.deliver(root, some(9, 'd'));
      assert.equal(batches.length, 5);
      assert.equal(batches[4]!.everything, false);
      // A long busy spell at a modest rate is one burst, but never has 10 events within a second:
      // the kernel's queue is read as fast as it fills, so nothing is taken as lost.
      c.advance(1001);
      backend.deliver(root, some(4, 'e'));
      const spell = w.burst!();
      for (let i = 0; i < 11; i++) {
        c.advance(600);
        backend.deliver(root, some(4, `e${i}-`));
      }
      assert.equal(w.burst!(), spell, 'deliveries 600 ms apart are one burst');
      assert.equal(batches.length, 17);
      assert.ok(batches.slice(5).every((b) => !b.everything), '48 events in 7 s, at most 4 + 4 within a second');
      // Two more within the same second as the last eight make ten.
      c.advance(100);
      backend.deliver(root, some(2, 'f'));
      assert.equal(batches.at(-1)!.everything, true);
      assert.match(batches.at(-1)!.reason!, /^10 file events came within 1 s/);
    } finally {
      await w.close();
    }
    assert.equal(defaultBurstLimit('darwin'), Number.POSITIVE_INFINITY);
    assert.ok(defaultBurstLimit('linux') >= 1);
  });

  test('a cookie that never arrives invalidates everything instead of hanging', async () => {
    const root = tree({});
    const backend = new ScriptedBackend();
    const c = clock();
    const logger = new MemoryLogger();
    const w = await startWatcher({ root, rules: RULES, logger, cookies: true, pid: 7, backend, now: c.now, syncTimeoutMs: 50 });
    const batches: ChangeBatch[] = [];
    w.subscribe((b) => batches.push(b));
    try {
      backend.deliver(root, [['update', 'x']]);
      await w.sync();
      assert.equal(batches.length, 2);
      assert.equal(batches[1]!.everything, true);
      assert.match(batches[1]!.reason!, /did not report the sync cookie/);
      assert.ok(logger.lines.some((l) => l.startsWith('warn') && l.includes('invalidating everything')));
    } finally {
      await w.close();
    }
  });

  test('a watcher error is logged, the watch is set up again, and everything is invalidated', async () => {
    const root = tree({});
    const backend = new ScriptedBackend();
    const logger = new MemoryLogger();
    const w = await startWatcher({ root, rules: RULES, logger, cookies: true, pid: 1, backend });
    const batches: ChangeBatch[] = [];
    w.subscribe((b) => batches.push(b));
    try {
      backend.current.callback(new Error('Events were dropped by the FSEvents client'), []);
      await until(() => batches.length === 1, 'the everything batch');
      assert.equal(batches[0]!.everything, true);
      assert.match(batches[0]!.reason!, /the file watcher failed \(Events were dropped/);
      assert.equal(backend.subscriptions.length, 2);
      assert.equal(backend.subscriptions[0]!.active, false);
      assert.ok(logger.lines.some((l) => l.startsWith('error watcher error: Events were dropped')));
      // Late events of the old subscription are ignored.
      backend.subscriptions[0]!.callback(null, [{ type: 'update', path: join(root, 'x') }]);
      assert.equal(batches.length, 1);
    } finally {
      await w.close();
    }
  });

  test('when the watch cannot be set up again, it gives up and says so', async () => {
    const root = tree({});
    const backend = new ScriptedBackend();
    let fatal: string | undefined;
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 1, backend, onFatal: (m) => (fatal = m) });
    try {
      const original = backend.subscribe.bind(backend);
      backend.subscribe = async () => {
        throw new Error("inotify_add_watch on '/x' failed: No space left on device");
      };
      backend.current.callback(new Error('boom'), []);
      await until(() => fatal !== undefined, 'the watcher to give up');
      assert.match(fatal!, /inotify watches/);
      backend.subscribe = original;
    } finally {
      await w.close();
    }
  });

  test('a .gitignore change sets the watch up again with the new ignores', async () => {
    const root = tree({ 'gen/x': '' });
    const backend = new ScriptedBackend();
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 1, backend });
    const batches: ChangeBatch[] = [];
    w.subscribe((b) => batches.push(b));
    try {
      assert.ok(!backend.current.ignore.includes('gen'));
      writeFileSync(join(root, '.gitignore'), 'gen/\n');
      backend.deliver(root, [['create', '.gitignore']]);
      await until(() => batches.length === 2, 'the everything batch');
      assert.deepEqual(batches[0]!.paths, ['.gitignore']);
      assert.equal(batches[1]!.everything, true);
      assert.equal(batches[1]!.gapBurst, undefined, 'new rules: what was dropped before them is no stamped path');
      assert.ok(backend.current.ignore.includes('gen'));
    } finally {
      await w.close();
    }
  });

  test('nested .gitignore files count as the engine counts them: a directory they hide is left out, one they bring back is seen', async () => {
    // Asking only the root's rules, a/gen (hidden by a/.gitignore) was passed on and watched for good, and a/out (brought
    // back by it, so read by the engine, as git reads it) was dropped with what is in it.
    const { root, backend, w, batches } = await leavingOut({ '.gitignore': 'out/\n', 'a/.gitignore': 'gen/\n!out/\n', 'b/BUILD': '' });
    try {
      mkdirSync(join(root, 'a', 'out'));
      mkdirSync(join(root, 'a', 'gen'));
      mkdirSync(join(root, 'b', 'out'));
      writeFileSync(join(root, 'a', 'out', 'x.js'), '');
      backend.deliver(root, [['create', 'a/out'], ['create', 'a/out/x.js'], ['create', 'a/gen'], ['create', 'a/gen/x.js'], ['create', 'b/out'], ['create', 'b/out/z.js']]);
      assert.deepEqual(batches.at(-1)?.paths, ['a/out', 'a/out/x.js']);
      await until(() => backend.subscriptions.length === 2, 'a/gen and b/out left out');
      const ignore = backend.current.ignore;
      assert.ok(ignore.includes('a/gen') && ignore.includes('b/out') && !ignore.includes('a/out'), ignore.join(', '));
      // Deleted, a/out is not left out by pattern either (its listing is the engine's to see).
      rmSync(join(root, 'a', 'out'), { recursive: true });
      rmSync(join(root, 'b', 'out'), { recursive: true });
      writeFileSync(join(root, 'b', 'BUILD'), 'x');
      backend.deliver(root, [['update', 'b/BUILD'], ['delete', 'a/out']]);
      writeFileSync(join(root, '.gitignore'), 'out/\n');
      backend.deliver(root, [['update', '.gitignore']]);
      await until(() => backend.subscriptions.length === 3, 'the .gitignore change');
      const again = backend.current.ignore;
      assert.ok(!again.some((p) => p instanceof RegExp && p.test('a/out/x.js')), again.join(', '));
      assert.ok(again.some((p) => p instanceof RegExp && p.test('b/out/z.js')), again.join(', '));
    } finally {
      await w.close();
    }
  });

  test('ignored directories created after the start are left out once quiet: one re-subscription, then everything is invalidated unless stamps cover its gap', async () => {
    const { root, backend, logger, w, batches } = await leavingOut({ 'a/BUILD': '' });
    try {
      const burstBefore = w.burst!();
      mkdirSync(join(root, 'dist', 'x'), { recursive: true });
      mkdirSync(join(root, '.store', 'cas'), { recursive: true });
      mkdirSync(join(root, 'a', 'out'), { recursive: true });
      backend.deliver(root, [['create', 'dist'], ['create', 'dist/x'], ['create', 'a/out']]);
      backend.deliver(root, [['create', '.store'], ['create', '.store/cas'], ['create', '.store/cas/blob']]);
      await until(() => backend.subscriptions.length === 2, 'the second subscription');
      await until(() => batches.some((b) => b.everything), 'the everything batch');
      const ignore = backend.current.ignore;
      assert.ok(ignore.includes('dist') && ignore.includes('.store'), ignore.join(', '));
      assert.ok(!ignore.includes('a/out') && !ignore.includes('dist/x') && !ignore.includes('.store/cas'), 'only the outermost ignored directories');
      assert.match(logger.lines.join('\n'), /info ignored directories created since the watch began are left out of it \((dist, \.store|\.store, dist)\); invalidating everything \(unless the paths read were stamped before it\)/);
      assert.doesNotMatch(logger.lines.join('\n'), /^warn/m);
      // The gap's number: later than any cookie seen before it, no later than one seen after.
      const gap = batches.find((b) => b.everything)!.gapBurst;
      assert.ok(gap !== undefined && gap > burstBefore && gap <= w.burst!(), `gap ${gap}, bursts ${burstBefore} then ${w.burst!()}`);
      // What the new subscription leaves out starts no other.
      backend.deliver(root, [['create', 'a/out/y']]);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(backend.subscriptions.length, 2);
    } finally {
      await w.close();
    }
  });

  test('a sync waiting on its cookie when a re-subscription replaces the watch ends with it, not at its timeout', async () => {
    const { root, backend, logger, w, batches } = await leavingOut({ 'a/BUILD': '' });
    try {
      let synced: boolean | undefined;
      const p = w.sync().then((ok) => (synced = ok));
      await until(() => readdirSync(cookiesDir(root)).length === 1, 'the cookie');
      const first = backend.current;
      // An ignored directory made: 20 ms later the watch is replaced, and the old one never reports the cookie.
      backend.deliver(root, [['create', 'dist/x.js']]);
      await until(() => backend.subscriptions.length === 2 && !first.active, 'the re-subscription');
      await p;
      assert.equal(synced, true);
      assert.ok(batches.some((b) => b.everything), 'everything invalidated before the sync ends');
      // The sync takes the gap as delivered: no stamps may stand for it.
      assert.equal(batches.find((b) => b.everything)!.gapBurst, undefined);
      assert.doesNotMatch(logger.lines.join('\n'), /did not report the sync cookie/);
    } finally {
      await w.close();
    }
  });

  test('a directory to leave out that is gone when the watch starts again has its contents left out by pattern: made again, it starts nothing, and a file of its name is seen', async () => {
    const { root, backend, logger, w, batches } = await leavingOut({ '.gitignore': 'out/\n', 'a/BUILD': '' });
    try {
      mkdirSync(join(root, 'a', 'out'), { recursive: true });
      backend.deliver(root, [['create', 'a/out'], ['create', 'a/out/x.js']]);
      // `rm -rf` before the next subscription starts (a restore's dist/, deleted again).
      rmSync(join(root, 'a', 'out'), { recursive: true });
      await until(() => backend.subscriptions.length === 2, 'the second subscription');
      const ignore = backend.current.ignore;
      assert.ok(!ignore.includes('a/out'), 'not by path: a file of that name must be seen');
      const pattern = ignore.find((p): p is RegExp => p instanceof RegExp && p.test('a/out/x.js'));
      assert.ok(pattern !== undefined, ignore.join(', '));
      assert.ok(!pattern.test('a/out') && !pattern.test('a/outer/x.js') && !pattern.test('b/a/out/x.js'));
      assert.match(logger.lines.join('\n'), /watching .* \(0 ignored directories left out, and the contents of 1 absent ones\)/);
      // Made again: its own event starts no other subscription.
      mkdirSync(join(root, 'a', 'out'));
      backend.deliver(root, [['create', 'a/out']]);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(backend.subscriptions.length, 2);
      // A file of that name is visible, and reported.
      rmSync(join(root, 'a', 'out'), { recursive: true });
      writeFileSync(join(root, 'a', 'out'), 'x');
      backend.deliver(root, [['create', 'a/out']]);
      assert.deepEqual(batches.at(-1)?.paths, ['a/out']);
    } finally {
      await w.close();
    }
  });

  test('a re-subscription that fails (a directory deleted under the walk) leaves the same directories out when it is tried again', async () => {
    const { root, backend, logger, w } = await leavingOut({ 'a/BUILD': '' });
    try {
      mkdirSync(join(root, 'dist', 'x'), { recursive: true });
      backend.failNext = new Error(`inotify_add_watch on '${root}/dist/x' failed: No such file or directory`);
      backend.deliver(root, [['create', 'dist'], ['create', 'dist/x']]);
      rmSync(join(root, 'dist'), { recursive: true });
      await until(() => backend.subscriptions.length === 2, 'the subscription tried again');
      assert.match(logger.lines.join('\n'), /cannot watch .* again \(attempt 1\)/);
      assert.ok(
        backend.current.ignore.some((p) => p instanceof RegExp && p.test('dist/x')),
        backend.current.ignore.join(', '),
      );
    } finally {
      await w.close();
    }
  });

  test('a directory left out by path that is gone at the next re-subscription keeps its contents left out', async () => {
    const { root, backend, w } = await leavingOut({ 'a/BUILD': '' });
    try {
      mkdirSync(join(root, 'dist', 'x'), { recursive: true });
      backend.deliver(root, [['create', 'dist'], ['create', 'dist/x']]);
      await until(() => backend.subscriptions.length === 2, 'dist left out');
      assert.ok(backend.current.ignore.includes('dist'));
      // Deleted, and another directory to leave out starts a third subscription.
      rmSync(join(root, 'dist'), { recursive: true });
      mkdirSync(join(root, '.cache', 'y'), { recursive: true });
      backend.deliver(root, [['create', '.cache'], ['create', '.cache/y']]);
      await until(() => backend.subscriptions.length === 3, 'the cache left out');
      const ignore = backend.current.ignore;
      assert.ok(ignore.includes('.cache') && !ignore.includes('dist'), ignore.join(', '));
      assert.ok(ignore.some((p) => p instanceof RegExp && p.test('dist/x')), ignore.join(', '));
    } finally {
      await w.close();
    }
  });

  test('a directory waiting to be left out that a .gitignore change makes visible is watched', async () => {
    const root = tree({ '.gitignore': 'gen/\n' });
    const backend = new ScriptedBackend();
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: 1, backend, leaveOutDelayMs: 60_000 });
    try {
      mkdirSync(join(root, 'gen'));
      backend.deliver(root, [['create', 'gen']]);
      writeFileSync(join(root, '.gitignore'), '');
      backend.deliver(root, [['update', '.gitignore']]);
      await until(() => backend.subscriptions.length === 2, 'the second subscription');
      assert.ok(!backend.current.ignore.includes('gen'), backend.current.ignore.join(', '));
    } finally {
      await w.close();
    }
  });

  test('one expression leaves out the contents of every absent directory, and nothing else', () => {
    const re = contentsPattern(['packages/p1/dist', 'packages/p10/dist', 'packages/p1/dist/sub', 'a.b/(x)', 'c', 'c/d']);
    for (const p of ['packages/p1/dist/x.js', 'packages/p10/dist/a/b.js', 'a.b/(x)/y', 'c/d', 'c/e/f']) assert.ok(re.test(p), p);
    for (const p of ['packages/p1/dist', 'packages/p1/distx/y', 'packages/p2/dist/x', 'packages/p100/dist/x', 'aXb/(x)/y', 'a.b/x/y', 'c', 'cc/d', 'x/c/d']) {
      assert.ok(!re.test(p), p);
    }
  });

  test("a daemon's watch starts from the directories its predecessor left out: one absent now has its contents left out at once", async () => {
    const { root, backend, logger, w } = await leavingOut({ 'a/BUILD': '' });
    mkdirSync(join(root, 'dist', 'x'), { recursive: true });
    mkdirSync(join(root, '.cache'), { recursive: true });
    backend.deliver(root, [['create', 'dist'], ['create', 'dist/x'], ['create', '.cache']]);
    await until(() => backend.subscriptions.length === 2, 'dist left out');
    // Written in turn as the watch changes: wait for the list that names dist, not an earlier one.
    const listFile = join(root, '.trews.d', 'daemon', 'watch-left-out');
    await until(() => existsSync(listFile) && readFileSync(listFile, 'utf8').split('\n').includes('dist'), 'the list written');
    await w.close();
    assert.match(logger.lines.join('\n'), /watching .* \(2 ignored directories left out\)/);
    // Gone before the next daemon starts (a restore's `rm -rf`), and .cache no longer ignored; a hostile line is skipped.
    rmSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, '.trews.d', 'daemon', 'watch-left-out'), `${readFileSync(join(root, '.trews.d', 'daemon', 'watch-left-out'), 'utf8')}../up\n/etc\n`);
    const next = new ScriptedBackend();
    const logger2 = new MemoryLogger();
    const w2 = await startWatcher({ root, rules: { ...RULES, ignorePatterns: ['/dist/'] }, logger: logger2, cookies: true, pid: 2, backend: next, leaveOutDelayMs: 20 });
    try {
      const ignore = next.current.ignore;
      assert.ok(ignore.some((p) => p instanceof RegExp && p.test('dist/x/y.js')), ignore.join(', '));
      assert.ok(!ignore.includes('.cache') && !ignore.some((p) => p instanceof RegExp && p.test('.cache/y')), ignore.join(', '));
      assert.ok(!ignore.some((p) => typeof p === 'string' && (p.includes('..') || p === '/etc')), ignore.join(', '));
      assert.match(logger2.lines.join('\n'), /watching .* \(0 ignored directories left out, and the contents of 1 absent ones\)/);
      // Made again, it starts no re-subscription.
      mkdirSync(join(root, 'dist', 'x'), { recursive: true });
      next.deliver(root, [['create', 'dist']]);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(next.subscriptions.length, 1);
    } finally {
      await w2.close();
    }
  });

  test('an inotify limit at start is a Failure naming the file to raise', async () => {
    const root = tree({});
    const backend = new ScriptedBackend();
    backend.failNext = new Error(`inotify_add_watch on '${root}/a' failed: No space left on device`);
    await assert.rejects(startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: false, pid: 1, backend }), (e: unknown) => {
      assert.ok(e instanceof FailureError);
      assert.equal(e.failure.reason, 'inotify-watch-limit');
      assert.match(e.failure.hints!.join(' '), /\/proc\/sys\/fs\/inotify\/max_user_watches/);
      return true;
    });
    const f = describeWatchError('/r', new Error('Unable to initialize inotify: Too many open files'));
    assert.equal(f.reason, 'inotify-instance-limit');
    assert.match(f.hints!.join(' '), /max_user_instances/);
    assert.equal(describeWatchError('/r', new Error('something else')).reason, 'watch-failed');
  });
});

describe('the watcher, with @parcel/watcher', () => {
  test('reports real changes, leaves out ignored and internal ones, and syncs with a real cookie', async () => {
    const root = tree({ 'a/BUILD': '', 'dist/x': '', '.git/HEAD': '' });
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: process.pid });
    const paths: string[] = [];
    const changed: string[] = [];
    w.subscribe((b) => {
      paths.push(...b.paths);
      changed.push(...b.changed);
    });
    try {
      writeFileSync(join(root, 'dist', 'y'), '');
      writeFileSync(join(root, '.git', 'index'), '');
      mkdirSync(join(root, '.trews.d'), { recursive: true });
      writeFileSync(join(root, '.trews.d', 'daemon.log'), 'x');
      writeFileSync(join(root, 'a', 'BUILD'), 'target()\n');
      await until(() => paths.includes('a/BUILD'), 'the change to a/BUILD');
      writeFileSync(join(root, 'a', 'new.txt'), '');
      // sync waits for its cookie, which comes after new.txt.
      await w.sync();
      assert.ok(paths.includes('a/new.txt'), `a change made before sync() was delivered: ${paths.join(', ')}`);
      assert.ok(!paths.some((p) => p.startsWith('dist/') || p.startsWith('.git') || p.startsWith('.trews.d')), paths.join(', '));
      assert.ok(!changed.some((p) => p.startsWith('.git') || p.startsWith('.trews.d')), changed.join(', '));
    } finally {
      await w.close();
    }
  });

  test('an ignored directory created after the start stops costing inotify watches once it is left out', async () => {
    const { root, logger, w, paths } = await leavingOutForReal(50);
    try {
      const before = inotifyWatches();
      for (let i = 0; i < 20; i++) mkdirSync(join(root, '.store', 'cas', String(i)), { recursive: true });
      await until(() => /left out of it \(\.store\)/.test(logger.lines.join('\n')), 'the store to be left out');
      await until(() => inotifyWatches() === before, 'the watches to go');
      for (let i = 20; i < 40; i++) mkdirSync(join(root, '.store', 'cas', String(i)), { recursive: true });
      writeFileSync(join(root, 'a', 'BUILD'), 'target()\n');
      await w.sync();
      assert.ok(paths.includes('a/BUILD'), 'the new subscription reports changes');
      assert.equal(inotifyWatches(), before, 'and watches nothing in the store');
    } finally {
      await w.close();
    }
  });

  test('an ignored directory gone when it is left out costs one watch once made again, not one per directory in it', async () => {
    const { root, logger, w, paths, changed } = await leavingOutForReal(300);
    try {
      const before = inotifyWatches();
      mkdirSync(join(root, '.store', 'cas', '0'), { recursive: true });
      await until(() => changed.includes('.store'), 'the store to be reported');
      rmSync(join(root, '.store'), { recursive: true });
      await until(() => /contents of 1 absent ones/.test(logger.lines.join('\n')), 'the store to be left out by pattern');
      for (let i = 0; i < 20; i++) mkdirSync(join(root, '.store', 'cas', String(i)), { recursive: true });
      writeFileSync(join(root, 'a', 'BUILD'), 'target()\n');
      await w.sync();
      assert.ok(paths.includes('a/BUILD'), 'the new subscription reports changes');
      assert.equal(inotifyWatches(), before + 1, 'the store itself is watched, nothing in it');
    } finally {
      await w.close();
    }
  });

  test('with symlinks to directories (to a sibling, to `.`, to `/`) changes are reported at their real paths, and nothing outside is watched', async () => {
    const root = tree({ 'real/a.txt': '' });
    symlinkSync('real', join(root, 'link'));
    symlinkSync('.', join(root, 'self'));
    symlinkSync('/', join(root, 'slash'));
    const w = await startWatcher({ root, rules: RULES, logger: new MemoryLogger(), cookies: true, pid: process.pid });
    const paths: string[] = [];
    w.subscribe((b) => paths.push(...b.paths));
    try {
      writeFileSync(join(root, 'link', 'b.txt'), '');
      await until(() => paths.includes('real/b.txt'), 'the change at real/b.txt');
      rmSync(join(root, 'link'));
      await until(() => paths.includes('link'), 'the removal of the link itself');
      assert.ok(!paths.some((p) => p.startsWith('link/') || p.startsWith('self/') || p.startsWith('slash/')), paths.join(', '));
    } finally {
      await w.close();
    }
  });
});
