// Unit tests of the remote client's pure parts: addresses, option
// validation (errors as the user sees them), retries, batching, warnings,
// platform properties, request metadata.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { digestOf, isAbortError, isFailureError, nullLogger, type Digest } from '../src/core/index.js';
import { makeProcess, toAction } from '../src/exec/index.js';
import {
  BatchUpdateBlobsRequest_RequestSchema,
  BatchUpdateBlobsRequestSchema,
  Code,
  DigestFunction_Value,
  RequestMetadataSchema,
  ServerCapabilitiesSchema,
  SymlinkAbsolutePathStrategy_Value,
  toProtoDigest,
  type ServerCapabilities,
} from '../src/reapi/index.js';
import {
  RpcError,
  backoffDelayMs,
  createCacheWarner,
  ensureUploaded,
  forRemote,
  mergePlatform,
  parseRemoteAddress,
  parseTokenFile,
  requestMetadataBytes,
  shouldShow,
  validateRemoteOptions,
  withRetries,
} from '../src/remote/client/index.js';
import { GRPC_DEFAULT_MAX_MESSAGE_BYTES, effectiveBatchLimit, planBatches } from '../src/remote/client/batching.js';
import { readResourceName, writeResourceName } from '../src/remote/client/bytestream.js';
import { checkCapabilities } from '../src/remote/client/capabilities.js';
import type { RemoteEndpoint } from '../src/remote/client/channel.js';
import type { RemoteBlobStore } from '../src/remote/client/remote-blob-store.js';
import { abortable } from '../src/remote/client/signals.js';
import { treeFromFiles } from '../src/store/index.js';
import { renderFailure } from '../src/ui/index.js';
import { remoteOptions, tempStore } from './helpers/remote-client.js';

describe('remote addresses', () => {
  const good: [string, string, string][] = [
    ['localhost:8980', 'none', 'localhost:8980'],
    ['grpc://127.0.0.1:8980', 'grpc', '127.0.0.1:8980'],
    ['grpcs://remote.buildbuddy.io', 'grpcs', 'remote.buildbuddy.io:443'],
    ['GRPCS://cache.example.com:9092/', 'grpcs', 'cache.example.com:9092'],
    ['grpc://[::1]:8980', 'grpc', '[::1]:8980'],
    ['http://127.0.0.1:9090', 'http', '127.0.0.1:9090'],
    ['https://cache.example.com', 'https', 'cache.example.com:443'],
    ['http://cache.example.com/', 'http', 'cache.example.com:80'],
    ['HTTP://cache:8080/prefix/ci/', 'http', 'cache:8080'],
  ];
  for (const [text, scheme, target] of good) {
    it(`parses ${text}`, () => {
      const r = parseRemoteAddress(text);
      assert.ok(r.ok, r.ok ? '' : r.failure);
      assert.equal(r.value.scheme, scheme);
      assert.equal(r.value.target, target);
    });
  }
  const bad: [string, RegExp][] = [
    ['', /is empty/],
    ['ftp://cache.example.com:21', /scheme `ftp:\/\/`, which trews does not speak; use grpc:\/\/ or grpcs:\/\/ for a REAPI server, http:\/\/ or https:\/\/ for an HTTP cache/],
    ['http://user:secret@cache:80', /must not carry a user or password; put a token in remote_oauth_bearer_token_path/],
    ['http://cache:80/a//b', /empty segments/],
    ['http://cache:80/?x=1', /query or fragment/],
    ['cache.example.com', /has no port/],
    ['grpc://cache.example.com', /has no port/],
    ['grpc://cache:8980/main', /has a path .*remote_instance_name/],
    ['grpc://cache:99999', /outside 1-65535/],
    ['grpc://cache:abc', /invalid port/],
    ['::1:8980', /several `:`/],
    ['grpc://user@cache:1', /without user/],
  ];
  for (const [text, re] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      const r = parseRemoteAddress(text);
      assert.ok(!r.ok);
      assert.match(r.failure, re);
    });
  }
});

describe('remote option validation', () => {
  const render = (env: Record<string, string>, files?: Record<string, string>): string => {
    const r = validateRemoteOptions(remoteOptions(env), {
      readFile(p) {
        const text = files?.[p];
        if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
        return Buffer.from(text);
      },
    });
    assert.ok(!r.ok, 'expected a failure');
    assert.equal(r.failure.exitCode, 2);
    return renderFailure(r.failure);
  };
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

  it('nothing remote on: nothing checked', () => {
    const r = validateRemoteOptions(remoteOptions({ TREWS_REMOTE_STORE_SERVER: 'nonsense://x' }));
    assert.deepEqual(r, { ok: true, value: null });
  });

  it('execution without a store server', () => {
    assert.equal(
      render({ TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_EXECUTION_SERVER: 'grpc://exec:8980' }),
      [
        'error: invalid remote configuration: remote_execution is on but remote_store_server is not set',
        '  remote_execution set by env TREWS_REMOTE_EXECUTION',
        '  remote execution needs a CAS to upload inputs to and fetch outputs from: set remote_store_server (usually the same address as remote_execution_server)',
        '',
      ].join('\n'),
    );
  });

  it('execution without an execution server', () => {
    assert.match(render({ TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://cas:8980' }), /remote_execution is on but remote_execution_server is not set/);
  });

  it('a cache without a store server', () => {
    assert.match(render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true' }), /remote_cache_read, remote_cache_write are on but remote_store_server is not set/);
  });

  it('a bad address scheme', () => {
    assert.equal(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'ftp://cache.example.com' }),
      [
        'error: invalid remote configuration: remote_store_server `ftp://cache.example.com` has the scheme `ftp://`, which trews does not speak; use grpc:// or grpcs:// for a REAPI server, http:// or https:// for an HTTP cache, or write host:port',
        '  remote_store_server set by env TREWS_REMOTE_STORE_SERVER',
        '  for example grpc://127.0.0.1:8980, grpcs://remote.example.com:443, cache.internal:9092, or an HTTP cache: http://127.0.0.1:9090',
        '',
      ].join('\n'),
    );
  });

  it('an HTTP cache with remote execution: the option that asks for it is named', () => {
    assert.equal(
      render({ TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: 'http://cache:9090', TREWS_REMOTE_EXECUTION_SERVER: 'grpc://exec:8980' }),
      [
        'error: invalid remote configuration: remote_execution is on but remote_store_server `http://cache:9090` is an HTTP cache, which only caches',
        '  remote_execution set by env TREWS_REMOTE_EXECUTION',
        '  remote execution needs a REAPI server (grpc:// or grpcs://) for its CAS; to use the HTTP cache, turn remote_execution off and remote_cache_read / remote_cache_write on',
        '',
      ].join('\n'),
    );
    assert.equal(
      render({ TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://cas:8980', TREWS_REMOTE_EXECUTION_SERVER: 'https://exec.example.com' }),
      [
        'error: invalid remote configuration: remote_execution_server `https://exec.example.com` is an HTTP cache, which cannot execute processes',
        '  remote_execution_server set by env TREWS_REMOTE_EXECUTION_SERVER',
        '  remote execution needs a REAPI server: use a grpc:// or grpcs:// address',
        '',
      ].join('\n'),
    );
  });

  it('an HTTP cache: plaintext with TLS options, and headers the client sets itself', () => {
    assert.match(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'http://cache:9090/ci', TREWS_REMOTE_CA_CERTS_PATH: '/ca.pem' }, { '/ca.pem': PEM }),
      /remote_store_server `http:\/\/cache:9090\/ci` asks for plaintext \(http:\/\/\) but TLS options are set\n[^]*use https:\/\/cache:9090\/ci for TLS/,
    );
    assert.match(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'http://cache:9090', TREWS_REMOTE_STORE_HEADERS: '{"Content-Length": "1"}' }),
      /remote_store_headers: header "Content-Length" is set by trews on each HTTP request/,
    );
  });

  it('an HTTP cache: https with a CA, a token and a path is accepted as given', () => {
    const r = validateRemoteOptions(
      remoteOptions({
        TREWS_REMOTE_CACHE_READ: 'true',
        TREWS_REMOTE_STORE_SERVER: 'https://cache.example.com/team/',
        TREWS_REMOTE_CA_CERTS_PATH: '/ca.pem',
        TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: '/token',
        TREWS_REMOTE_INSTANCE_NAME: 'main',
      }),
      { readFile: (p) => Buffer.from(p === '/ca.pem' ? PEM : 'secret\n') },
    );
    assert.ok(r.ok && r.value !== null, r.ok ? 'remote off' : r.failure.message);
    const store = r.value.store;
    assert.equal(store.address.scheme, 'https');
    assert.equal(store.address.path, '/team');
    assert.equal(store.address.port, 443);
    assert.equal(store.token, 'secret');
    assert.equal(store.tls?.rootCerts?.toString(), PEM);
  });

  it('a certificate path that does not exist', () => {
    assert.equal(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'cache:443', TREWS_REMOTE_CA_CERTS_PATH: '/etc/ssl/nope.pem' }),
      [
        'error: invalid remote configuration: remote_ca_certs_path: certificate /etc/ssl/nope.pem does not exist',
        '  remote_ca_certs_path set by env TREWS_REMOTE_CA_CERTS_PATH',
        '  fix the path in remote_ca_certs_path (relative paths are relative to the build root)',
        '',
      ].join('\n'),
    );
  });

  it('a certificate file that is not PEM', () => {
    assert.match(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'cache:443', TREWS_REMOTE_CA_CERTS_PATH: '/ca.der' }, { '/ca.der': '\x30\x82binary' }),
      /remote_ca_certs_path: \/ca.der is not a PEM certificate/,
    );
  });

  it('a client certificate without its key', () => {
    assert.equal(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpcs://cache:443', TREWS_REMOTE_CLIENT_CERTS_PATH: '/client.pem' }, { '/client.pem': PEM }),
      [
        'error: invalid remote configuration: remote_client_certs_path is set but remote_client_key_path is not',
        '  remote_client_certs_path set by env TREWS_REMOTE_CLIENT_CERTS_PATH',
        '  mutual TLS needs both the client certificate chain and its private key: set both options, or neither',
        '',
      ].join('\n'),
    );
  });

  it('a token file with two lines, an empty one, a missing one', () => {
    const env = { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://cache:8980', TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: '/token' };
    assert.equal(
      render(env, { '/token': 'abc\ndef\n' }),
      [
        'error: invalid remote configuration: remote_oauth_bearer_token_path: /token has 2 lines; it must hold exactly one line, the token',
        '  remote_oauth_bearer_token_path set by env TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH',
        '  the file must hold exactly one line: the bearer token',
        '',
      ].join('\n'),
    );
    assert.match(render(env, { '/token': '\n' }), /\/token is empty; it must hold the bearer token/);
    assert.match(render(env, {}), /token file \/token does not exist/);
  });

  it('plaintext grpc:// with TLS options, and a client certificate over plaintext', () => {
    assert.match(
      render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://cache:8980', TREWS_REMOTE_CA_CERTS_PATH: '/ca.pem' }, { '/ca.pem': PEM }),
      /asks for plaintext \(grpc:\/\/\) but TLS options are set\n[^]*use grpcs:\/\/cache:8980/,
    );
    assert.match(
      render(
        { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'cache:8980', TREWS_REMOTE_CLIENT_CERTS_PATH: '/c.pem', TREWS_REMOTE_CLIENT_KEY_PATH: '/k.pem' },
        { '/c.pem': PEM, '/k.pem': KEY },
      ),
      /is plaintext \(no scheme and no remote_ca_certs_path\) but remote_client_certs_path is set/,
    );
  });

  it('headers: reserved names and a clash with the token', () => {
    assert.match(render({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://c:1', TREWS_REMOTE_STORE_HEADERS: '{"grpc-timeout": "1"}' }), /header "grpc-timeout" is reserved by gRPC/);
    assert.match(
      render(
        { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpc://c:1', TREWS_REMOTE_STORE_HEADERS: '{"Authorization": "Basic x"}', TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: '/t' },
        { '/t': 'tok\n' },
      ),
      /remote_store_headers sets `authorization` and remote_oauth_bearer_token_path is set too/,
    );
  });

  it('a good configuration: TLS by scheme or by CA file, token, headers, same endpoint for both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-rc-opts-'));
    try {
      await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
      await writeFile(join(dir, 'token'), 'secret-token\n');
      const r = validateRemoteOptions(
        remoteOptions({
          TREWS_REMOTE_EXECUTION: 'true',
          TREWS_REMOTE_STORE_SERVER: 'build.example.com:8980',
          TREWS_REMOTE_EXECUTION_SERVER: 'build.example.com:8980',
          TREWS_REMOTE_CA_CERTS_PATH: join(dir, 'ca.pem'),
          TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(dir, 'token'),
          TREWS_REMOTE_EXECUTION_HEADERS: '{"X-Tenant": "a"}',
          TREWS_REMOTE_INSTANCE_NAME: 'main',
          TREWS_REMOTE_EXECUTION_EXTRA_PLATFORM_PROPERTIES: '["OSFamily=linux", "container-image=docker://x=y"]',
        }),
      );
      assert.ok(r.ok && r.value !== null);
      const c = r.value;
      assert.equal(c.instanceName, 'main');
      assert.equal(c.store.tls?.rootCerts?.toString().includes('BEGIN CERTIFICATE'), true);
      assert.equal(c.store.token, 'secret-token');
      assert.deepEqual(c.executionEndpoint?.headers, { 'x-tenant': 'a' });
      assert.deepEqual(c.store.headers, {});
      assert.deepEqual(c.extraPlatformProperties, [
        { name: 'OSFamily', value: 'linux' },
        { name: 'container-image', value: 'docker://x=y' },
      ]);
      const system = validateRemoteOptions(remoteOptions({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'grpcs://cache.example.com' }));
      assert.ok(system.ok && system.value !== null);
      assert.deepEqual(system.value.store.tls, { rootCerts: null, clientCertChain: null, clientKey: null });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('token files: a trailing newline is fine, CRLF too, spaces are not', () => {
    assert.deepEqual(parseTokenFile('abc\n'), { ok: true, value: 'abc' });
    assert.deepEqual(parseTokenFile('abc\r\n'), { ok: true, value: 'abc' });
    assert.equal(parseTokenFile('a b').ok, false);
    assert.equal(parseTokenFile('a\n\n').ok, false);
  });
});

describe('retry policy', () => {
  const policy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000 };
  it('full jitter under an exponentially growing cap, never above the maximum', () => {
    const max = (n: number): number => backoffDelayMs({ ...policy, random: () => 0.999999 }, n);
    assert.deepEqual([1, 2, 3, 4, 5, 10].map(max), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffDelayMs({ ...policy, random: () => 0 }, 4), 0);
    // A server's RetryInfo wins when it asks for longer.
    assert.equal(backoffDelayMs({ ...policy, random: () => 0 }, 1, 700), 700);
  });

  it('retries the transient codes up to the limit, and nothing else', async () => {
    const fast = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2 };
    for (const code of [Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.INTERNAL, Code.UNKNOWN]) {
      let calls = 0;
      await assert.rejects(
        withRetries(fast, async () => {
          calls++;
          throw new RpcError(code, 'remote_store_server grpc://x:1', 'ContentAddressableStorage.FindMissingBlobs', 'down');
        }),
        /FindMissingBlobs on remote_store_server grpc:\/\/x:1 failed/,
      );
      assert.equal(calls, 4, Code[code]);
    }
    for (const code of [Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.UNAUTHENTICATED, Code.FAILED_PRECONDITION, Code.DEADLINE_EXCEEDED]) {
      let calls = 0;
      await assert.rejects(
        withRetries(fast, async () => {
          calls++;
          throw new RpcError(code, 's', 'm', 'no');
        }),
      );
      assert.equal(calls, 1, Code[code]);
    }
    let n = 0;
    assert.equal(
      await withRetries(fast, async () => {
        if (++n < 3) throw new RpcError(Code.UNAVAILABLE, 's', 'm', '');
        return 'ok';
      }),
      'ok',
    );
  });

  it('stops waiting when cancelled', async () => {
    const ac = new AbortController();
    const p = withRetries({ maxRetries: 5, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 1 }, async () => {
      throw new RpcError(Code.UNAVAILABLE, 's', 'm', '');
    }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
  });
});

describe('batching', () => {
  const encodedSize = (blobs: readonly { digest: Digest; data: Buffer }[]): number =>
    toBinary(
      BatchUpdateBlobsRequestSchema,
      create(BatchUpdateBlobsRequestSchema, {
        instanceName: 'some/instance',
        requests: blobs.map((b) => create(BatchUpdateBlobsRequest_RequestSchema, { digest: toProtoDigest(b.digest), data: b.data })),
        digestFunction: DigestFunction_Value.SHA256,
      }),
    ).byteLength;

  it('limits: the server, the option and gRPC’s 4 MiB, with a margin', () => {
    assert.equal(effectiveBatchLimit(0, 4 * 1024 * 1024), GRPC_DEFAULT_MAX_MESSAGE_BYTES - 64 * 1024);
    assert.equal(effectiveBatchLimit(100 * 1024 * 1024, 100 * 1024 * 1024), GRPC_DEFAULT_MAX_MESSAGE_BYTES - 64 * 1024);
    // NativeLink advertises 64 KiB: the margin scales down, the limit stays below it.
    const native = effectiveBatchLimit(64 * 1024, 4 * 1024 * 1024);
    assert.ok(native < 64 * 1024 && native >= 56 * 1024, String(native));
    assert.equal(effectiveBatchLimit(0, 1000), 1000);
  });

  for (const limit of [64 * 1024, effectiveBatchLimit(64 * 1024, 4 * 1024 * 1024), effectiveBatchLimit(0, 4 * 1024 * 1024)]) {
    it(`every encoded batch message stays under ${limit} bytes`, () => {
      // Sizes from 0 to over the limit, with many tiny blobs (where per-blob overhead dominates).
      let seed = 42;
      const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const blobs = Array.from({ length: limit > 1024 * 1024 ? 200 : 3000 }, (_, i) => {
        const size = i % 3 === 0 ? Math.floor(rand() * 40) : Math.floor(rand() * rand() * limit * 1.2);
        const data = Buffer.alloc(size, i % 251);
        return { digest: digestOf(data), data };
      });
      const plan = planBatches(blobs, limit);
      assert.equal(plan.batches.flat().length + plan.streamed.length, blobs.length);
      for (const b of plan.batches) assert.ok(encodedSize(b) <= limit, `a batch of ${b.length} encodes to ${encodedSize(b)} > ${limit}`);
      for (const s of plan.streamed) assert.ok(encodedSize([s]) > limit - 200, 'only blobs that cannot fit are streamed');
    });
  }
});

describe('remote cache warnings', () => {
  it('per remote_cache_warnings', () => {
    const shown = (mode: 'ignore' | 'first_only' | 'backoff' | 'always'): number[] =>
      Array.from({ length: 20 }, (_, i) => i + 1).filter((n) => shouldShow(mode, n));
    assert.deepEqual(shown('ignore'), []);
    assert.deepEqual(shown('first_only'), [1]);
    assert.deepEqual(shown('backoff'), [1, 2, 4, 8, 16]);
    assert.equal(shown('always').length, 20);
  });

  it('go to the sink, and a sink that throws does not fail anything', () => {
    const lines: string[] = [];
    const w = createCacheWarner('backoff', (m) => lines.push(m), nullLogger);
    for (let i = 0; i < 5; i++) w.warn(`failure ${i}`);
    assert.equal(w.count, 5);
    assert.deepEqual(lines.map((l) => l.split(' (')[0]), ['remote cache: failure 0', 'remote cache: failure 1', 'remote cache: failure 3']);
    const broken = createCacheWarner('always', () => {
      throw new Error('closed');
    }, nullLogger);
    broken.warn('x');
  });
});

describe('platform properties and request metadata', () => {
  it('global extras overridden by name by the process, sorted by name then value (UTF-8)', () => {
    assert.deepEqual(
      mergePlatform(
        [
          { name: 'container-image', value: 'docker://base' },
          { name: 'OSFamily', value: 'linux' },
          { name: 'pool', value: 'default' },
        ],
        [
          { name: 'pool', value: 'large' },
          { name: 'gpu', value: 'b' },
          { name: 'gpu', value: 'a' },
        ],
      ),
      [
        { name: 'OSFamily', value: 'linux' },
        { name: 'container-image', value: 'docker://base' },
        { name: 'gpu', value: 'a' },
        { name: 'gpu', value: 'b' },
        { name: 'pool', value: 'large' },
      ],
    );
  });

  it('the merged platform is in Action.platform and Command.platform both', () => {
    const p = forRemote(makeProcess({ argv: ['true'], platform: [{ name: 'pool', value: 'big' }] }), [
      { name: 'OSFamily', value: 'linux' },
      { name: 'pool', value: 'small' },
    ]);
    const a = toAction(p);
    const props = (x: { properties: { name: string; value: string }[] } | undefined): string[] => (x?.properties ?? []).map((q) => `${q.name}=${q.value}`);
    assert.deepEqual(props(a.action.platform), ['OSFamily=linux', 'pool=big']);
    assert.deepEqual(props(a.command.platform), ['OSFamily=linux', 'pool=big']);
  });

  it('RequestMetadata names the tool, the invocation and the action', () => {
    const m = fromBinary(RequestMetadataSchema, requestMetadataBytes({ invocationId: 'run-1', actionId: 'abc' }));
    assert.equal(m.toolDetails?.toolName, 'trews');
    assert.match(m.toolDetails?.toolVersion ?? '', /^\d+\.\d+\.\d+/);
    assert.equal(m.toolInvocationId, 'run-1');
    assert.equal(m.actionId, 'abc');
  });

  it('ByteStream resource names, with and without an instance name', () => {
    const d = digestOf('x');
    assert.equal(readResourceName('', d), `blobs/${d.hash}/1`);
    assert.equal(readResourceName('main/eu', d), `main/eu/blobs/${d.hash}/1`);
    assert.equal(writeResourceName('main', 'u-1', d), `main/uploads/u-1/blobs/${d.hash}/1`);
    assert.equal(writeResourceName('', 'u-1', d), `uploads/u-1/blobs/${d.hash}/1`);
  });
});

describe('capabilities', () => {
  const endpoint = { description: 'remote_store_server grpc://cas:8980', target: 'cas:8980', identity: 'x', instanceName: '' } as unknown as RemoteEndpoint;
  const caps = (o: { digestFunctions?: DigestFunction_Value[]; maxBatch?: bigint; exec?: boolean; symlinks?: SymlinkAbsolutePathStrategy_Value; update?: boolean } = {}): ServerCapabilities =>
    create(ServerCapabilitiesSchema, {
      cacheCapabilities: {
        digestFunctions: o.digestFunctions ?? [DigestFunction_Value.SHA256],
        maxBatchTotalSizeBytes: o.maxBatch ?? 0n,
        symlinkAbsolutePathStrategy: o.symlinks ?? SymlinkAbsolutePathStrategy_Value.DISALLOWED,
        actionCacheUpdateCapabilities: { updateEnabled: o.update ?? true },
      },
      executionCapabilities: { digestFunction: DigestFunction_Value.SHA256, execEnabled: o.exec ?? true },
      lowApiVersion: { major: 2 },
      highApiVersion: { major: 2, minor: 3 },
    });

  it('reduces what we use', () => {
    assert.deepEqual(checkCapabilities(caps({ maxBatch: 65536n, update: false }), endpoint, { cache: true, execution: true }), {
      maxBatchTotalSizeBytes: 65536,
      actionCacheUpdateEnabled: false,
      execEnabled: true,
      absoluteSymlinksAllowed: false,
      apiVersions: '2.0-2.3',
    });
  });

  it('a server without SHA-256 is refused, by name', () => {
    assert.throws(
      () => checkCapabilities(caps({ digestFunctions: [DigestFunction_Value.BLAKE3, DigestFunction_Value.SHA1] }), endpoint, { cache: true, execution: false }),
      (e: unknown) => isFailureError(e) && e.failure.message === 'remote_store_server grpc://cas:8980 does not support SHA-256 digests (it offers: BLAKE3, SHA1)',
    );
  });

  it('execution on a cache-only server is refused', () => {
    assert.throws(
      () => checkCapabilities(caps({ exec: false }), endpoint, { cache: false, execution: true }),
      (e: unknown) => isFailureError(e) && /does not execute actions \(exec_enabled is false/.test(e.failure.message),
    );
  });

  it('absolute symlinks in inputs are refused before upload when the server disallows them', async () => {
    const local = await tempStore();
    try {
      const root = await treeFromFiles(local.store, [{ kind: 'symlink', path: 'etc/link', target: '/etc/hostname' }]);
      const remote = { endpoint, description: endpoint.description } as unknown as RemoteBlobStore;
      await assert.rejects(
        ensureUploaded(local.store, remote, { roots: [root], blobs: [], absoluteSymlinksAllowed: false }, undefined),
        (e: unknown) =>
          isFailureError(e) &&
          e.failure.reason === 'remote-absolute-symlink' &&
          e.failure.message.startsWith('remote_store_server grpc://cas:8980 does not allow absolute symlinks') &&
          /pointing to "\/etc\/hostname"/.test(e.failure.message),
      );
    } finally {
      await local.dispose();
    }
  });
});

describe('waiting abortably', () => {
  it('a shared promise no longer waited for (the signal was already aborted) fails unheard, not as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const listener = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', listener);
    try {
      // A lookup whose run was cancelled before it asked: the cache's probe goes on, and fails later.
      let fail: (e: Error) => void = () => undefined;
      const probe = new Promise<never>((_, reject) => (fail = reject));
      await assert.rejects(abortable(probe, AbortSignal.abort()), (e: unknown) => isAbortError(e));
      fail(new Error('the cache is down'));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});
