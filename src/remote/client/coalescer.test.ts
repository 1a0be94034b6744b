import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, isAbortError, type Digest } from '../../core/index.js';
import { Coalescer } from './coalescer.js';
import type { CallContext } from './request-metadata.js';

const blob = (s: string): { digest: Digest } => ({ digest: digestOf(Buffer.from(s)) });
const key = (i: { digest: Digest }): string => `${i.digest.hash}/${i.digest.sizeBytes}`;

/** A coalescer whose calls answer every item with its own key, recording what each call carried. */
function echo(o: { maxItems?: number; maxCost?: number; windowMs?: number; fail?: (items: readonly { digest: Digest }[]) => boolean; expected?: () => number } = {}) {
  const calls: { keys: string[]; call: CallContext | undefined }[] = [];
  const c = new Coalescer<{ digest: Digest }, string>({
    windowMs: o.windowMs ?? 5,
    maxItems: o.maxItems ?? 100,
    ...(o.maxCost !== undefined ? { cost: (i: { digest: Digest }) => i.digest.sizeBytes, maxCost: async () => o.maxCost! } : {}),
    concurrency: 4,
    ...(o.expected !== undefined ? { expected: { count: o.expected, min: 2 } } : {}),
    send: async (items, _signal, call) => {
      calls.push({ keys: items.map(key), call });
      if (o.fail?.(items) === true) throw new Error('refused');
      return new Map(items.map((i) => [key(i), key(i)]));
    },
  });
  return { c, calls };
}

describe('Coalescer', () => {
  it('sends the requests of one moment as one call, each digest once, and gives each caller its own answers', async () => {
    const { c, calls } = echo();
    const [a, b] = await Promise.all([c.submit([blob('x'), blob('y')], undefined, { invocationId: 'r', actionId: 'A' }), c.submit([blob('y'), blob('z')], undefined, { invocationId: 'r', actionId: 'B' })]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.keys.length, 3);
    // Two actions in one call: the run they share, no action id.
    assert.deepEqual(calls[0]!.call, { invocationId: 'r' });
    assert.deepEqual([...a.keys()].sort(), [key(blob('x')), key(blob('y'))].sort());
    assert.deepEqual([...b.keys()].sort(), [key(blob('y')), key(blob('z'))].sort());
  });

  it('splits what does not fit one call by count and by cost', async () => {
    const byCount = echo({ maxItems: 2 });
    await Promise.all([byCount.c.submit([blob('1'), blob('2')]), byCount.c.submit([blob('3')])]);
    assert.deepEqual(
      byCount.calls.map((x) => x.keys.length),
      [2, 1],
    );
    const byCost = echo({ maxCost: 2 });
    await Promise.all([byCost.c.submit([blob('a'), blob('b')]), byCost.c.submit([blob('c')])]);
    assert.ok(byCost.calls.every((x) => x.keys.length <= 2));
    assert.equal(byCost.calls.flatMap((x) => x.keys).length, 3);
  });

  it('a call that fails rejects only the callers whose items it carried', async () => {
    const { c } = echo({ maxItems: 1, fail: (items) => items.some((i) => key(i) === key(blob('bad'))) });
    const [good, bad] = await Promise.allSettled([c.submit([blob('good')]), c.submit([blob('bad')])]);
    assert.equal(good.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
  });

  it('an aborted caller leaves at once; the others still get their answers', async () => {
    const { c } = echo();
    const ac = new AbortController();
    const left = c.submit([blob('p')], ac.signal);
    const stays = c.submit([blob('q')]);
    ac.abort();
    await assert.rejects(left, (e: unknown) => isAbortError(e));
    assert.deepEqual([...(await stays).keys()], [key(blob('q'))]);
  });

  it('stops waiting once every expected caller is in, and waits the window for more otherwise', async () => {
    let expected = 2;
    // A window no test waits out: only the expected callers can end it.
    const { c, calls } = echo({ windowMs: 60_000, expected: () => expected });
    const first = c.submit([blob('1')]);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 0, 'the first waits for the second');
    const second = c.submit([blob('2')]);
    await Promise.all([first, second]);
    assert.equal(calls.length, 1);
    // Three expected, two in: they wait; the third gives up without a request (reconsider): they go.
    expected = 3;
    const third = c.submit([blob('3')]);
    const fourth = c.submit([blob('4')]);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 1, 'two of three are in: still waiting');
    expected = 2;
    c.reconsider();
    await Promise.all([third, fourth]);
    assert.equal(calls.length, 2);
  });
});
