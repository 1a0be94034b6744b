import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isAbortError, isFailureError, nullLogger } from '../core/index.js';
import { PersistentWorkers } from './persistent-workers.js';
import { makeProcess } from './process.js';
import { toAction } from './to-action.js';

/**
 * The pool with a real worker program (a small node script): requests are
 * served by one long-lived process; timeouts, cancellation and crashes end
 * its process group as they would a spawned process's.
 */
const dir = mkdtempSync(join(tmpdir(), 'trews-workers-'));
const program = join(dir, 'worker.cjs');
writeFileSync(
  program,
  `process.on('message', (m) => {
  const [what, arg] = m.args;
  if (what === 'echo') process.send({ exitCode: Number(arg ?? 0), stdout: JSON.stringify({ pid: process.pid, cwd: m.cwd, env: m.env, cacheable: m.cacheable, tool: process.argv[2] }), stderr: 'e' });
  else if (what === 'decline') process.send({ declined: 'not mine' });
  else if (what === 'crash') { process.stderr.write('worker went down\\n'); process.exit(3); }
  else if (what === 'hang') { require('node:fs').writeFileSync(arg, String(process.pid)); }
});
process.on('disconnect', () => process.exit(0));
`,
);
const key = { interpreter: process.execPath, program, tool: '/the/tool' };
const req = (args: string[]) => ({ cwd: dir, args, env: { A: '1' }, cacheable: ['/shared'] });
const opts = (o: { signal?: AbortSignal; timeoutMs?: number | null } = {}) => ({
  signal: o.signal ?? new AbortController().signal,
  timeoutMs: o.timeoutMs ?? null,
  graceMs: 200,
  logger: nullLogger,
  description: 'the test process',
});
const workers = new PersistentWorkers(1);
after(() => {
  workers.close();
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pidWritten(file: string): Promise<number> {
  for (;;) {
    try {
      const t = readFileSync(file, 'utf8');
      if (t !== '') return Number(t);
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
}

describe('persistent workers', () => {
  it('serves requests one after the other from one process, with the request\'s directory, arguments, env and cacheable prefixes', async () => {
    const a = await workers.run(key, req(['echo', '0']), opts());
    const b = await workers.run(key, req(['echo', '2']), opts());
    assert.equal(a.kind, 'done');
    assert.equal(b.kind, 'done');
    if (a.kind !== 'done' || b.kind !== 'done') return;
    const ja = JSON.parse(a.stdout) as { pid: number; cwd: string; env: unknown; cacheable: unknown; tool: string };
    assert.deepEqual({ cwd: ja.cwd, env: ja.env, cacheable: ja.cacheable, tool: ja.tool }, { cwd: dir, env: { A: '1' }, cacheable: ['/shared'], tool: '/the/tool' });
    assert.equal((JSON.parse(b.stdout) as { pid: number }).pid, ja.pid, 'the same worker');
    assert.equal(b.exitCode, 2);
    assert.equal(b.stderr, 'e');
  });

  it('passes a decline on', async () => {
    assert.deepEqual(await workers.run(key, req(['decline']), opts()), { kind: 'declined', reason: 'not mine' });
  });

  it('fails the request when the worker dies under it, with its last words, and starts a new one next time', async () => {
    const before = await workers.run(key, req(['echo']), opts());
    const pid = before.kind === 'done' ? (JSON.parse(before.stdout) as { pid: number }).pid : 0;
    await assert.rejects(workers.run(key, req(['crash']), opts()), (e: unknown) => {
      assert.ok(isFailureError(e));
      assert.match(e.message, /`the test process` did not finish in its persistent worker: the worker exited \(code 3\): worker went down/);
      return true;
    });
    const next = await workers.run(key, req(['echo']), opts());
    assert.ok(next.kind === 'done' && (JSON.parse(next.stdout) as { pid: number }).pid !== pid);
  });

  it('kills the worker\'s group on a timeout and reports it as a spawned process killed so (exit 143, timed out)', async () => {
    const file = join(dir, 'hang-timeout');
    const run = workers.run(key, req(['hang', file]), opts({ timeoutMs: 300 }));
    const pid = await pidWritten(file);
    const r = await run;
    assert.deepEqual(r, { kind: 'done', exitCode: 143, timedOut: true, stdout: '', stderr: '' });
    await gone(pid);
  });

  it('kills the worker\'s group when the run is cancelled, and rejects with an AbortError', async () => {
    const file = join(dir, 'hang-abort');
    const ac = new AbortController();
    const run = workers.run(key, req(['hang', file]), opts({ signal: ac.signal }));
    const pid = await pidWritten(file);
    ac.abort();
    await assert.rejects(run, (e: unknown) => isAbortError(e));
    await gone(pid);
  });

  it('is no part of the action: the same digest with and without the hint', () => {
    const base = { argv: ['tsc', '-p', '.'], env: { PATH: 'bin' }, description: 'x' };
    const withWorker = makeProcess({ ...base, worker: { interpreter: '/usr/bin/node', program: '/p.js', tool: ['node_modules/.bin/tsc'], args: ['-p', '.'] } });
    assert.deepEqual(toAction(withWorker).actionDigest, toAction(makeProcess(base)).actionDigest);
    assert.ok(withWorker.worker !== undefined);
  });
});
