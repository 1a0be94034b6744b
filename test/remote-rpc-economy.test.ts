// How many round trips remote execution costs, through the real CLI against
// a real `trews remote-server` on 127.0.0.1: the counts come from the
// server's own log (one debug line per RPC). Counts, not timings: the
// bounds hold however the actions interleave.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withServer, type ServerProcess } from './helpers/remote-client.js';
import { makeShellRepo, summaryLine, type ShellRepo } from './helpers/shell.js';

const PACKAGES = 6;

/** A chain: package i concatenates its source and package i-1's output; a test per package checks its output. */
function chainRepo(o: { bigSource?: boolean } = {}): Record<string, string> {
  const files: Record<string, string> = {};
  const all: string[] = [];
  for (let i = 0; i < PACKAGES; i++) {
    const dep = i > 0 ? ` ../p${i - 1}/out/p${i - 1}.txt` : '';
    // A source larger than a small server's batch goes through ByteStream.
    files[`packages/p${i}/src/a.txt`] = `source of p${i}\n` + (o.bigSource === true && i === 2 ? 'x'.repeat(9000) + '\n' : '');
    files[`packages/p${i}/BUILD`] = [
      'files(name="src", sources=["src/*.txt"])',
      `shell_command(name="build", command="mkdir -p out && cat src/a.txt${dep} > out/p${i}.txt", tools=["cat", "mkdir"],`,
      `    execution_dependencies=[":src"${i > 0 ? `, "//packages/p${i - 1}:build"` : ''}], output_files=["out/p${i}.txt"])`,
      `test_shell_command(name="test", command="grep -q 'source of p${i}' out/p${i}.txt", tools=["grep"], execution_dependencies=[":build"])`,
      '',
    ].join('\n');
    all.push(`"//packages/p${i}:build"`);
  }
  files['BUILD'] = `archive(name="all", format="tar", files=[${all.join(', ')}])\n`;
  return files;
}

const remote = (s: ServerProcess): Record<string, string> => ({
  TREWS_REMOTE_EXECUTION: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${s.address}`,
  TREWS_REMOTE_EXECUTION_SERVER: `grpc://${s.address}`,
});

/** RPCs the server answered, by method and status (`FindMissingBlobs OK`). */
function rpcs(s: ServerProcess): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of s.log().matchAll(/ rpc (\w+) ([A-Z_]+) /g)) counts[`${m[1]} ${m[2]}`] = (counts[`${m[1]} ${m[2]}`] ?? 0) + 1;
  return counts;
}

async function withRepo<T>(files: Record<string, string>, fn: (repo: ShellRepo) => Promise<T>): Promise<T> {
  const repo = await makeShellRepo(files);
  try {
    return await fn(repo);
  } finally {
    await repo.cleanup();
  }
}


describe('round trips of remote execution', () => {
  it('a cold run asks FindMissingBlobs nothing for small inputs, and costs at most one upload and one download per action besides Execute', () =>
    withServer((server) =>
      withRepo(chainRepo(), async (repo) => {
        const r = await repo.trews(['test', '::'], { env: remote(server) });
        assert.equal(r.code, 0, r.stderr);
        const actions = 2 * PACKAGES;
        assert.equal(summaryLine(r.stderr), `${actions} ran remotely`);
        const c = rpcs(server);
        assert.equal(c['Execute OK'], actions, JSON.stringify(c));
        // Each action's new blobs are a few hundred bytes: sent without asking first
        // (before: one FindMissingBlobs per action).
        assert.equal(c['FindMissingBlobs OK'] ?? 0, 0, JSON.stringify(c));
        // At most one batch per action (fewer when actions started together share one).
        assert.ok((c['BatchUpdateBlobs OK'] ?? 0) <= actions, JSON.stringify(c));
        // Only builds have outputs to fetch, one batch each with what they printed.
        assert.ok((c['BatchReadBlobs OK'] ?? 0) <= PACKAGES, JSON.stringify(c));
        const total = Object.entries(c).reduce((n, [k, v]) => (k.startsWith('GetCapabilities') ? n : n + v), 0);
        // Before: 4.5 per action (FindMissingBlobs, BatchUpdateBlobs, Execute, and a read per build).
        assert.ok(total <= 2.5 * actions, `${total} RPCs for ${actions} actions: ${JSON.stringify(c)}`);
      }),
    ));

  it('gives byte-identical results to local execution', () =>
    withServer((server) =>
      withRepo(chainRepo(), async (repo) => {
        const local = await repo.trews(['package', '//:all'], { env: { TREWS_LOCAL_STORE_DIR: join(repo.tmp, 'local-store') } });
        assert.equal(local.code, 0, local.stderr);
        assert.match(local.stderr, /ran locally/);
        const localTar = await readFile(join(repo.root, 'dist', 'all.tar'));
        const r = await repo.trews(['package', '//:all'], { env: { ...remote(server), TREWS_LOCAL_STORE_DIR: join(repo.tmp, 'remote-store') } });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /ran remotely/);
        assert.doesNotMatch(r.stderr, /ran locally/);
        const remoteTar = await readFile(join(repo.root, 'dist', 'all.tar'));
        assert.ok(remoteTar.includes(Buffer.from(`source of p${PACKAGES - 1}\n`)), 'the archive holds the last output');
        assert.ok(Buffer.compare(localTar, remoteTar) === 0, 'the archives built from local and remote outputs are the same bytes');
      }),
    ));

  it('keeps every batch, shared between actions or not, within a server’s small max_batch_total_size_bytes', () =>
    withServer((server) =>
      withRepo(chainRepo({ bigSource: true }), async (repo) => {
        const r = await repo.trews(['test', '::'], { env: remote(server) });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(summaryLine(r.stderr), `${2 * PACKAGES} ran remotely`);
        const c = rpcs(server);
        // A batch over the limit is INVALID_ARGUMENT as a whole: none was.
        assert.deepEqual(
          Object.keys(c).filter((k) => !k.endsWith(' OK')),
          [],
          JSON.stringify(c),
        );
        // The 9 KB source cannot go in a 4 KiB batch: ByteStream.
        assert.ok((c['Write OK'] ?? 0) >= 1, JSON.stringify(c));
      }),
      ['--max-batch-size', '4096'],
    ));
});
