import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../../core/index.js';
import { Code } from '../../reapi/index.js';
import { parseReadResource, parseWriteResource } from './resource-name.js';
import { RpcError } from './rpc-error.js';

const limits = { instanceName: 'a/b', maxBlobBytes: 1 << 30, maxBatchTotalBytes: 1 << 20 };
const d = digestOf('x');

function rpcError(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e;
  }
  assert.fail('expected an RpcError');
}

describe('resource names', () => {
  it('parses multi-segment instances, optional sha256 and upload metadata', () => {
    assert.deepEqual(parseReadResource(`a/b/blobs/${d.hash}/1`, limits).digest, d);
    assert.deepEqual(parseReadResource(`a/b/blobs/sha256/${d.hash}/1`, limits).digest, d);
    const w = parseWriteResource(`a/b/uploads/u-1/blobs/${d.hash}/1/extra/meta`, limits);
    assert.deepEqual(w.digest, d);
    assert.equal(parseReadResource(`blobs/${d.hash}/1`, { ...limits, instanceName: '' }).digest.sizeBytes, 1);
  });

  it('names what is wrong', () => {
    assert.equal(rpcError(() => parseReadResource(`a/blobs/${d.hash}/1`, limits)).code, Code.NOT_FOUND);
    assert.match(rpcError(() => parseReadResource(`a/b/blobs/${d.hash}/01`, limits)).message, /"01" is not a size in bytes/);
    assert.match(rpcError(() => parseReadResource(`a/b/blobs/${d.hash}/1/x`, limits)).message, /unexpected trailing segments/);
    assert.match(rpcError(() => parseReadResource(`a/b/uploads/u/blobs/${d.hash}/1`, limits)).message, /can only be written/);
    assert.match(rpcError(() => parseWriteResource(`a/b/uploads//blobs/${d.hash}/1`, limits)).message, /\{uuid\} segment after uploads\/ is missing/);
    assert.match(rpcError(() => parseWriteResource(`a/b/uploads/u/blobs/${d.hash.toUpperCase()}/1`, limits)).message, /is not a SHA-256 hash/);
  });
});
