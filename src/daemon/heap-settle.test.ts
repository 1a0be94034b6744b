import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { DAEMON_NODE_FLAGS } from './process-manager.js';

const settler = fileURLToPath(new URL('./heap-settle.js', import.meta.url));

// In a child started with the daemon's flags: the settler needs --expose-gc, which a test runner does not have.
const script = `
const { createHeapSettler } = await import(${JSON.stringify(settler)});
const lines = [];
const logger = { info: (m) => lines.push(m), debug() {}, trace() {}, warn() {}, error() {} };
const s = createHeapSettler({ logger, delayMs: 10, minGrowthBytes: 16 * 1024 * 1024 });
// A run's worth of objects that outlive the young generation, then dropped.
let kept = [];
for (let i = 0; i < 1_000_000; i++) kept.push({ name: 'n' + i, deps: [i, i + 1] });
for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
kept = kept.filter((_, i) => i % 50 === 0);
s.busy();
s.idle();
s.busy(); // a run came: nothing yet
await new Promise((r) => setTimeout(r, 50));
const early = lines.length;
s.idle();
// A deadline, not a timing: the settle is due 10 ms after idle().
for (let i = 0; i < 500 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
s.idle(); // nothing left to give back: no second settle
await new Promise((r) => setTimeout(r, 100));
s.stop();
console.log(JSON.stringify({ early, lines, kept: kept.length }));
`;

describe('the heap settler', () => {
  it('compacts the old generation once idle after a run grew it, not while busy, and not twice', () => {
    const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { early: number; lines: string[] };
    assert.equal(out.early, 0, 'busy() cancels a settle not started yet');
    assert.equal(out.lines.length, 1, out.lines.join('\n'));
    const m = /from (\d+) MiB \((\d+) used\) to (\d+) MiB/.exec(out.lines[0]!);
    assert.ok(m, out.lines[0]);
    assert.ok(Number(m[3]) < Number(m[1]), `the old generation shrank: ${out.lines[0]}`);
  });
});
