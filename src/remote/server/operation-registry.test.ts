import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf } from '../../core/index.js';
import { ExecuteResponseSchema, ExecutionStage_Value } from '../../reapi/index.js';
import { OperationRegistry, type OperationState } from './operation-registry.js';

const d = digestOf('x');

describe('OperationRegistry', () => {
  it('cancels an operation once its last follower has been gone for the grace period', async () => {
    const abandoned: OperationState[] = [];
    const reg = new OperationRegistry({ abandonGraceMs: 30, onAbandoned: (op) => abandoned.push(op) });
    const op = reg.create(d, ExecutionStage_Value.QUEUED);
    const a = reg.follow(op);
    const b = reg.follow(op);
    a();
    a(); // idempotent
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(abandoned.length, 0, 'one follower is still there');
    b();
    const again = reg.follow(op); // a reconnect within the grace period
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(abandoned.length, 0);
    again();
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(abandoned, [op]);
  });

  it('wakes followers on every change and keeps finished operations for later lookups', async () => {
    const reg = new OperationRegistry({ abandonGraceMs: 1000, onAbandoned: () => {} });
    const op = reg.create(d, ExecutionStage_Value.QUEUED);
    const signal = new AbortController().signal;
    const woke = reg.waitForChange(op, op.version, 5000, signal);
    reg.setStage(op, ExecutionStage_Value.EXECUTING);
    await woke;
    reg.complete(op, create(ExecuteResponseSchema, { status: { code: 0 } }));
    const msg = reg.toMessage(op);
    assert.equal(msg.done, true);
    assert.equal(msg.result.case, 'response');
    assert.equal(reg.get(op.name), op);
    assert.match(op.name, /^operations\/[0-9a-f-]{36}$/);
  });
});
