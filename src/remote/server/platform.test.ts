import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code } from '../../reapi/index.js';
import { checkPlatform } from './platform.js';
import { RpcError } from './rpc-error.js';

function rpcError(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e;
  }
  assert.fail('expected an RpcError');
}

describe('platform matching', () => {
  const offered = [
    { name: 'OSFamily', value: 'linux' },
    { name: 'ISA', value: 'x86-64' },
    { name: 'ISA', value: 'x86-64-v2' },
  ];
  it('accepts subsets of what is offered, any of several values of one name', () => {
    checkPlatform([], offered);
    checkPlatform([{ name: 'ISA', value: 'x86-64-v2' }, { name: 'OSFamily', value: 'linux' }], offered);
  });
  it('refuses the first unmatched property by name', () => {
    const e = rpcError(() => checkPlatform([{ name: 'OSFamily', value: 'linux' }, { name: 'ISA', value: 'arm64' }], offered));
    assert.equal(e.code, Code.FAILED_PRECONDITION);
    assert.match(e.message, /ISA=arm64: this server's workers have ISA=x86-64 or x86-64-v2/);
    assert.match(rpcError(() => checkPlatform([{ name: 'gpu', value: '1' }], [])).message, /no property "gpu" \(it offers no platform properties/);
  });
});
