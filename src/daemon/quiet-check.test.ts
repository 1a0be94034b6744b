import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MemoryLogger } from '../core/index.js';
import { QuietCheck } from './quiet-check.js';
import type { ChangeListener, FileWatcher } from './watcher.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A watcher whose sync the test answers: counts cookies, delivers batches by hand. */
class HandWatcher implements FileWatcher {
  syncs = 0;
  deliveries = 0;
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
  release(): void {
    for (const r of this.#waiting.splice(0)) r();
  }
  deliver(): void {
    this.deliveries++;
  }
  async close(): Promise<void> {}
}

interface Setup {
  root: string;
  watcher: HandWatcher;
  quiet: QuietCheck;
  logger: MemoryLogger;
  paths: string[];
}

/**
 * A build root with files the graph "read". The clock runs 10 s ahead, so the
 * files the test just wrote count as old enough to stamp (a test cannot wait
 * out the racy margin); `now` set to the real clock makes them too fresh.
 */
function setup(o: { now?: () => number; enabled?: boolean } = {}): Setup {
  const root = mkdtempSync(join(tmpdir(), 'trews-quiet-'));
  roots.push(root);
  mkdirSync(join(root, 'pkg'));
  writeFileSync(join(root, 'BUILD'), 'files(name="a")\n');
  writeFileSync(join(root, 'pkg', 'BUILD'), 'files(name="b")\n');
  const paths = ['', 'BUILD', 'pkg', 'pkg/BUILD', 'pkg/absent.txt'];
  const watcher = new HandWatcher();
  const logger = new MemoryLogger();
  const quiet = new QuietCheck({
    root,
    watcher,
    paths: () => paths,
    logger,
    enabled: o.enabled ?? true,
    now: o.now ?? (() => Date.now() + 10_000),
  });
  return { root, watcher, quiet, logger, paths };
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

describe('QuietCheck', () => {
  test('the first run syncs; once idle the daemon proves quiet and the next run needs no cookie', async () => {
    const s = setup();
    assert.equal(await run(s), 'synced');
    await settle();
    assert.equal(s.watcher.syncs, 2, 'the run’s cookie and the idle proof’s');
    assert.equal(await run(s), 'quiet');
    assert.equal(s.watcher.syncs, 3, 'the quiet run wrote no cookie (the third is the proof after it)');
    assert.match(s.logger.lines.join('\n'), /5 stamped paths unchanged since the last sync/);
    await settle();
    // Proved again after that run, so it holds for the run after.
    assert.equal(await run(s), 'quiet');
    s.quiet.close();
  });

  test('an edited file the graph read makes the next run sync', async () => {
    const s = setup();
    await run(s);
    await settle();
    writeFileSync(join(s.root, 'pkg', 'BUILD'), 'files(name="c")\n'); // same size, new content
    assert.equal(await run(s), 'synced');
    assert.match(s.logger.lines.join('\n'), /1 of 5 stamped paths changed \(pkg\/BUILD/);
    s.quiet.close();
  });

  test('a file created where the graph found none, or in a directory it listed, makes the next run sync', async () => {
    for (const [rel, changed] of [
      ['pkg/absent.txt', 2], // the path itself and its directory's listing
      ['pkg/new.txt', 1],
    ] as const) {
      const s = setup();
      await run(s);
      await settle();
      writeFileSync(join(s.root, rel), 'x');
      assert.equal(await run(s), 'synced', rel);
      assert.match(s.logger.lines.join('\n'), new RegExp(`${changed} of 5 stamped paths changed \\(pkg`), rel);
      s.quiet.close();
    }
  });

  test('a batch delivered after the proof makes the next run sync, even with every stamp equal', async () => {
    const s = setup();
    await run(s);
    await settle();
    s.watcher.deliver(); // e.g. an ignored path, or an exit trigger: no stamp shows it
    assert.equal(await run(s), 'synced');
    s.quiet.close();
  });

  test('a run that entered or ended since the proof voids it: runs write files', async () => {
    const s = setup();
    await run(s);
    await settle();
    // Two clients at once: the first enters on the proof; the second must sync.
    s.quiet.activity(1);
    s.quiet.activity(2);
    assert.equal(await s.quiet.beforeRun(), 'quiet');
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
    assert.equal(await verdict, 'quiet');
    assert.equal(s.watcher.syncs, syncsBefore, 'no second cookie');
    s.quiet.activity(0);
    s.watcher.holdSyncs = false;
    s.quiet.close();
  });

  test('paths changed too recently to stamp leave no proof: runs sync', async () => {
    const s = setup({ now: Date.now });
    await run(s);
    await settle();
    assert.equal(s.watcher.syncs, 1, 'no proof was attempted with fresh files');
    assert.equal(await run(s), 'synced');
    s.quiet.close();
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

  test('disabled (daemon_invalidation_globs set): every run syncs', async () => {
    const s = setup({ enabled: false });
    await run(s);
    await settle();
    assert.equal(await run(s), 'synced');
    assert.equal(s.watcher.syncs, 2);
    s.quiet.close();
  });
});
