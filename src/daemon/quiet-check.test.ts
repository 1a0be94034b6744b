import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MemoryLogger } from '../core/index.js';
import { MAX_RACY_PATHS, QuietCheck, type QuietCheckOptions } from './quiet-check.js';
import type { ChangeListener, FileWatcher } from './watcher.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A watcher whose sync the test answers: counts cookies, delivers batches by hand. */
class HandWatcher implements FileWatcher {
  syncs = 0;
  /** The burst the watcher is in (FileWatcher.burst): the test moves it on. */
  burstSeq = 1;
  answer = true;
  #waiting: (() => void)[] = [];
  holdSyncs = false;

  subscribe(_l: ChangeListener): () => void {
    return () => {};
  }
  async sync(): Promise<boolean> {
    this.syncs++;
    if (this.holdSyncs) await new Promise<void>((r) => this.#waiting.push(r));
    return this.answer;
  }
  burst(): number {
    return this.burstSeq;
  }
  release(): void {
    for (const r of this.#waiting.splice(0)) r();
  }
  async close(): Promise<void> {}
}

interface Setup {
  root: string;
  watcher: HandWatcher;
  quiet: QuietCheck;
  logger: MemoryLogger;
  /** Each batch the check queued for invalidation. */
  invalidated: string[][];
  /** How often it invalidated everything. */
  all: { count: number };
}

/**
 * A build root with files the graph "read". The clock runs 10 s ahead, so the
 * files the test just wrote count as old enough to stamp (a test cannot wait
 * out the racy margin); `now` set to the real clock makes them too fresh.
 */
function setup(
  o: { now?: () => number; enabled?: boolean; maxPaths?: number; changedPaths?: QuietCheckOptions['changedPaths']; readsOtherwise?: QuietCheckOptions['readsOtherwise'] } = {},
): Setup {
  const root = mkdtempSync(join(tmpdir(), 'trews-quiet-'));
  roots.push(root);
  mkdirSync(join(root, 'pkg'));
  writeFileSync(join(root, 'BUILD'), 'files(name="a")\n');
  writeFileSync(join(root, 'pkg', 'BUILD'), 'files(name="b")\n');
  const paths = ['', 'BUILD', 'pkg', 'pkg/BUILD', 'pkg/absent.txt'];
  const watcher = new HandWatcher();
  const logger = new MemoryLogger();
  const invalidated: string[][] = [];
  const all = { count: 0 };
  const quiet = new QuietCheck({
    root,
    watcher,
    paths: () => paths,
    invalidate: (p) => invalidated.push([...p].sort()),
    invalidateAll: () => all.count++,
    logger,
    enabled: o.enabled ?? true,
    now: o.now ?? (() => Date.now() + 10_000),
    ...(o.maxPaths !== undefined ? { maxPaths: o.maxPaths } : {}),
    ...(o.changedPaths !== undefined ? { changedPaths: o.changedPaths } : {}),
    ...(o.readsOtherwise !== undefined ? { readsOtherwise: o.readsOtherwise } : {}),
  });
  return { root, watcher, quiet, logger, invalidated, all };
}

/** One run through the daemon: enters, waits as the check says, ends. */
async function run(s: Setup): Promise<string> {
  s.quiet.activity(1);
  const verdict = await s.quiet.beforeRun();
  s.quiet.activity(0);
  return verdict;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const log = (s: Setup): string => s.logger.lines.join('\n');

describe('QuietCheck', () => {
  test('the first run syncs; once idle the daemon proves its graph and the next run needs no cookie', async () => {
    const s = setup();
    assert.equal(await run(s), 'synced');
    await settle();
    assert.equal(s.watcher.syncs, 2, 'the run’s cookie and the idle proof’s');
    assert.equal(await run(s), 'stamped');
    assert.equal(s.watcher.syncs, 3, 'the run wrote no cookie (the third is the proof after it)');
    assert.deepEqual(s.invalidated, []);
    assert.match(log(s), /no sync needed: 0 of 5 paths changed since the last sync/);
    await settle();
    assert.equal(await run(s), 'stamped', 'proved again after that run');
    s.quiet.close();
  });

  test('an edited file the graph read is invalidated by the next run, which writes no cookie', async () => {
    const s = setup();
    await run(s);
    await settle();
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="c")\n'); // same size, new content
    const syncs = s.watcher.syncs;
    assert.equal(await run(s), 'stamped');
    assert.equal(s.watcher.syncs, syncs + 1, 'only the proof after the run');
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    s.quiet.close();
  });

  test('of the moved paths, only those the graphs read otherwise are invalidated (an ignored entry came and went)', async () => {
    const asked: string[][] = [];
    // The graphs' answer: the listing of pkg reads as held (what came is ignored), BUILD does not.
    const s = setup({
      readsOtherwise: async (paths) => {
        asked.push([...paths].sort());
        return new Set([...paths].filter((p) => p !== 'pkg'));
      },
    });
    await run(s);
    await settle();
    mkdirSync(join(s.root, 'pkg', 'dist'));
    writeFileSync(join(s.root, 'BUILD'), 'files(name="z")\n');
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(asked, [['BUILD', 'pkg']]);
    assert.deepEqual(s.invalidated, [['BUILD']]);
    assert.match(log(s), /2 of 5 paths changed since the last sync.*; 1 of the changed read as the graph holds them \([0-9.]+ ms\), 1 invalidated/);
    s.quiet.close();
  });

  test('a burst that may overflow while the graphs read the moved paths again is not covered by the proof in use', async () => {
    let release = (): void => undefined;
    const s = setup({
      readsOtherwise: async (paths) => {
        await new Promise<void>((r) => (release = r));
        return new Set(paths);
      },
    });
    await run(s);
    await settle();
    writeFileSync(join(s.root, 'BUILD'), 'files(name="z")\n');
    s.quiet.activity(1);
    const verdict = s.quiet.beforeRun();
    await settle();
    // The proof is spent: lost events cannot be left to stamps no run will check.
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), false);
    release();
    assert.equal(await verdict, 'stamped');
    s.quiet.activity(0);
    s.quiet.close();
  });

  test('a file created where the graph found none, or in a directory it listed, is invalidated with its directory', async () => {
    for (const [rel, expected] of [
      ['pkg/absent.txt', ['pkg', 'pkg/absent.txt']],
      ['pkg/new.txt', ['pkg']],
    ] as const) {
      const s = setup();
      await run(s);
      await settle();
      writeFileSync(join(s.root, rel), 'x');
      assert.equal(await run(s), 'stamped', rel);
      assert.deepEqual(s.invalidated, [expected], rel);
      s.quiet.close();
    }
  });

  test('a run that entered or ended since the proof voids it: the graphs may have read paths it does not cover', async () => {
    const s = setup();
    await run(s);
    await settle();
    // Two clients at once: the first goes on the proof; the second must sync.
    s.quiet.activity(1);
    s.quiet.activity(2);
    assert.equal(await s.quiet.beforeRun(), 'stamped');
    assert.equal(await s.quiet.beforeRun(), 'synced');
    s.quiet.activity(1);
    s.quiet.activity(0);
    s.quiet.close();
  });

  test('a run arriving while the proof’s cookie is out waits for it, then needs none of its own', async () => {
    const s = setup();
    await run(s);
    s.watcher.holdSyncs = true;
    s.quiet.activity(0); // idle again: a proof is under way, its cookie held
    await settle();
    const syncsBefore = s.watcher.syncs;
    s.quiet.activity(1);
    const verdict = s.quiet.beforeRun();
    await settle();
    s.watcher.release();
    assert.equal(await verdict, 'stamped');
    assert.equal(s.watcher.syncs, syncsBefore, 'no second cookie');
    s.quiet.activity(0);
    s.watcher.holdSyncs = false;
    s.quiet.close();
  });

  test('paths changed too recently to stamp are proven by their contents: the run neither re-reads them nor syncs', async () => {
    const s = setup({ now: Date.now });
    await run(s);
    await settle();
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, []);
    assert.match(log(s), /0 of 5 paths changed since the last sync, 0 of them too recent to trust; 4 recent ones unchanged by their contents/);
    s.quiet.close();
  });

  /** Stamps that never move: a file system whose timestamps are too coarse to show an edit in the same tick. */
  const stampsNeverMove = (): Set<string> => new Set();

  /** More recent files the graph read than are worth re-reading, on stamps that never move: only their contents can prove them. */
  function manyRecent(): Setup & { paths: string[] } {
    const root = mkdtempSync(join(tmpdir(), 'trews-quiet-'));
    roots.push(root);
    const paths = Array.from({ length: MAX_RACY_PATHS + 2 }, (_, i) => `f${String(i).padStart(2, '0')}`);
    for (const p of paths) writeFileSync(join(root, p), p);
    const watcher = new HandWatcher();
    const logger = new MemoryLogger();
    const invalidated: string[][] = [];
    const all = { count: 0 };
    const quiet = new QuietCheck({ root, watcher, paths: () => paths, invalidate: (p) => invalidated.push([...p]), invalidateAll: () => all.count++, logger, enabled: true, changedPaths: stampsNeverMove });
    return { root, watcher, quiet, logger, invalidated, all, paths };
  }

  test('a recent file edited in the same timestamp tick with the same size is invalidated: its content moved', async () => {
    const s = setup({ now: Date.now, changedPaths: stampsNeverMove });
    await run(s);
    await settle();
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="c")\n'); // same size as files(name="b")
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    s.quiet.close();
  });

  test('a recent directory that gained an entry in the same tick is invalidated: its listing moved', async () => {
    const s = setup({ now: Date.now, changedPaths: stampsNeverMove });
    await run(s);
    await settle();
    writeFileSync(join(s.root, 'pkg', 'new.txt'), 'x');
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, [['pkg']]);
    s.quiet.close();
  });

  test('an old path is trusted by its stamp alone; only recent ones are compared by content', async () => {
    // The clock 10 s ahead: nothing is recent, so an edit the stamps cannot show goes unseen here — what the racy rule is for.
    const s = setup({ changedPaths: stampsNeverMove });
    await run(s);
    await settle();
    assert.equal(await run(s), 'stamped');
    assert.match(log(s), /0 of them too recent to trust; 0 recent ones unchanged by their contents/);
    s.quiet.close();
  });

  test('more recent paths whose contents moved than are worth re-reading: the run syncs instead', async () => {
    const s = manyRecent();
    const { root, quiet, invalidated, paths } = s;
    await run(s);
    await settle();
    assert.equal(await run(s), 'stamped', 'unchanged contents prove them all');
    await settle();
    for (const p of paths) writeFileSync(join(root, p), p.toUpperCase());
    assert.equal(await run(s), 'synced');
    assert.deepEqual(invalidated, [], 'the cookie delivers what changed; nothing is re-read on the stamps’ account');
    assert.match(log(s), new RegExp(`${MAX_RACY_PATHS + 2} paths too recent to trust their stamps or contents`));
    quiet.close();
  });

  test('a cookie that did not come back (everything invalidated instead) leaves no proof', async () => {
    const s = setup();
    s.watcher.answer = false;
    await run(s);
    await settle();
    assert.equal(s.watcher.syncs, 2, 'the proof was attempted');
    s.watcher.answer = true;
    assert.equal(await run(s), 'synced');
    s.quiet.close();
  });

  test('a burst that may have overflowed after the proof: the next run finds the change whose event was lost in the stamps, and nothing else is invalidated', async () => {
    const s = setup();
    await run(s);
    await settle();
    s.watcher.burstSeq++; // a burst begins after the proof's cookie came back
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="lost")\n'); // its event dropped by the kernel
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), true);
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    assert.equal(s.all.count, 0);
    s.quiet.close();
  });

  test('an overflow reported before the proof’s cookie came back is not covered: events before the stamps may be lost', async () => {
    const s = setup();
    await run(s);
    await settle();
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq - 1), false);
    assert.equal(await run(s), 'stamped');
    assert.equal(s.all.count, 0, 'the caller invalidates everything, not the check');
    await settle();
    // Later in the burst that delivered the cookie (fewer events before it than the limit): covered.
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), true);
    s.quiet.close();
  });

  test('a covered overflow whose proof the run cannot use invalidates everything before the run syncs', async () => {
    const s = setup({ changedPaths: () => new Set() });
    await run(s);
    await settle();
    s.watcher.burstSeq++;
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), true);
    // Two runs at once: the second finds the proof spent by the first.
    s.quiet.activity(1);
    s.quiet.activity(2);
    assert.equal(await s.quiet.beforeRun(), 'stamped');
    assert.equal(s.all.count, 0);
    s.quiet.activity(1);
    s.quiet.activity(0);
    await settle();
    s.watcher.burstSeq++;
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), true);
    // A run entered and ended before the next one: the proof is void, and everything goes.
    s.quiet.activity(1);
    s.quiet.activity(0);
    assert.equal(await s.quiet.beforeRun(), 'synced');
    assert.equal(s.all.count, 1);
    s.quiet.close();
  });

  test('after a covered overflow no newer proof replaces the one taken before it (its stamps would take a lost change as seen)', async () => {
    const s = setup();
    await run(s);
    await settle();
    s.watcher.burstSeq++;
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="lost")\n'); // event dropped
    assert.equal(s.quiet.coversOverflow(s.watcher.burstSeq), true);
    s.quiet.activity(0); // idle again: would prove anew
    await settle();
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    s.quiet.close();
  });

  test('a re-subscription gap after the proof is settled at once while idle: the change whose event was lost is queued, nothing else, and the daemon proves again', async () => {
    const s = setup();
    await run(s);
    await settle();
    const proofs = (): number => (log(s).match(/paths stamped \(0 too recent to trust\) and synced/g) ?? []).length;
    assert.equal(proofs(), 1);
    s.watcher.burstSeq++; // the re-subscription begins after the proof's cookie came back
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="lost")\n'); // its event lost in the gap
    assert.equal(s.quiet.coversGap(s.watcher.burstSeq), true);
    await settle();
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    assert.equal(s.all.count, 0);
    assert.match(log(s), /watcher: the watch was set up again: 1 of 5 paths changed since the last sync \(pkg\/BUILD…\)/);
    assert.equal(proofs(), 2, 'proved anew while idle, not frozen until a run');
    // The next run goes on the new proof: nothing moved since.
    assert.equal(await run(s), 'stamped');
    assert.deepEqual(s.invalidated, [['pkg/BUILD']]);
    s.quiet.close();
  });

  test('a gap is not covered by a proof whose cookie came back after it began, nor during a run, nor without a proof', async () => {
    const s = setup();
    assert.equal(s.quiet.coversGap(s.watcher.burstSeq + 1), false, 'no proof yet');
    await run(s);
    await settle();
    assert.equal(s.quiet.coversGap(s.watcher.burstSeq), false, 'the cookie came back in the gap’s burst or later');
    s.quiet.activity(1);
    assert.equal(s.quiet.coversGap(s.watcher.burstSeq + 1), false, 'a run in progress');
    s.quiet.activity(0);
    assert.equal(s.all.count, 0, 'the caller invalidates everything, not the check');
    s.quiet.close();
  });

  test('a gap whose proof cannot be used (more recent paths whose contents moved than are worth re-reading) invalidates everything', async () => {
    const s = manyRecent();
    const { root, watcher, quiet, invalidated, all, paths } = s;
    await run(s);
    await settle();
    for (const p of paths) writeFileSync(join(root, p), p.toUpperCase());
    watcher.burstSeq++;
    assert.equal(quiet.coversGap(watcher.burstSeq), true);
    await settle();
    assert.equal(all.count, 1);
    assert.deepEqual(invalidated, []);
    assert.match(log(s), /the stamps taken before the watch was set up again cannot be used; invalidating everything/);
    quiet.close();
  });

  test('more paths than stamping is worth: runs sync', async () => {
    const s = setup({ maxPaths: 4 });
    await run(s);
    await settle();
    assert.equal(s.watcher.syncs, 1, 'no proof was attempted');
    assert.equal(await run(s), 'synced');
    assert.match(log(s), /the graphs read 5 paths, more than stamping them is worth/);
    s.quiet.close();
  });

  test('disabled (daemon_invalidation_globs set): every run syncs', async () => {
    const s = setup({ enabled: false });
    await run(s);
    await settle();
    assert.equal(await run(s), 'synced');
    assert.equal(s.watcher.syncs, 2);
    s.quiet.close();
  });
});

describe('QuietCheck.nextProof (a daemon run recorded for replay)', () => {
  test('asked as a run ends: the proof its end starts, with every path stamped after the run', async () => {
    const s = setup();
    s.quiet.activity(1);
    await s.quiet.beforeRun();
    const proof = s.quiet.nextProof();
    writeFileSync(join(s.root, 'pkg', 'new.txt'), 'made by the run\n'); // the run's own write, before its end
    s.quiet.activity(0);
    const p = await proof;
    assert.ok(p !== undefined);
    assert.deepEqual([...p.stamps.keys()].sort(), ['', 'BUILD', 'pkg', 'pkg/BUILD', 'pkg/absent.txt']);
    assert.match(p.stamps.get('pkg/absent.txt')!, /absent/);
    assert.equal(s.watcher.syncs, 2, 'the run’s cookie, then the proof’s: its stamps are synced');
    s.quiet.close();
  });

  test('a run that begins before the ending one counts as ended answers undefined: the graph may read more than it stamped', async () => {
    const s = setup();
    s.quiet.activity(1);
    await s.quiet.beforeRun();
    const proof = s.quiet.nextProof();
    // A second client's run enters while the first is still counted.
    s.quiet.activity(2);
    const entering = s.quiet.beforeRun();
    assert.equal(await proof, undefined);
    await entering;
    s.quiet.activity(1);
    s.quiet.activity(0);
    s.quiet.close();
  });

  test('closed while the proof’s cookie is out: undefined', async () => {
    const s = setup();
    s.quiet.activity(1);
    await s.quiet.beforeRun();
    s.watcher.holdSyncs = true;
    const proof = s.quiet.nextProof();
    s.quiet.activity(0);
    await settle();
    s.quiet.close();
    s.watcher.release();
    assert.equal(await proof, undefined);
  });

  test('asked while a proof is out whose stamps came before: the one after it answers', async () => {
    const s = setup();
    await run(s);
    // The idle proof's cookie is out; a quick second run ends before it comes back.
    s.watcher.holdSyncs = true;
    await settle();
    s.quiet.activity(1);
    s.watcher.holdSyncs = false;
    const second = s.quiet.beforeRun();
    s.watcher.release();
    await second;
    const proof = s.quiet.nextProof();
    s.quiet.activity(0);
    assert.ok((await proof) !== undefined);
    s.quiet.close();
  });

  test('off, closed, or more paths than stamping is worth: undefined, at once', async () => {
    const off = setup({ enabled: false });
    assert.equal(await off.quiet.nextProof(), undefined);
    const many = setup({ maxPaths: 2 });
    many.quiet.activity(1);
    await many.quiet.beforeRun();
    const proof = many.quiet.nextProof();
    many.quiet.activity(0);
    assert.equal(await proof, undefined);
    const closed = setup();
    const waiting = closed.quiet.nextProof();
    closed.quiet.close();
    assert.equal(await waiting, undefined);
    assert.equal(await closed.quiet.nextProof(), undefined);
  });
});
