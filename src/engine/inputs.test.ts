import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFailureError } from '../core/index.js';
import { createEngine } from './engine.js';
import { RunConflictError } from './run-conflict-error.js';
import { createRunSlot } from './run-slot.js';
import { deferred, derived, settle, World } from './test-support.js';
import type { InputKey, RunInputs } from './types.js';

interface Vars extends RunInputs {
  readonly vars: Readonly<Record<string, string>>;
}

function inputs(vars: Record<string, string>): Vars {
  return { signature: JSON.stringify(vars), vars };
}

function variable(name: string): InputKey<string | undefined> {
  return { id: `var:${name}`, readFrom: (i) => (i as Vars).vars[name] };
}

describe('inputs', () => {
  it('are read like keys, and a run with another value re-validates exactly what read it', async () => {
    const w = new World({ 'a.txt': 'A' });
    const greeting = derived('greeting', async (ctx) => `${await ctx.get(variable('GREETING'))}, ${await ctx.get(w.file('a.txt'))}`);
    const other = derived('other', async (ctx) => `${await ctx.get(variable('OTHER'))}`);
    const both = derived('both', async (ctx) => [await ctx.get(greeting), await ctx.get(other)].join(' | '));

    let run = w.engine.startRun({ inputs: inputs({ GREETING: 'hi', OTHER: 'x' }) });
    assert.equal(await run.get(both), 'hi, A | x');
    run.end();
    w.reset();

    run = w.engine.startRun({ inputs: inputs({ GREETING: 'hi', OTHER: 'x', UNREAD: '1' }) });
    assert.equal(await run.get(both), 'hi, A | x');
    assert.deepEqual(w.log, [], 'an unread variable changed nothing');
    run.end();

    run = w.engine.startRun({ inputs: inputs({ GREETING: 'hello', OTHER: 'x' }) });
    assert.equal(await run.get(both), 'hello, A | x');
    assert.deepEqual(w.log.sort(), ['both', 'greeting'], 'only the reader of GREETING and what reads it');
    run.end();
    w.reset();

    // An input gone from the run reads as undefined, like any other value.
    run = w.engine.startRun({ inputs: inputs({ OTHER: 'x' }) });
    assert.equal(await run.get(both), 'undefined, A | x');
    run.end();
  });

  it('keep runs with other values apart until the live ones end', async () => {
    const engine = createEngine();
    const a = engine.startRun({ inputs: inputs({ V: '1' }) });
    const same = engine.startRun({ inputs: inputs({ V: '1' }) });
    assert.throws(
      () => engine.startRun({ inputs: inputs({ V: '2' }) }),
      (e: unknown) => e instanceof RunConflictError && e.live === 2 && isFailureError(e) && e.failure.reason === 'run-conflict',
    );
    assert.equal(await a.get(variable('V')), '1');
    let idle = false;
    const waiting = engine.whenIdle().then(() => (idle = true));
    a.end();
    a.end();
    await settle();
    assert.equal(idle, false, 'one run is still live');
    same.end();
    await waiting;
    const b = engine.startRun({ inputs: inputs({ V: '2' }) });
    assert.equal(await b.get(variable('V')), '2');
    assert.equal(engine.stats().liveRuns, 1);
    b.end();
    assert.equal(engine.stats().liveRuns, 0);
  });

  it('stop waiting when the waiter is cancelled', async () => {
    const engine = createEngine();
    engine.startRun({ inputs: inputs({ V: '1' }) });
    const ac = new AbortController();
    const waiting = engine.whenIdle(ac.signal);
    ac.abort();
    await assert.rejects(waiting, { name: 'AbortError' });
  });

  it('cannot be read by a run that brought none: a bug, not memoized', async () => {
    const engine = createEngine();
    const reader = derived('reader', async (ctx) => `${await ctx.get(variable('V'))}`);
    await assert.rejects(engine.startRun().get(reader), /brought no inputs/);
    const run = engine.startRun({ inputs: inputs({ V: 'ok' }) });
    assert.equal(await run.get(reader), 'ok');
  });
});

describe('run slots', () => {
  const console = createRunSlot<string[]>('console');

  it('give a computation the services of the run that started it', async () => {
    const engine = createEngine();
    const gate = deferred();
    const work = derived('work', async (ctx) => {
      await gate.promise;
      ctx.slot(console).push('work ran');
      return 42;
    });
    const linesA: string[] = [];
    const linesB: string[] = [];
    const a = engine.startRun({ slots: [console.with(linesA)] });
    const b = engine.startRun({ slots: [console.with(linesB)] });
    const pa = a.get(work);
    await settle();
    const pb = b.get(work);
    gate.resolve();
    assert.deepEqual(await Promise.all([pa, pb]), [42, 42]);
    assert.deepEqual(linesA, ['work ran'], 'the run that started it hears of it');
    assert.deepEqual(linesB, [], 'a run that joined shares the result, not the report');
    assert.equal(a.slot(console), linesA);
  });

  it('name the slot a run did not fill', async () => {
    const engine = createEngine();
    const work = derived('work', async (ctx) => ctx.slot(console).length);
    await assert.rejects(engine.startRun().get(work), /no value for the run slot `console`/);
  });
});
