import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { removeLeftGraphTemporaries } from './graph-file.js';

describe('the kept graph file', () => {
  it('a save removes the temporary files of saves whose process is gone, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trews-graph-tmp-'));
    try {
      // A process that has exited and been reaped: its pid names no process (barring reuse this instant).
      const gone = spawnSync('true').pid!;
      const names = ['graph', `graph.${gone}.0a1b2c3d.tmp`, `graph.${process.pid}.0a1b2c3d.tmp`, 'graph.tmp', `other.${gone}.0a1b2c3d.tmp`];
      for (const n of names) writeFileSync(join(dir, n), 'x');
      removeLeftGraphTemporaries(dir);
      assert.deepEqual(readdirSync(dir).sort(), names.filter((n) => n !== `graph.${gone}.0a1b2c3d.tmp`).sort());
      removeLeftGraphTemporaries(join(dir, 'missing'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
