import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKeyRebuilders, keyKindOf } from './key-rebuilders.js';
import type { Key } from './types.js';

const key = (id: string): Key<string> => ({ id, compute: async () => id });

describe('key rebuilders', () => {
  it('names a kind by the id up to its first colon, or by the whole id', () => {
    assert.equal(keyKindOf('tool-lookup:["a",["/b:c"]]'), 'tool-lookup:');
    assert.equal(keyKindOf('host-platform'), 'host-platform');
  });

  it('rebuilds an id by its kind only', () => {
    const r = createKeyRebuilders([
      { kind: 'env:', rebuild: (id) => key(id) },
      { kind: 'host-platform', rebuild: (id) => key(id) },
    ]);
    assert.equal(r.rebuild('env:HOME:x', undefined)?.id, 'env:HOME:x');
    assert.equal(r.rebuild('host-platform', undefined)?.id, 'host-platform');
    assert.equal(r.rebuild('host-platform-2', undefined), undefined);
    assert.equal(r.rebuild('envy:HOME', undefined), undefined);
    assert.deepEqual([...r.kinds].sort(), ['env:', 'host-platform']);
  });

  it('refuses two rebuilders of one kind, and a kind no id has', () => {
    assert.throws(() => createKeyRebuilders([{ kind: 'env:', rebuild: () => undefined }, { kind: 'env:', rebuild: () => undefined }]), /two rebuilders/);
    assert.throws(() => createKeyRebuilders([{ kind: 'env:HOME', rebuild: () => undefined }]), /not a key kind/);
    assert.throws(() => createKeyRebuilders([{ kind: '', rebuild: () => undefined }]), /not a key kind/);
  });
});
