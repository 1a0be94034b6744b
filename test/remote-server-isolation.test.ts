// What an action run by `trews remote-server` can reach: with --run-as,
// neither the server's token file nor its store, and nothing outside its
// sandbox to write; without it, as root, the server says so at start-up.
// And input trees must be in REAPI's canonical order.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { digestString } from '../src/core/index.js';
import { ActionSchema, CommandSchema, ContentAddressableStorageService, DirectorySchema, ExecutionService, type Operation, type ProtoDigest } from '../src/reapi/index.js';
import {
  blob,
  buildAction,
  connect,
  message,
  outcomeOf,
  pd,
  readBlob,
  rejectsWith,
  runServerCli,
  serverStream,
  startServer,
  unary,
  upload,
} from './helpers/remote-server.js';

const SH = '/bin/sh';
const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = 'needs root: --run-as switches to another user, which only root can (CI and the dev machine run tests as root)';

function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** A directory the unprivileged user can enter (mkdtemp makes 0700 ones), so only the server's own protections stand in its way. */
async function openDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

describe('trews remote-server --run-as', { skip: isRoot ? false : NEEDS_ROOT }, () => {
  it('runs actions as that user: they cannot read the token file or the store, nor write outside their sandbox', async () => {
    const dir = await openDir('trews-rs-runas-');
    const tokenFile = join(dir, 'tokens');
    await writeFile(tokenFile, 'sesame\n', { mode: 0o600 });
    const store = join(dir, 'store');
    const server = await startServer(['--run-as', 'nobody', '--token-file', tokenFile, '--store-dir', store, '--log-level', 'debug'], { dir });
    const md = bearer('sesame');
    const cas = connect(ContentAddressableStorageService, server.address);
    const exec = connect(ExecutionService, server.address);
    try {
      assert.match(server.stdout(), /actions run as nobody \(uid \d+\) in /);
      assert.doesNotMatch(server.stderr(), /warning/i, 'a correct setup: no warning');
      assert.equal((await stat(store)).mode & 0o777, 0o700, 'the store is the server user’s alone');
      // The token was read once, at start-up: the file is not needed any more.
      await rm(tokenFile);
      await writeFile(tokenFile, 'sesame\n', { mode: 0o600 });

      const script = [
        'id -u',
        'cat "$TOKEN" && echo READ-TOKEN',
        'ls "$STORE" && echo LISTED-STORE',
        'cat "$STORE"/ac/*/* && echo READ-ACTION-CACHE',
        'touch "$STORE/planted" && echo WROTE-STORE',
        'touch "$DIR/planted" && echo WROTE-TEST-DIR',
        'touch ../planted && echo WROTE-SANDBOX-DIR',
        'touch ../../planted && echo WROTE-SANDBOX-ROOT',
        'echo made-by-action > out.txt',
      ].join('\n');
      const a = buildAction({
        argv: [SH, '-c', script],
        env: { PATH: '/usr/bin:/bin', TOKEN: tokenFile, STORE: store, DIR: dir },
        files: { 'in.txt': 'input' },
        outputFiles: ['out.txt'],
      });
      await upload(cas, a.blobs, '', md);
      const { response } = outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(a.actionDigest) }, md));
      assert.equal(response.status?.code ?? 0, 0, response.status?.message);
      const result = response.result!;
      const read = async (d: ProtoDigest | undefined): Promise<string> => {
        assert.ok(d);
        const r = await unary<{ responses: Array<{ data: Uint8Array }> }>(cas, 'batchReadBlobs', { digests: [d] }, md);
        return Buffer.from(r.responses[0]!.data).toString();
      };
      const stdout = await read(result.stdoutDigest);
      const nobody = execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
      assert.equal(stdout, `${nobody}\n`, 'it ran as nobody, and every attempt failed');
      assert.match(await read(result.stderrDigest), /Permission denied/);
      // Its sandbox was its own: it made its output.
      const out = result.outputFiles.find((f) => f.path === 'out.txt');
      assert.equal(await read(out?.digest), 'made-by-action\n');
      assert.equal(existsSync(join(store, 'planted')), false);
      assert.equal(existsSync(join(dir, 'planted')), false);
      assert.equal(await readFile(tokenFile, 'utf8'), 'sesame\n');
    } finally {
      cas.close();
      exec.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start when that user could read the token file or the TLS key', async () => {
    const dir = await openDir('trews-rs-runas-files-');
    try {
      await writeFile(join(dir, 'tokens'), 'sesame\n', { mode: 0o644 });
      const token = await runServerCli(['--run-as', 'nobody', '--token-file', 'tokens', '--store-dir', 'store', '--listen', '127.0.0.1:0'], dir);
      assert.equal(token.code, 2, token.stderr);
      assert.match(token.stderr, /^error: --token-file .*\/tokens can be read by nobody, who runs the actions \(--run-as\); make it readable by this server's user only \(chmod 600 /m);
      assert.equal(token.stdout, '', 'it never listened');

      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      await chmod(join(dir, 'key.pem'), 0o644);
      const key = await runServerCli(['--run-as', 'nobody', '--tls-cert', 'cert.pem', '--tls-key', 'key.pem', '--store-dir', 'store', '--listen', '127.0.0.1:0'], dir);
      assert.equal(key.code, 2, key.stderr);
      assert.match(key.stderr, /^error: --tls-key .*\/key\.pem can be read by nobody, who runs the actions/m);

      const unknown = await runServerCli(['--run-as', 'no-such-user-here', '--store-dir', 'store'], dir);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^error: --run-as "no-such-user-here": no such user on this machine/m);
      const root = await runServerCli(['--run-as', 'root', '--store-dir', 'store'], dir);
      assert.equal(root.code, 2);
      assert.match(root.stderr, /^error: --run-as root is root: actions would keep every privilege/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('trews remote-server as root without --run-as', { skip: isRoot ? false : NEEDS_ROOT }, () => {
  it('says at start-up, on stderr, that actions run as root, and names the flag', async () => {
    const server = await startServer(['--isolation', 'none']);
    try {
      assert.match(server.stderr(), /^warning: actions run as root, as this server does, with no isolation: .* start it with --run-as USER \(e\.g\. --run-as nobody\)/m);
    } finally {
      await server.stop();
    }
    // Strict by default: the sandbox hides the store and token file, and the warning says what is still wrong.
    const strict = await startServer([], { defaultIsolation: true });
    try {
      assert.match(strict.stdout(), /, isolation strict\n/);
      assert.match(strict.stderr(), /^warning: actions run as root, as this server does: their strict sandboxes hide its store and token file, but root can do more than it should; start it with --run-as USER/m);
    } finally {
      await strict.stop();
    }
  });
});

describe('trews remote-server: input Directories in canonical order only', () => {
  it('refuses entries out of order or twice with INVALID_ARGUMENT, naming the directory, its digest and the rule', async () => {
    const server = await startServer();
    const cas = connect(ContentAddressableStorageService, server.address);
    const exec = connect(ExecutionService, server.address);
    try {
      const a = blob('a');
      const b = blob('b');
      const command = message(CommandSchema, { arguments: [SH, '-c', 'true'] });
      const executeOver = async (root: { digest: Parameters<typeof pd>[0] }) => {
        const action = message(ActionSchema, { commandDigest: pd(command.digest), inputRootDigest: pd(root.digest) });
        await upload(cas, [command, action]);
        return serverStream<Operation>(exec, 'execute', { actionDigest: pd(action.digest) });
      };
      const rule = 'REAPI requires the files, directories and symlinks of a Directory each sorted by name in UTF-8 byte order, every name once';

      const unsorted = message(DirectorySchema, { files: [{ name: 'b', digest: pd(b.digest) }, { name: 'a', digest: pd(a.digest) }] });
      await upload(cas, [a, b, unsorted]);
      const e1 = await rejectsWith(executeOver(unsorted), grpc.status.INVALID_ARGUMENT, /not in canonical form/);
      assert.equal(
        e1.details,
        `the input root (${digestString(unsorted.digest)}) is not in canonical form (files are not sorted by name ("b" comes before "a")): ${rule}, so that one tree has one digest`,
      );

      const twice = message(DirectorySchema, { files: [{ name: 'a', digest: pd(a.digest) }, { name: 'a', digest: pd(b.digest) }] });
      const nested = message(DirectorySchema, { directories: [{ name: 'sub', digest: pd(twice.digest) }] });
      await upload(cas, [twice, nested]);
      const e2 = await rejectsWith(executeOver(nested), grpc.status.INVALID_ARGUMENT, /not in canonical form/);
      assert.match(e2.details, new RegExp(`^input directory "sub" \\(${digestString(twice.digest)}\\) is not in canonical form \\(directory entry "a" appears more than once\\): ${rule}`));

      const dirs = message(DirectorySchema, { directories: [{ name: 'z', digest: pd(message(DirectorySchema, {}).digest) }, { name: 'y', digest: pd(message(DirectorySchema, {}).digest) }] });
      await upload(cas, [dirs]);
      await rejectsWith(executeOver(dirs), grpc.status.INVALID_ARGUMENT, /\(directories are not sorted by name \("z" comes before "y"\)\)/);

      // The same tree in canonical order runs.
      const sorted = buildAction({ argv: [SH, '-c', 'cat a b'], files: { b: 'b', a: 'a' } });
      await upload(cas, sorted.blobs);
      const ok = outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(sorted.actionDigest) }));
      assert.equal((await readBlob(cas, ok.response.result?.stdoutDigest)).toString(), 'ab');
    } finally {
      cas.close();
      exec.close();
      await server.stop();
    }
  });
});
