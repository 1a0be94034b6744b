// `trews remote-server` runs actions in strict sandboxes by default: an
// action cannot read the server's token file or store, write outside its
// sandbox, see other actions' sandboxes, or reach the network; with
// --run-as it is also another user. An action whose salt asks for strict
// isolation gets it even from a server started with --isolation none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ContentAddressableStorageService, ExecutionService, type Operation } from '../src/reapi/index.js';
import { buildAction, connect, outcomeOf, pd, serverStream, startServer, unary, upload, type ServerProcess } from './helpers/remote-server.js';

const HAVE_BWRAP = existsSync('/usr/bin/bwrap') || process.env['CI'] === 'true'; // CI installs them: there, their absence is a failure
const NO_BWRAP = 'bubblewrap (`bwrap`) is not installed here (CI installs it: .ci/run)';
const isRoot = process.getuid?.() === 0;
const TOKEN = 'sesame';

function bearer(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${TOKEN}`);
  return md;
}

/**
 * Runs a probing script on the server and returns its stdout. Before it, one
 * action makes the server's sandbox root, where the test then plants the
 * sandbox of "another action".
 */
async function probe(server: ServerProcess, dir: string, tokenFile: string, salt?: string): Promise<{ stdout: string; planted: string }> {
  const md = bearer();
  const cas = connect(ContentAddressableStorageService, server.address);
  const exec = connect(ExecutionService, server.address);
  const run = async (script: string, env: Record<string, string> = {}): Promise<string> => {
    const a = buildAction({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin', ...env }, ...(salt !== undefined ? { salt } : {}) });
    await upload(cas, a.blobs, '', md);
    const { response } = outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(a.actionDigest) }, md));
    assert.equal(response.status?.code ?? 0, 0, response.status?.message);
    const d = response.result?.stdoutDigest;
    if (d === undefined) return '';
    const r = await unary<{ responses: Array<{ data: Uint8Array }> }>(cas, 'batchReadBlobs', { digests: [d] }, md);
    return Buffer.from(r.responses[0]!.data).toString();
  };
  try {
    const sandboxRoot = (await run('cd .. && cd .. && pwd')).trim();
    const planted = join(sandboxRoot, 'trews-sandbox-other');
    await mkdir(join(planted, 'root'), { recursive: true });
    await writeFile(join(planted, 'root', 'theirs.txt'), 'another action’s input\n');
    await chmod(planted, 0o755);
    const stdout = await run(
      [
        'id -u',
        'cat "$TOKEN" && echo READ-TOKEN',
        // Its parents may exist as empty mount points (the sandboxes are under it): what counts is its content.
        '[ -n "$(ls -A "$STORE" | grep -v "^remote-server$")" ] && echo LISTED-STORE',
        'cat "$OTHER/root/theirs.txt" && echo READ-OTHER-SANDBOX',
        'ls ../.. | grep -q trews-sandbox-other && echo SAW-OTHER-SANDBOX',
        // Writes are judged on this machine (a private /tmp may take them): see the callers.
        'touch "$DIR/planted"',
        'touch ../../planted-by-action',
        'true',
      ].join('\n'),
      { TOKEN: tokenFile, STORE: server.storeDir, OTHER: planted, DIR: dir },
    );
    return { stdout, planted: sandboxRoot };
  } finally {
    cas.close();
    exec.close();
  }
}

async function tokenSetup(): Promise<{ dir: string; tokenFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-rs-strict-'));
  await chmod(dir, 0o755);
  const tokenFile = join(dir, 'tokens');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  return { dir, tokenFile };
}

describe('trews remote-server: strict isolation', { skip: HAVE_BWRAP ? false : NO_BWRAP }, () => {
  it('by default an action reads neither the token file nor the store nor other sandboxes, and writes nothing outside its own', async () => {
    const { dir, tokenFile } = await tokenSetup();
    const server = await startServer(['--token-file', tokenFile], { dir, defaultIsolation: true });
    try {
      assert.match(server.stdout(), /, isolation strict\n/);
      const { stdout, planted } = await probe(server, dir, tokenFile);
      assert.equal(stdout, `${process.getuid?.() ?? 0}\n`, 'every attempt failed');
      assert.equal(existsSync(join(dir, 'planted')), false);
      assert.equal(existsSync(join(planted, 'planted-by-action')), false);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with --isolation none (as before) the same action reads them all: the probe can fail', { skip: isRoot ? false : 'the token file is the test user’s own either way' }, async () => {
    const { dir, tokenFile } = await tokenSetup();
    const server = await startServer(['--token-file', tokenFile, '--isolation', 'none'], { dir });
    try {
      const { stdout, planted } = await probe(server, dir, tokenFile);
      for (const saw of ['READ-TOKEN', 'LISTED-STORE', 'READ-OTHER-SANDBOX', 'SAW-OTHER-SANDBOX']) assert.match(stdout, new RegExp(saw));
      assert.equal(existsSync(join(dir, 'planted')), true);
      assert.equal(existsSync(join(planted, 'planted-by-action')), true);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('attack: an action salted strict (as trews sends strict processes) runs strict on an --isolation none server', async () => {
    const { dir, tokenFile } = await tokenSetup();
    const server = await startServer(['--token-file', tokenFile, '--isolation', 'none'], { dir });
    try {
      const { stdout, planted } = await probe(server, dir, tokenFile, 'trews-isolation=strict');
      assert.equal(stdout, `${process.getuid?.() ?? 0}\n`, 'its result is cached under a key that promises strict isolation');
      assert.equal(existsSync(join(dir, 'planted')), false);
      assert.equal(existsSync(join(planted, 'planted-by-action')), false);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with --run-as, runs strict as that user', { skip: isRoot ? false : 'needs root: --run-as switches to another user, which only root can' }, async () => {
    // A user of our own, so the test depends on no account the machine may lack.
    const user = `trews${process.pid % 100000}`;
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    const { dir, tokenFile } = await tokenSetup();
    const server = await startServer(['--token-file', tokenFile, '--run-as', user], { dir, defaultIsolation: true });
    try {
      const uid = execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim();
      const { stdout, planted } = await probe(server, dir, tokenFile);
      assert.equal(stdout, `${uid}\n`, 'it ran as that user, and every attempt failed');
      assert.equal(existsSync(join(dir, 'planted')), false);
      assert.deepEqual((await readdir(planted)).filter((e) => e === 'planted-by-action'), []);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      execFileSync('userdel', [user]);
    }
  });
});
