import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { pidExists } from './pid-exists.js';

describe('pidExists', () => {
  it('this process exists; a child that exited and was reaped does not', () => {
    assert.equal(pidExists(process.pid), true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    assert.equal(child.status, 0);
    assert.equal(pidExists(child.pid!), false);
  });

  it('pid 1 exists, whether this user may signal it (kill succeeds) or not (EPERM)', () => {
    assert.equal(pidExists(1), true);
  });

  it('zero, negative numbers (process groups to kill), fractions and NaN are no process', () => {
    // kill(0, 0) and kill(-1, 0) succeed (they name groups): the check must not ask.
    for (const pid of [0, -1, -process.pid, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) assert.equal(pidExists(pid), false, String(pid));
  });
});
