// End-to-end: `trews test` through the real CLI against a real
// `trews remote-server` on 127.0.0.1, with remote execution and remote caching.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from './helpers/index.js';
import { startServer, type ServerProcess } from './helpers/remote-client.js';
import { makeShellRepo, resultLines, summaryLine, type ShellRepo } from './helpers/shell.js';

async function exampleRepo(): Promise<ShellRepo> {
  const repo = await makeShellRepo({});
  // A copy, so the runs' .trews.d never touch the checkout.
  await cp(join(repoRoot(), 'examples'), repo.root, { recursive: true, filter: (src) => !/[/\\](\.trews\.d|dist)$/.test(src) });
  return repo;
}

/** Sandboxes the local runner made under the repo's TMPDIR. */
async function localSandboxes(repo: ShellRepo): Promise<string[]> {
  const root = repo.sandboxes;
  return existsSync(root) ? readdir(root) : [];
}

function executed(server: ServerProcess): string[] {
  return server.log().split('\n').filter((l) => /INFO +action [0-9a-f]{64}\/\d+: exit \d+ in /.test(l));
}

const exec = (s: ServerProcess): Record<string, string> => ({
  TREWS_REMOTE_EXECUTION: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${s.address}`,
  TREWS_REMOTE_EXECUTION_SERVER: `grpc://${s.address}`,
});

describe('trews test :: with remote_execution=true', () => {
  let server: ServerProcess;
  let repo: ShellRepo;
  before(async () => {
    server = await startServer();
    repo = await exampleRepo();
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
  });

  it('runs every process on the server and none in a local sandbox', async () => {
    const r = await repo.trews(['test', '::'], { env: exec(server) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(resultLines(r.stderr), ['✓ app:test succeeded (remote)', '✓ greeting:test succeeded (remote)']);
    assert.equal(summaryLine(r.stderr), '4 ran remotely');
    // The server's log: one line per action it executed, all four of them.
    const ran = executed(server);
    assert.equal(ran.length, 4, server.log());
    assert.ok(ran.every((l) => / exit 0 in /.test(l)));
    assert.ok(ran.some((l) => /make-cards\.mjs/.test(l)) && ran.some((l) => /check\.sh/.test(l)));
    assert.deepEqual(await localSandboxes(repo), []);
  });

  it('a second run in a fresh local store is served from the remote cache', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'trews-e2e-store-'));
    try {
      const r = await repo.trews(['test', '::'], { env: { ...exec(server), TREWS_LOCAL_STORE_DIR: fresh } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(resultLines(r.stderr), ['✓ app:test succeeded (remote cache)', '✓ greeting:test succeeded (remote cache)']);
      assert.equal(summaryLine(r.stderr), '4 from the remote cache');
      assert.equal(executed(server).length, 4, 'nothing more was executed');
      assert.deepEqual(await localSandboxes(repo), []);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

describe('remote cache across build roots', () => {
  it('results written by one build root are read by another with its own local store', async () => {
    const server = await startServer();
    const a = await exampleRepo();
    const b = await exampleRepo();
    try {
      const cache = { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}` };
      const first = await a.trews(['test', '::'], { env: cache });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(summaryLine(first.stderr), '4 ran locally');
      // The writes finished before the run ended: the server has all four results.
      assert.equal(server.log().match(/rpc (ActionCache\.)?UpdateActionResult OK/g)?.length, 4, server.log());

      const second = await b.trews(['test', '::'], { env: { ...cache, TREWS_REMOTE_CACHE_WRITE: 'false' } });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(resultLines(second.stderr), ['✓ app:test succeeded (remote cache)', '✓ greeting:test succeeded (remote cache)']);
      assert.equal(summaryLine(second.stderr), '4 from the remote cache');
      assert.deepEqual(await localSandboxes(b), []);
      assert.equal(executed(server).length, 0, 'a cache-only run executes nothing on the server');
    } finally {
      await server.stop();
      await a.cleanup();
      await b.cleanup();
    }
  });

  it('a cache that is down warns and the build still passes', async () => {
    const gone = await startServer();
    await gone.stop();
    const repo = await exampleRepo();
    try {
      const r = await repo.trews(['test', '::'], {
        env: { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${gone.address}`, TREWS_REMOTE_STORE_RPC_RETRIES: '0' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summaryLine(r.stderr), '4 ran locally');
      assert.match(r.stderr, new RegExp(`^warning: remote cache: .*cannot use remote_store_server grpc://${gone.address}: GetCapabilities failed with UNAVAILABLE`, 'm'));
    } finally {
      await repo.cleanup();
    }
  });
});

describe('remote errors through the CLI', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'slow/BUILD': 'test_shell_command(name="t", command="sleep 30", tools=["sleep"])\n',
      'quick/BUILD': 'test_shell_command(name="t", command="true", tools=["true"])\n',
    });
  });
  after(() => repo.cleanup());

  it('a misconfiguration is an error before any work starts', async () => {
    const r = await repo.trews(['test', '::'], { env: { TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_EXECUTION_SERVER: 'grpc://127.0.0.1:1' } });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      [
        'error: invalid remote configuration: remote_execution is on but remote_store_server is not set',
        '  remote_execution set by env TREWS_REMOTE_EXECUTION',
        '  remote execution needs a CAS to upload inputs to and fetch outputs from: set remote_store_server (usually the same address as remote_execution_server)',
        '',
      ].join('\n'),
    );
    const token = join(repo.root, 'token');
    await writeFile(token, 'one\ntwo\n');
    const t = await repo.trews(['test', '::'], { env: { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: 'cache:9092', TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: 'token' } });
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /^error: invalid remote configuration: remote_oauth_bearer_token_path: .*token has 2 lines; it must hold exactly one line, the token$/m);
    assert.equal(summaryLine(t.stderr), undefined, 'no process ran');
  });

  it('a wrong token is a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-e2e-token-'));
    await writeFile(join(dir, 'server-tokens'), 'right\n');
    await writeFile(join(dir, 'client-token'), 'wrong\n');
    const server = await startServer({ args: ['--token-file', join(dir, 'server-tokens')] });
    try {
      const r = await repo.trews(['test', 'quick:t'], { env: { ...exec(server), TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(dir, 'client-token') } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`cannot use remote_(store|execution)_server grpc://${server.address}: GetCapabilities failed with UNAUTHENTICATED`));
      assert.match(r.stderr, /remote_oauth_bearer_token_path/);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the server killed mid-run: a clear error and an exit, no hang', async () => {
    const server = await startServer();
    try {
      const t0 = Date.now();
      const run = repo.trews(['test', 'slow:t'], { env: exec(server), timeoutMs: 60_000 });
      // Kill once the action is running on the server.
      for (let i = 0; i < 100 && !/rpc (Execution\.)?Execute|Execute/.test(server.log()); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      await server.kill();
      const r = await run;
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`remote execution of .* failed: Execution\\.(Execute|WaitExecution) on remote_execution_server grpc://${server.address} returned UNAVAILABLE`));
      assert.ok(Date.now() - t0 < 45_000, `took ${Date.now() - t0} ms`);
    } finally {
      await server.stop();
    }
  });
});
