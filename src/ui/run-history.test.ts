import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listRuns, recordRun, runFileName } from './run-history.js';
import { TraceRecorder } from './trace-recorder.js';

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-runs-'));
  try {
    await body(join(dir, 'runs'));
  } finally {
    await chmod(dir, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function recorderAt(iso: string): TraceRecorder {
  const r = new TraceRecorder({ now: () => 0, startedAt: new Date(iso) });
  r.processStarted(1, { description: 'Run x' });
  r.processFinished(1, { source: 'ran locally', exitCode: 0 });
  return r;
}

describe('run history', () => {
  it('names a run by its UTC start and id, so names sort by time', () => {
    assert.equal(runFileName(new Date('2026-12-05T00:21:17.123Z'), '1a2b3c4d'), '20261205T002117123Z-1a2b3c4d.json');
  });

  it('keeps the newest N runs, newest first, and ignores files that are not runs (temp files of a write in progress)', async () => {
    await withDir(async (dir) => {
      for (let i = 0; i < 5; i++) await recordRun(dir, recorderAt(`2026-01-0${i + 1}T10:00:00.000Z`), `r${i}`, 3);
      await writeFile(join(dir, '20260109T100000000Z-zz.json.ab12.tmp'), 'partial');
      await writeFile(join(dir, 'notes.txt'), 'mine');
      const runs = await listRuns(dir);
      assert.deepEqual(runs.map((r) => r.id), ['r4', 'r3', 'r2']);
      assert.equal(runs[0]!.startedAt, '2026-01-05T10:00:00.000Z');
      assert.deepEqual((await readdir(dir)).sort(), ['20260103T100000000Z-r2.json', '20260104T100000000Z-r3.json', '20260105T100000000Z-r4.json', '20260109T100000000Z-zz.json.ab12.tmp', 'notes.txt']);
    });
  });

  it('removes the temp file a run killed mid-write left behind, once it is old, and never a write in progress', async () => {
    await withDir(async (dir) => {
      await recordRun(dir, recorderAt('2026-01-01T10:00:00.000Z'), 'r0', 5);
      const dead = join(dir, '20260101T090000000Z-dead.json.0a1b2c.tmp');
      const writing = join(dir, '20260101T110000000Z-live.json.3d4e5f.tmp');
      await writeFile(dead, '{"traceEv');
      await writeFile(writing, '{"traceEv');
      const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
      await utimes(dead, hourAgo, hourAgo);
      await recordRun(dir, recorderAt('2026-01-01T12:00:00.000Z'), 'r1', 5);
      assert.deepEqual((await readdir(dir)).sort(), ['20260101T100000000Z-r0.json', '20260101T110000000Z-live.json.3d4e5f.tmp', '20260101T120000000Z-r1.json']);
    });
  });

  it('lists no runs when none was recorded', async () => {
    await withDir(async (dir) => {
      assert.deepEqual(await listRuns(dir), []);
    });
  });

  it('counts the processes a recorder saw, memoized ones too', () => {
    const r = new TraceRecorder({ now: () => 0 });
    assert.equal(r.processCount, 0);
    r.memoized({ description: 'Run y' }, { exitCode: 0 });
    assert.equal(r.processCount, 1);
  });
});
