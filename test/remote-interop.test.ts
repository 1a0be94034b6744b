// trews' remote client against REAPI servers that behave unlike ours, each
// imitated by a real `trews remote-server` in one of its hidden test modes:
// a CAS without the implicit empty blob (BuildGrid), a scheduler that keeps
// actions no worker matches QUEUED, a server that says why it refuses a
// cached result. And a correct setup — TLS to an IP, 20 calls at once —
// must print no warning at all, on either side.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { EMPTY_DIGEST, digestOf, isFailureError, type Digest } from '../src/core/index.js';
import { makeProcess, toAction, type Process, type ProcessResult } from '../src/exec/index.js';
import { ActionResultSchema, ActionCacheService, ContentAddressableStorageService, toProtoDigest } from '../src/reapi/index.js';
import { EMPTY_TREE_DIGEST, treeFromBytes, type LocalStore } from '../src/store/index.js';
import { execContext as ctx, memoryLogger, remoteClient, startServer, withServer, type ServerProcess } from './helpers/remote-client.js';
import { connect, unary, upload } from './helpers/remote-server.js';
import { makeShellRepo, summaryLine } from './helpers/shell.js';

const execEnv = (s: ServerProcess, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_EXECUTION: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${s.address}`,
  TREWS_REMOTE_EXECUTION_SERVER: `grpc://${s.address}`,
  ...extra,
});

const cacheEnv = (s: ServerProcess): Record<string, string> => ({
  TREWS_REMOTE_CACHE_READ: 'true',
  TREWS_REMOTE_CACHE_WRITE: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${s.address}`,
});


/** `sh -c script` over the given input files (none: the empty input root, which is the empty blob). */
async function shell(store: LocalStore, script: string, files: Record<string, string> = {}): Promise<Process> {
  const entries = Object.entries(files);
  const inputRoot = entries.length === 0 ? EMPTY_TREE_DIGEST : await treeFromBytes(store, entries.map(([path, content]) => ({ path, content })));
  return makeProcess({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, inputRoot, outputFiles: ['out.txt'], timeoutMs: null, description: `sh -c ${script}` });
}

async function outputOf(store: LocalStore, r: ProcessResult): Promise<string> {
  const f = r.actionResult.outputFiles.find((x) => x.path === 'out.txt');
  assert.ok(f?.digest, 'out.txt is an output');
  const b = await store.getBytes({ hash: f.digest.hash as Digest['hash'], sizeBytes: Number(f.digest.sizeBytes) });
  assert.ok(b !== undefined, 'out.txt is in the local store');
  return Buffer.from(b).toString('utf8');
}

describe('a server that does not treat the empty blob as present (as BuildGrid)', () => {
  const STRICT = ['--no-implicit-empty-blob'];

  it('results with an empty stdout and stderr, written by one client, are hits for another', () =>
    withServer(async (server) => {
      const a = await remoteClient(cacheEnv(server));
      const first = await a.runner.run(ctx(), await shell(a.local.store, 'echo cached > out.txt', { 'in.txt': 'x' }));
      assert.equal(first.source, 'ran locally');
      assert.deepEqual([first.stdout, first.stderr], [EMPTY_DIGEST, EMPTY_DIGEST], 'the result references the empty blob twice');
      await a.layers.flush();
      assert.deepEqual(a.warnings, []);
      await a.dispose();

      const logger = memoryLogger();
      const b = await remoteClient(cacheEnv(server), { logger });
      const second = await b.runner.run(ctx(), await shell(b.local.store, 'echo cached > out.txt', { 'in.txt': 'x' }));
      assert.equal(second.source, 'remote cache', `a silent miss; the client's log:\n${logger.lines.join('\n')}`);
      assert.equal(await outputOf(b.local.store, second), 'cached\n');
      await b.dispose();
    }, STRICT));

  it('actions with an empty input file, or no inputs at all, run; their results are then served from its cache', () =>
    withServer(async (server) => {
      const a = await remoteClient(execEnv(server));
      const withEmpty = await a.runner.run(
        ctx(),
        await shell(a.local.store, 'test -f empty.txt && test ! -s empty.txt && echo has-empty > out.txt', { 'empty.txt': '', 'in.txt': 'x' }),
      );
      assert.equal(withEmpty.exitCode, 0);
      assert.equal(withEmpty.source, 'remote');
      assert.equal(await outputOf(a.layers.store, withEmpty), 'has-empty\n');
      const noInputs = await a.runner.run(ctx(), await shell(a.local.store, 'echo none > out.txt'));
      assert.equal(noInputs.source, 'remote');
      assert.equal(await outputOf(a.layers.store, noInputs), 'none\n');
      await a.dispose();

      const b = await remoteClient(execEnv(server));
      const again = await b.runner.run(ctx(), await shell(b.local.store, 'echo none > out.txt'));
      assert.equal(again.source, 'remote cache');
      assert.equal(await outputOf(b.layers.store, again), 'none\n');
      await b.dispose();
    }, STRICT));
});

describe('a cached result the server refuses', () => {
  it('the miss is logged at debug level with the reason the server gives', () =>
    withServer(async (server) => {
      const logger = memoryLogger();
      const c = await remoteClient(cacheEnv(server), { logger });
      const proc = await shell(c.local.store, 'echo mine > out.txt');
      // Another client (one that never uploads the empty blob, as trews once
      // did) stored a result for this very action, with an empty stdout.
      const { actionDigest } = toAction(proc);
      const out = { digest: digestOf(Buffer.from('theirs\n')), data: Buffer.from('theirs\n') };
      const cas = connect(ContentAddressableStorageService, server.address);
      const ac = connect(ActionCacheService, server.address);
      await upload(cas, [out]);
      await unary(ac, 'updateActionResult', {
        actionDigest: toProtoDigest(actionDigest),
        actionResult: create(ActionResultSchema, { outputFiles: [{ path: 'out.txt', digest: toProtoDigest(out.digest) }], stdoutDigest: toProtoDigest(EMPTY_DIGEST) }),
      });
      cas.close();
      ac.close();

      const r = await c.runner.run(ctx(), proc);
      assert.equal(r.source, 'ran locally', 'the server refused its entry');
      const why = logger.lines.filter((l) => l.startsWith('debug remote cache: no hit for action'));
      assert.equal(why.length, 1, logger.lines.join('\n'));
      assert.match(
        why[0]!,
        new RegExp(
          `^debug remote cache: no hit for action ${actionDigest.hash}/\\d+ on remote_store_server grpc://${server.address}: NOT_FOUND: ` +
            `the action result for ${actionDigest.hash}/\\d+ references the empty blob ${EMPTY_DIGEST.hash}/0 \\(as stdout_digest\\), which is not in this CAS`,
        ),
      );
      await c.dispose();
    }, ['--no-implicit-empty-blob']));
});

describe('an action no worker takes', () => {
  it('warns while it waits, and the deadline names the stage and how long it was there', () =>
    withServer(async (server) => {
      const c = await remoteClient(
        execEnv(server, {
          TREWS_REMOTE_EXECUTION_EXTRA_PLATFORM_PROPERTIES: '["OSFamily=windows"]',
          TREWS_REMOTE_EXECUTION_QUEUE_WARN_AFTER_SECS: '1',
          TREWS_REMOTE_EXECUTION_OVERALL_DEADLINE_SECS: '3',
        }),
      );
      const proc = await shell(c.local.store, 'echo never > out.txt');
      await assert.rejects(c.runner.run(ctx(), proc), (e: unknown) => {
        assert.ok(isFailureError(e), String(e));
        assert.equal(e.failure.reason, 'remote-deadline');
        assert.match(
          e.failure.message,
          new RegExp(`^remote execution of sh -c echo never > out.txt did not finish within 3 s on remote_execution_server grpc://${server.address}: it was queued for the last [23] s; no worker took it$`),
        );
        assert.match(e.failure.hints?.[0] ?? '', /check remote_execution_extra_platform_properties \(OSFamily=windows\) against the platforms of its workers/);
        assert.doesNotMatch(JSON.stringify(e.failure), /overloaded/);
        return true;
      });
      assert.equal(c.warnings.length, 1, c.warnings.join('\n'));
      assert.match(
        c.warnings[0]!,
        new RegExp(
          `^remote execution of sh -c echo never > out.txt has been queued for 1 s on remote_execution_server grpc://${server.address}, no worker has taken it: ` +
            `check remote_execution_extra_platform_properties \\(OSFamily=windows\\) against the platforms of the server's workers`,
        ),
      );
      // The server really held it QUEUED, and let it go once nobody waited for it.
      assert.match(server.log(), /stays queued, no worker can run it \(no worker satisfies the action's platform property OSFamily=windows/);
      await c.dispose();
    }, ['--queue-unmatched-platforms']));
});

describe('no warnings on a correct setup', () => {
  it('20 remote actions at once over grpcs:// to 127.0.0.1, one with many transfers at once, then 20 cache lookups at once: nothing on stderr says Warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-interop-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    await chmod(join(dir, 'key.pem'), 0o600);
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`p${i}/BUILD`] = `test_shell_command(name="t", command="sleep 1; echo ${i}", tools=["sleep", "echo"])\n`;
    // One action whose inputs and outputs take a dozen transfers at once
    // (8 batches and 4 streams under a 64 KiB batch limit), all on its signal.
    for (let i = 0; i < 100; i++) files[`big/data/small-${i}`] = `${i}`.repeat(4096).slice(0, 16 * 1024);
    for (let i = 0; i < 8; i++) files[`big/data/large-${i}`] = `${i}`.repeat(200 * 1024);
    files['big/BUILD'] = [
      'files(name="data", sources=["data/*"])',
      'shell_command(name="copy", command="cp -R data out", tools=["cp"], execution_dependencies=[":data"], output_directories=["out"])',
      'test_shell_command(name="t", command="cat out/* | wc -c", tools=["cat", "wc"], execution_dependencies=[":copy"])',
      '',
    ].join('\n');
    const repo = await makeShellRepo(files);
    // A correct setup: as root, actions run as an unprivileged user.
    const asRoot = process.getuid?.() === 0 ? ['--run-as', 'nobody'] : [];
    const server = await startServer({ args: ['--workers', '20', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), ...asRoot] });
    try {
      const tls = {
        TREWS_REMOTE_STORE_SERVER: `grpcs://${server.address}`,
        TREWS_REMOTE_CA_CERTS_PATH: join(dir, 'cert.pem'),
        TREWS_REMOTE_STORE_BATCH_API_SIZE_LIMIT: '65536',
      };
      const exec = await repo.trews(['test', '::'], {
        env: { ...tls, TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_EXECUTION_SERVER: `grpcs://${server.address}`, TREWS_PROCESS_EXECUTION_REMOTE_PARALLELISM: '32' },
      });
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(summaryLine(exec.stderr), '22 ran remotely');
      assert.doesNotMatch(exec.stderr, /Warning/);
      const fresh = join(dir, 'fresh-store');
      const cached = await repo.trews(['test', '::'], {
        env: { ...tls, TREWS_REMOTE_CACHE_READ: 'true', TREWS_LOCAL_STORE_DIR: fresh, TREWS_PROCESS_EXECUTION_LOCAL_PARALLELISM: '20' },
      });
      assert.equal(cached.code, 0, cached.stderr);
      assert.equal(summaryLine(cached.stderr), '22 from the remote cache');
      assert.doesNotMatch(cached.stderr, /Warning/);
      assert.doesNotMatch(server.log(), /warning/i);
    } finally {
      await server.stop();
      await repo.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
