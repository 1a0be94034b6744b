import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf } from '../../core/index.js';
import { ActionResultSchema } from '../../reapi/index.js';
import { createLocalStore, type LocalStore } from '../../store/index.js';
import { createCasView } from './cas-view.js';

describe('CasView', () => {
  it('a lookup waits for a write of that action’s result still in progress', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-cas-view-'));
    try {
      const store = createLocalStore({ dir });
      // The write is held until released: a lookup that did not wait would find nothing.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slow = new Proxy(store, {
        get(target, name) {
          if (name === 'updateActionResult') return async (...args: Parameters<LocalStore['updateActionResult']>) => (await held, target.updateActionResult(...args));
          const v: unknown = Reflect.get(target, name, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const view = createCasView(slow, { implicitEmptyBlob: true });
      const action = digestOf('an action');
      const other = digestOf('another action');
      const writing = view.updateActionResult(action, create(ActionResultSchema, { exitCode: 0 }));
      const found = view.lookupActionResult(action);
      // Another action's lookup does not wait for it.
      assert.ok('refused' in (await view.lookupActionResult(other)));
      release();
      const r = await found;
      assert.ok('result' in r, JSON.stringify(r));
      assert.equal(r.result.exitCode, 0);
      await writing;
      assert.ok('result' in (await view.lookupActionResult(action)), 'and after it, from the store');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
