// Environments end to end: local_environment / remote_environment targets
// named in trews.toml, through the real CLI, against a real
// `trews remote-server` on 127.0.0.1 (random port), whose store is read
// afterwards to see the Action and Command it was sent.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDigestString, type Digest } from '../src/core/index.js';
import { ActionSchema, CommandSchema, DirectorySchema, decodeMessage, fromProtoDigest, type Action, type Command, type Directory } from '../src/reapi/index.js';
import { createLocalStore, type LocalStore } from '../src/store/index.js';
import { DaemonJanitor } from './helpers/index.js';
import { startServer, type ServerProcess } from './helpers/remote-client.js';
import { makeShellRepo, resultLines, summaryLine, type ShellRepo } from './helpers/shell.js';

const CONFIG = `[environments]\nnames = { linux_remote = "//envs:linux", mac = "//envs:mac", anywhere = "//envs:anywhere", notenv = "//a:l", gone = "//envs:linx" }\n`;

const ENVS = [
  'remote_environment(',
  '    name="linux",',
  '    platform="linux_x86_64",',
  '    extra_platform_properties=["container-image=docker://debian:12"],',
  '    executable_search_paths=["/usr/bin", "/bin"],',
  ')',
  'local_environment(name="mac", compatible_platforms=["macos_arm64"])',
  'local_environment(name="anywhere")',
  '',
].join('\n');

const TARGETS = [
  'test_shell_command(name="r", command="uname -s; echo remote", tools=["uname"], environment="linux_remote")',
  'test_shell_command(name="l", command="echo local")',
  'test_shell_command(name="m", command="true", environment="mac")',
  // A system_binary run by an adhoc_tool in the remote environment (found on the worker by binary_name), read by a local test.
  'system_binary(name="un", binary_name="uname")',
  'adhoc_tool(name="os", runnable=":un", args=["-s"], stdout="os.txt", environment="linux_remote")',
  'test_shell_command(name="reads", command="cat os.txt", tools=["cat"], execution_dependencies=[":os"])',
  '',
].join('\n');

function repoFiles(extra: Record<string, string> = {}): Record<string, string> {
  return { 'trews.toml': CONFIG, 'envs/BUILD': ENVS, 'a/BUILD': TARGETS, ...extra };
}

const WORKER_PLATFORM = ['--platform', 'OSFamily=linux', '--platform', 'ISA=x86-64', '--platform', 'container-image=docker://debian:12'];

/** Only the execution server is named: remote_execution (and remote caching) stay off. */
const serverOnly = (s: ServerProcess): Record<string, string> => ({ TREWS_REMOTE_EXECUTION_SERVER: `grpc://${s.address}` });

/** The action digests the server executed, from its log, in order. */
function executedActions(s: ServerProcess): Digest[] {
  return [...s.log().matchAll(/INFO +action ([0-9a-f]{64}\/\d+): exit \d+ in /g)].map((m) => parseDigestString(m[1]!)!);
}

async function readMessage<T>(store: LocalStore, schema: typeof ActionSchema | typeof CommandSchema | typeof DirectorySchema, d: Digest): Promise<T> {
  const bytes = await store.getBytes(d);
  assert.ok(bytes !== undefined, `the server's store has ${d.hash}`);
  const decoded = decodeMessage(schema, bytes);
  assert.ok(decoded.ok);
  return decoded.value as T;
}

describe('environment targets: parsing and naming', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo(repoFiles());
  });
  after(() => repo.cleanup());

  it('a field of an environment target that is not valid is an error at its place in the BUILD file', async () => {
    const cases: [string, RegExp][] = [
      ['remote_environment(name="x", platform="linux_sparc")\n', /^error: envs\/BUILD:1:39: `platform` must be one of 'linux_x86_64', 'linux_arm64', 'macos_x86_64', 'macos_arm64', got 'linux_sparc'$/m],
      ['remote_environment(name="x", extra_platform_properties=["OSFamily"])\n', /^error: envs\/BUILD:1:\d+: `extra_platform_properties`: `OSFamily` is not KEY=VALUE/m],
      ['local_environment(name="x", executable_search_paths=["bin"])\n', /^error: envs\/BUILD:1:\d+: `executable_search_paths`: must hold absolute directories; `bin` is not one$/m],
      ['local_environment(name="x", compatible_platforms=["windows"])\n', /^error: envs\/BUILD:1:\d+: `compatible_platforms`: `windows` is not a platform; use one of linux_x86_64/m],
    ];
    for (const [build, expected] of cases) {
      const bad = await makeShellRepo({ 'trews.toml': '', 'envs/BUILD': build });
      try {
        const r = await bad.trews(['list', '::']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, expected);
      } finally {
        await bad.cleanup();
      }
    }
  });

  it('an unknown environment name points at the field, lists the names, and suggests the closest', async () => {
    const bad = await makeShellRepo(repoFiles({ 'b/BUILD': 'test_shell_command(name="t", command="true", environment="linux_remot")\n' }));
    const r = await bad.trews(['test', 'b:t']).finally(() => bad.cleanup());
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.split('\n\n')[0],
      [
        '✕ b:t could not run',
        'error: b/BUILD:1:58: unknown environment `linux_remot` (`environment` of b:t)',
        '  test_shell_command(name="t", command="true", environment="linux_remot")',
        '                                                           ^^^^^^^^^^^^^',
        '  `[environments] names` defines: anywhere, gone, linux_remote, mac, notenv',
        '  did you mean `linux_remote`?',
        '  map the name to an environment target in trews.toml: [environments] names = { linux_remot = "//envs:linux_remot" }, or use `__local__` (this machine)',
      ].join('\n'),
    );
  });

  it('a name mapped to a missing target, or to a target that is no environment, says which and what to fix', async () => {
    const bad = await makeShellRepo(
      repoFiles({ 'b/BUILD': 'test_shell_command(name="gone", command="true", environment="gone")\ntest_shell_command(name="notenv", command="true", environment="notenv")\n' }),
    );
    try {
      const r = await bad.trews(['test', 'b:']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: b\/BUILD:1:\d+: unknown target `\/\/envs:linx` which `\[environments\] names` maps `gone` to\n/);
      assert.match(r.stderr, /did you mean .*envs:linux/);
      assert.match(r.stderr, /fix the address in `\[environments\] names` in trews.toml/);
      assert.match(r.stderr, /error: b\/BUILD:2:\d+: `\[environments\] names` maps `notenv` to a:l, a `test_shell_command`, not an environment\n/);
      assert.match(r.stderr, /point `notenv` at a local_environment\(\.\.\.\) or remote_environment\(\.\.\.\) target/);
    } finally {
      await bad.cleanup();
    }
  });

  it('`[environments] default` is the environment of targets that name none', async () => {
    const r = await repo.trews(['test', 'a:l'], { env: { TREWS_ENVIRONMENTS_DEFAULT: 'mac' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: a\/BUILD:2:1: a:l cannot run here: its environment `mac` \(envs:mac, a local_environment\) is for macos_arm64, and this machine is linux_x86_64\n/);
  });

  it('a local environment for another platform is refused before anything runs, naming both platforms; a faked host that matches runs it', async () => {
    const r = await repo.trews(['test', 'a:m', 'a:l'], { env: { TREWS_ENVIRONMENTS_HOST_PLATFORM: 'linux_x86_64' } });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(resultLines(r.stderr), ['✓ a:l succeeded (ran locally)', '✕ a:m could not run']);
    assert.match(
      r.stderr,
      /error: a\/BUILD:3:\d+: a:m cannot run here: its environment `mac` \(envs:mac, a local_environment\) is for macos_arm64, and this machine is linux_x86_64\n.*\n.*\n {2}run it on a macos_arm64 machine, or set its `environment` to one this machine can run/,
    );
    const faked = await repo.trews(['test', 'a:m'], { env: { TREWS_ENVIRONMENTS_HOST_PLATFORM: 'macos_arm64' } });
    assert.equal(faked.code, 0, faked.stderr);
  });

  it('a remote_execution_server left in the config is not looked at while no environment is named', async () => {
    const plain = await makeShellRepo({ 'trews.toml': '', 'a/BUILD': 'test_shell_command(name="l", command="true")\n' });
    try {
      const r = await plain.trews(['test', 'a:l'], { env: { TREWS_REMOTE_EXECUTION_SERVER: 'nonsense://x' } });
      assert.equal(r.code, 0, r.stderr);
      // With an environment named, the same address is checked before any work.
      await writeFile(join(plain.root, 'trews.toml'), CONFIG);
      const named = await plain.trews(['test', 'a:l'], { env: { TREWS_REMOTE_EXECUTION_SERVER: 'nonsense://x' } });
      assert.equal(named.code, 2, named.stderr);
      assert.match(named.stderr, /^error: invalid remote configuration: remote_execution_server `nonsense:\/\/x` /m);
      // Nor can an HTTP cache be the CAS of the execution server the environments use.
      const http = await plain.trews(['test', 'a:l'], {
        env: { TREWS_REMOTE_EXECUTION_SERVER: 'grpc://127.0.0.1:1', TREWS_REMOTE_STORE_SERVER: 'http://127.0.0.1:1', TREWS_REMOTE_CACHE_READ: 'true' },
      });
      assert.equal(http.code, 2, http.stderr);
      assert.match(http.stderr, /^error: invalid remote configuration: remote_store_server `http:\/\/127\.0\.0\.1:1` is an HTTP cache, but remote environments/m);
    } finally {
      await plain.cleanup();
    }
  });

  it('a remote environment without remote_execution_server is refused at plan time, naming the target, the environment and the option', async () => {
    const r = await repo.trews(['test', 'a:r']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(resultLines(r.stderr), ['✕ a:r could not run']);
    assert.match(
      r.stderr,
      /error: a\/BUILD:1:\d+: a:r cannot run: its environment `linux_remote` \(envs:linux, a remote_environment\) runs processes remotely, and remote_execution_server is not set\n(.*\n){2} {2}set remote_execution_server \(and remote_store_server\)/,
    );
    assert.match(r.stderr, /Processes: none/);
  });
});

describe('remote environments against a real trews remote-server', () => {
  let server: ServerProcess;
  let serverStore: string;
  let repo: ShellRepo;
  before(async () => {
    serverStore = await mkdtemp(join(tmpdir(), 'trews-env-server-'));
    server = await startServer({ storeDir: serverStore, args: WORKER_PLATFORM });
    repo = await makeShellRepo(repoFiles());
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
    await rm(serverStore, { recursive: true, force: true });
  });

  it('runs the remote environment remotely with remote_execution off, and the rest locally', async () => {
    const r = await repo.trews(['test', 'a:r', 'a:l', '--test-output=all'], { env: serverOnly(server) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(resultLines(r.stderr), ['✓ a:l succeeded (ran locally)', '✓ a:r succeeded (remote)']);
    assert.match(r.stderr, /a:r stdout:\n {2}Linux\n {2}remote\n/);
    assert.equal(summaryLine(r.stderr), '1 ran locally, 1 ran remotely');
    assert.equal(executedActions(server).length, 1, server.log());
  });

  it('the server was sent the environment platform, sorted, in both Action and Command, and tools it finds itself', async () => {
    const [digest] = executedActions(server);
    assert.ok(digest !== undefined, server.log());
    const store = createLocalStore({ dir: serverStore });
    try {
      const action = await readMessage<Action>(store, ActionSchema, digest);
      const expected = [
        ['ISA', 'x86-64'],
        ['OSFamily', 'linux'],
        ['container-image', 'docker://debian:12'],
      ];
      assert.deepEqual(action.platform?.properties.map((p) => [p.name, p.value]), expected);
      const command = await readMessage<Command>(store, CommandSchema, proto(action.commandDigest));
      assert.deepEqual(command.platform?.properties.map((p) => [p.name, p.value]), expected);
      assert.deepEqual(command.arguments.slice(0, 2), ['../.trews-tools/bash', '-c']);
      // The shims look the programs up on the worker, on the environment's paths: nothing of this machine (no path found here, no digest of a local file).
      const root = await readMessage<Directory>(store, DirectorySchema, proto(action.inputRootDigest));
      const toolsNode = root.directories.find((d) => d.name === '.trews-tools');
      assert.ok(toolsNode?.digest);
      const tools = await readMessage<Directory>(store, DirectorySchema, proto(toolsNode.digest));
      assert.deepEqual(tools.files.map((f) => f.name), ['bash', 'uname']);
      const uname = Buffer.from((await store.getBytes(proto(tools.files[1]!.digest)))!).toString('utf8');
      assert.match(uname, /^for d in '\/usr\/bin' '\/bin'; do$/m);
      assert.doesNotMatch(uname, /sha256|exec '\//);
    } finally {
      await store.close();
    }
  });

  it('the action digest is the same when the host platform is faked (a macOS client asks for the same Linux action)', async () => {
    const [first] = executedActions(server);
    assert.ok(first !== undefined);
    // A fresh server (empty action cache) and a fresh local store, so the action is executed again and logged.
    const other = await startServer({ args: WORKER_PLATFORM });
    const fresh = await mkdtemp(join(tmpdir(), 'trews-env-store-'));
    try {
      const r = await repo.trews(['test', 'a:r', 'a:m'], {
        env: { ...serverOnly(other), TREWS_ENVIRONMENTS_HOST_PLATFORM: 'macos_arm64', TREWS_LOCAL_STORE_DIR: fresh },
      });
      assert.equal(r.code, 0, r.stderr);
      // The fake took effect: the macOS-only local environment ran.
      assert.deepEqual(resultLines(r.stderr), ['✓ a:m succeeded (ran locally)', '✓ a:r succeeded (remote)']);
      assert.deepEqual(executedActions(other), [first]);
    } finally {
      await other.stop();
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('a server whose workers lack a property refuses with FAILED_PRECONDITION naming it, and trews says what to check', async () => {
    const plain = await startServer({ args: ['--platform', 'OSFamily=linux', '--platform', 'ISA=x86-64'] });
    const fresh = await mkdtemp(join(tmpdir(), 'trews-env-store-'));
    try {
      const r = await repo.trews(['test', 'a:r'], { env: { ...serverOnly(plain), TREWS_LOCAL_STORE_DIR: fresh } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr.split('\n\n')[0],
        [
          '✕ a:r could not run',
          `error: remote execution of Run test_shell_command a:r failed: Execution.Execute on remote_execution_server grpc://${plain.address} returned FAILED_PRECONDITION: no worker satisfies the action's platform property container-image=docker://debian:12: this server's workers have no property "container-image" (it offers OSFamily=linux, ISA=x86-64; start the server with --platform container-image=docker://debian:12 if its workers have it)`,
          '  the server cannot run this action as asked (platform ISA=x86-64, OSFamily=linux, container-image=docker://debian:12): check `platform` and `extra_platform_properties` of the environment `linux_remote`, and remote_execution_extra_platform_properties, against its workers',
        ].join('\n'),
      );
      assert.deepEqual(executedActions(plain), []);
    } finally {
      await plain.stop();
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('an adhoc_tool runs its system_binary on the worker, and a local test reads what it made', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'trews-env-store-'));
    try {
      const r = await repo.trews(['test', 'a:reads', '--test-output=all'], { env: { ...serverOnly(server), TREWS_LOCAL_STORE_DIR: fresh } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /a:reads stdout:\n {2}Linux\n/);
      assert.equal(summaryLine(r.stderr), '1 ran locally, 1 ran remotely');
      assert.match(server.log(), /INFO +action [0-9a-f]{64}\/\d+: exit 0 in .*: \.\.\/\.trews-tools\/un -s/);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('a remote environment finds its tools on the worker only: one the client cannot find runs; one the worker lacks fails there, naming where it looked', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'trews-env-workerbin-'));
    const fresh = await mkdtemp(join(tmpdir(), 'trews-env-store-'));
    const other = await makeShellRepo({
      'trews.toml': '[environments]\nnames = { w = "//envs:w" }\n',
      'envs/BUILD': `remote_environment(name="w", extra_platform_properties=["container-image=${'docker://debian:12'}"], executable_search_paths=["${bin}", "/usr/bin", "/bin"])\n`,
      'a/BUILD': [
        'test_shell_command(name="remote", command="worker-tool", tools=["worker-tool"], environment="w")',
        'test_shell_command(name="local", command="worker-tool", tools=["worker-tool"])',
        'test_shell_command(name="missing", command="no-such-tool", tools=["no-such-tool"], environment="w")',
        '',
      ].join('\n'),
    });
    try {
      await writeFile(join(bin, 'worker-tool'), '#!/bin/sh\necho from the worker\n', { mode: 0o755 });
      const run = (target: string) => other.trews(['test', target, '--test-output=all'], { env: { ...serverOnly(server), TREWS_LOCAL_STORE_DIR: fresh } });
      // The client's own search path ([shell] executable_search_paths, its PATH) has no worker-tool.
      const local = await run('a:local');
      assert.equal(local.code, 1, local.stderr);
      assert.match(local.stderr, /cannot find the tool `worker-tool` \(in `tools` of a:local\)/);
      const remote = await run('a:remote');
      assert.equal(remote.code, 0, remote.stderr);
      assert.match(remote.stderr, /a:remote stdout:\n {2}from the worker\n/);
      const missing = await run('a:missing');
      assert.equal(missing.code, 1, missing.stderr);
      assert.match(missing.stderr, new RegExp(`trews: cannot find the tool \`no-such-tool\` on this worker: searched ${bin}, /usr/bin, /bin \\(executable_search_paths of the remote environment\\)`));
    } finally {
      await other.cleanup();
      await rm(bin, { recursive: true, force: true });
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('through the daemon, setting remote_execution_server later re-validates the target that was refused without it', async () => {
    const janitor = new DaemonJanitor();
    try {
      const denied = await janitor.run(repo.root, ['test', 'a:r'], { env: { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp } });
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stderr, /remote_execution_server is not set/);
      const allowed = await janitor.run(repo.root, ['test', 'a:r'], { env: { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp, ...serverOnly(server) } });
      assert.equal(allowed.code, 0, allowed.stderr);
      // Run by the first test of this suite, so it may come from the local cache now: what matters is that it is no longer refused.
      assert.match(resultLines(allowed.stderr)[0] ?? '', /^✓ a:r succeeded \((remote|local cache)\)$/);
      const again = await janitor.run(repo.root, ['test', 'a:r'], { env: { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp } });
      assert.equal(again.code, 1, 'and unsetting it refuses it again');
      assert.match(again.stderr, /remote_execution_server is not set/);
    } finally {
      await janitor.stopAll();
    }
  });

  it('remote_execution_extra_platform_properties are merged under the environment’s own (which win by name)', async () => {
    const other = await startServer({ args: [...WORKER_PLATFORM, '--platform', 'pool=big'] });
    const fresh = await mkdtemp(join(tmpdir(), 'trews-env-store-'));
    try {
      const r = await repo.trews(['test', 'a:r'], {
        env: { ...serverOnly(other), TREWS_LOCAL_STORE_DIR: fresh, TREWS_REMOTE_EXECUTION_EXTRA_PLATFORM_PROPERTIES: '["pool=big", "container-image=docker://alpine"]' },
      });
      assert.equal(r.code, 0, r.stderr);
      const [digest] = executedActions(other);
      assert.ok(digest !== undefined, other.log());
      const store = createLocalStore({ dir: other.storeDir });
      try {
        const action = await readMessage<Action>(store, ActionSchema, digest);
        assert.deepEqual(
          action.platform?.properties.map((p) => `${p.name}=${p.value}`),
          ['ISA=x86-64', 'OSFamily=linux', 'container-image=docker://debian:12', 'pool=big'],
        );
      } finally {
        await store.close();
      }
    } finally {
      await other.stop();
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

/** A digest field of a message, which must be there and valid. */
function proto(p: Parameters<typeof fromProtoDigest>[0]): Digest {
  const d = fromProtoDigest(p);
  assert.ok(d.ok);
  return d.value;
}
