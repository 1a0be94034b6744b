// End-to-end: `trews test` through the real CLI with remote caching on an
// HTTP cache (bazel-remote's protocol), served by a small HTTP server the
// test starts on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpCacheServer, type HttpCacheServer } from './helpers/http-cache-server.js';
import { makeShellRepo, summaryLine, type ShellRepo } from './helpers/shell.js';

const BUILD = [
  'files(name="data", sources=["in.txt"])',
  'shell_command(name="gen", command="cat in.txt in.txt > out.txt", tools=["cat"], execution_dependencies=[":data"], output_files=["out.txt"])',
  'test_shell_command(name="check", command="grep -q twice out.txt", tools=["grep"], execution_dependencies=[":gen"])',
  '',
].join('\n');

const repoFiles = { 'lib/BUILD': BUILD, 'lib/in.txt': 'said twice\n' };

const cache = (url: string, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_CACHE_READ: 'true',
  TREWS_REMOTE_CACHE_WRITE: 'true',
  TREWS_REMOTE_STORE_SERVER: url,
  ...extra,
});

describe('trews test with an HTTP cache', () => {
  let server: HttpCacheServer;
  let scratch: string;
  before(async () => {
    server = await startHttpCacheServer({ token: 'let-me-in' });
    scratch = await mkdtemp(join(tmpdir(), 'trews-http-e2e-'));
    await writeFile(join(scratch, 'token'), 'let-me-in\n');
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('a result written by one build root is a hit for another with its own local store', async () => {
    const a = await makeShellRepo(repoFiles);
    const b = await makeShellRepo(repoFiles);
    try {
      const env = cache(server.url, { TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(scratch, 'token') });
      const first = await a.trews(['test', '::'], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(summaryLine(first.stderr), '2 ran locally');
      // The writes finished before the run ended: two results, under /ac.
      assert.equal(server.requests.filter((r) => /^PUT \/ac\/[0-9a-f]{64} 200$/.test(r)).length, 2, server.requests.join('\n'));

      const second = await b.trews(['test', '::'], { env: { ...env, TREWS_REMOTE_CACHE_WRITE: 'false' } });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(summaryLine(second.stderr), '2 from the remote cache');
      assert.doesNotMatch(second.stderr, /warning/);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });

  it('without the token the cache refuses: a warning that says what to set, and the build passes locally', async () => {
    const repo = await makeShellRepo(repoFiles);
    try {
      const r = await repo.trews(['test', '::'], { env: cache(server.url) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summaryLine(r.stderr), '2 ran locally');
      const first = r.stderr.split('\n').find((l) => l.startsWith('warning: '));
      assert.match(
        first ?? '',
        new RegExp(
          `^warning: remote cache: lookup of .* failed, running it locally: remote_store_server ${server.url}: HEAD /cas/[0-9a-f]{64} answered 401 Unauthorized; the server wants credentials: put a bearer token in a file and set remote_oauth_bearer_token_path to it$`,
        ),
      );
    } finally {
      await repo.cleanup();
    }
  });

  it('the cache down never fails the build', async () => {
    const gone = await startHttpCacheServer();
    await gone.stop();
    const repo = await makeShellRepo(repoFiles);
    try {
      const r = await repo.trews(['test', '::'], { env: cache(gone.url, { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summaryLine(r.stderr), '2 ran locally');
      assert.match(r.stderr, new RegExp(`^warning: remote cache: .*remote_store_server ${gone.url}: HEAD /cas/[0-9a-f]{64} failed: connect ECONNREFUSED`, 'm'));
    } finally {
      await repo.cleanup();
    }
  });

  it('remote_execution with an HTTP cache is an option error naming the option, before any work', async () => {
    const repo = await makeShellRepo(repoFiles);
    try {
      const r = await repo.trews(['test', '::'], { env: { TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: server.url, TREWS_REMOTE_EXECUTION_SERVER: server.url } });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        [
          `error: invalid remote configuration: remote_execution is on but remote_store_server \`${server.url}\` is an HTTP cache, which only caches`,
          '  remote_execution set by env TREWS_REMOTE_EXECUTION',
          '  remote execution needs a REAPI server (grpc:// or grpcs://) for its CAS; to use the HTTP cache, turn remote_execution off and remote_cache_read / remote_cache_write on',
          '',
        ].join('\n'),
      );
    } finally {
      await repo.cleanup();
    }
  });
});

describe('which transport a run loads', () => {
  // A preload that records, as the process exits, how many modules of
  // @grpc/grpc-js it loaded (an ES import of a CommonJS package lands in
  // require.cache too).
  let dir: string;
  let repo: ShellRepo;
  let server: HttpCacheServer;
  let runs = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-grpc-probe-'));
    await writeFile(
      join(dir, 'probe.cjs'),
      "process.on('exit', () => require('node:fs').writeFileSync(process.env.GRPC_PROBE_OUT, String(Object.keys(require.cache).filter((k) => k.includes('@grpc/grpc-js')).length)));\n",
    );
    repo = await makeShellRepo(repoFiles);
    server = await startHttpCacheServer();
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const grpcModulesLoaded = async (env: Record<string, string>): Promise<number> => {
    const run = `run-${++runs}`;
    const out = join(dir, `${run}.out`);
    // A local store of its own, so the processes run (and look up the remote cache) every time.
    const store = join(dir, `${run}.store`);
    const r = await repo.trews(['test', '::'], { env: { ...env, TREWS_LOCAL_STORE_DIR: store, NODE_OPTIONS: `--require ${join(dir, 'probe.cjs')}`, GRPC_PROBE_OUT: out } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryLine(r.stderr), '2 ran locally');
    return Number(await readFile(out, 'utf8'));
  };

  it('an HTTP cache run does not load gRPC, nor does a run without remote options; a REAPI cache run does', async () => {
    // Read only: every run misses, so each one asks the cache for both processes.
    assert.equal(await grpcModulesLoaded(cache(server.url, { TREWS_REMOTE_CACHE_WRITE: 'false' })), 0);
    assert.equal(server.requests.filter((r) => r.startsWith('GET /ac/')).length, 2, 'the HTTP cache was used');
    assert.equal(await grpcModulesLoaded({}), 0);
    // The probe can see gRPC: a REAPI cache (down, so the build still passes) loads it.
    assert.ok((await grpcModulesLoaded(cache('grpc://127.0.0.1:1', { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }))) > 0);
  });
});
