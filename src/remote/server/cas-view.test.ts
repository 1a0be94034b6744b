import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf } from '../../core/index.js';
import { ActionResultSchema, toProtoDigest } from '../../reapi/index.js';
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

  it('a blob accepted from a client is present and read from memory at once; an action cache lookup and settled() wait for its file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-cas-view-'));
    try {
      const store = createLocalStore({ dir });
      // The file write is held until released.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slow = new Proxy(store, {
        get(target, name) {
          if (name === 'put') return async (...args: Parameters<LocalStore['put']>) => (await held, target.put(...args));
          const v: unknown = Reflect.get(target, name, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const view = createCasView(slow, { implicitEmptyBlob: true });
      const data = Buffer.from('an output a client uploaded');
      const d = digestOf(data);
      await view.acceptVerified(d, data);
      assert.deepEqual(await view.findMissing([d]), [], 'present before its file is written');
      assert.deepEqual(await store.findMissing([d]), [d]);
      assert.equal(Buffer.from((await view.getBytes(d))!).toString(), 'an output a client uploaded');
      const chunks: Buffer[] = [];
      for await (const c of (await view.get(d))!) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'an output a client uploaded');
      // A result naming it: the store checks that the file is there, so the lookup waits for the write.
      const action = digestOf('an action uploading its output');
      await store.updateActionResult(action, create(ActionResultSchema, { exitCode: 0, outputFiles: [{ path: 'out.txt', digest: toProtoDigest(d) }] }));
      let settled = false;
      const all = view.settled().then(() => (settled = true));
      const found = view.lookupActionResult(action);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(settled, false);
      release();
      const r = await found;
      assert.ok('result' in r, 'refused' in r ? r.refused : '');
      await all;
      assert.deepEqual(await store.findMissing([d]), [], 'written');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
