import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine } from './engine.js';
import type { ComputeContext, Key } from './types.js';

/** A "process" whose result is reused across runs only when it succeeded. */
class Outcome implements Key<number> {
  readonly id = 'outcome';
  constructor(readonly results: number[]) {}
  async compute(): Promise<number> {
    return this.results.shift() ?? 0;
  }
  isTransient(v: number): boolean {
    return v !== 0;
  }
}

class Report implements Key<string> {
  readonly id = 'report';
  constructor(readonly outcome: Outcome, readonly computed: string[]) {}
  async compute(ctx: ComputeContext): Promise<string> {
    this.computed.push('report');
    return (await ctx.get(this.outcome)) === 0 ? 'ok' : 'failed';
  }
}

describe('transient values', () => {
  it('are reused within their run and recomputed by the next one', async () => {
    const engine = createEngine();
    const outcome = new Outcome([1, 1, 0, 5]);
    const computed: string[] = [];
    const report = new Report(outcome, computed);
    const run1 = engine.startRun();
    assert.equal(await run1.get(report), 'failed');
    assert.equal(await run1.get(outcome), 1, 'same run: memoized');
    // Next run: recomputed, failing the same way; early cut-off spares the report.
    const run2 = engine.startRun();
    assert.equal(await run2.get(outcome), 1);
    assert.equal(await run2.get(report), 'failed');
    assert.deepEqual(computed, ['report']);
    // Next run: it succeeds, which is not transient; the report recomputes once.
    assert.equal(await engine.startRun().get(report), 'ok');
    assert.deepEqual(computed, ['report', 'report']);
    // A success is kept for good.
    assert.equal(await engine.startRun().get(outcome), 0);
    assert.equal(await engine.startRun().get(report), 'ok');
    assert.deepEqual(computed, ['report', 'report']);
  });
});
