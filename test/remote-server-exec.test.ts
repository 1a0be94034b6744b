// Remote execution through a real `trews remote-server`: real commands run
// by /bin/sh in the server's sandboxes, followed over real gRPC streams.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  ActionCacheService,
  ActionSchema,
  CommandSchema,
  ContentAddressableStorageService,
  DirectorySchema,
  ExecutionService,
  ExecutionStage_Value,
  OperationsService,
  TreeSchema,
  type ActionResult,
  type Operation,
} from '../src/reapi/index.js';
import {
  blob,
  buildAction,
  connect,
  decode,
  eventually,
  isAlive,
  message,
  outcomeOf,
  pd,
  preconditionFailure,
  readBlob,
  readPid,
  rejectsWith,
  serverStream,
  startServer,
  unary,
  upload,
  type ActionSpec,
  type RpcClient,
  type ServerProcess,
} from './helpers/remote-server.js';
import { digestString, type Digest } from '../src/core/index.js';

const SH = '/bin/sh';

describe('trews remote-server: remote execution', () => {
  let server: ServerProcess;
  let cas: RpcClient;
  let exec: RpcClient;
  let ops: RpcClient;
  let ac: RpcClient;
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-rs-exec-'));
    server = await startServer(['--workers', '2', '--platform', 'OSFamily=linux', '--platform', 'ISA=x86-64', '--abandon-grace-ms', '400', '--log-level', 'debug']);
    cas = connect(ContentAddressableStorageService, server.address);
    exec = connect(ExecutionService, server.address);
    ops = connect(OperationsService, server.address);
    ac = connect(ActionCacheService, server.address);
  });

  after(async () => {
    for (const c of [cas, exec, ops, ac]) c.close();
    assert.equal(await server.stop(), 0);
    await rm(scratch, { recursive: true, force: true });
  });

  async function prepare(spec: ActionSpec): Promise<Digest> {
    const a = buildAction(spec);
    await upload(cas, a.blobs);
    return a.actionDigest;
  }

  async function execute(actionDigest: Digest, extra: Record<string, unknown> = {}) {
    return outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(actionDigest), ...extra }));
  }

  it('runs a command end to end: stages, exit code, stdout/stderr, output files and directories in the CAS', async () => {
    const counter = join(scratch, 'runs-1');
    const actionDigest = await prepare({
      argv: [SH, '-c', `cat in/a.txt in/tool.sh > out/b.txt; mkdir -p d/sub; echo deep > d/sub/f; ./in/tool.sh; echo oops >&2; echo run >> ${counter}; exit 0`],
      files: { 'in/a.txt': 'input A\n', 'in/tool.sh*': '#!/bin/sh\necho tool ran\n' },
      outputFiles: ['out/b.txt'],
      outputDirectories: ['d'],
    });
    const first = await execute(actionDigest);
    assert.deepEqual(first.stages.slice(-1), [ExecutionStage_Value.COMPLETED]);
    assert.ok(first.stages.includes(ExecutionStage_Value.EXECUTING) || first.stages.includes(ExecutionStage_Value.QUEUED), `stages ${first.stages}`);
    assert.match(first.name, /^operations\/[0-9a-f-]{36}$/);
    const r = first.response;
    assert.equal(r.status?.code ?? 0, 0, r.status?.message);
    assert.equal(r.cachedResult, false);
    const result = r.result as ActionResult;
    assert.equal(result.exitCode, 0);
    assert.equal((await readBlob(cas, result.stdoutDigest)).toString(), 'tool ran\n');
    assert.equal((await readBlob(cas, result.stderrDigest)).toString(), 'oops\n');
    assert.deepEqual(result.outputFiles.map((f) => f.path), ['out/b.txt']);
    assert.equal((await readBlob(cas, result.outputFiles[0]!.digest)).toString(), 'input A\n#!/bin/sh\necho tool ran\n');
    const dir = result.outputDirectories[0]!;
    assert.equal(dir.path, 'd');
    assert.equal(dir.isTopologicallySorted, true);
    const tree = decode(TreeSchema, await readBlob(cas, dir.treeDigest));
    assert.deepEqual(tree.root?.directories.map((d) => d.name), ['sub']);
    assert.equal((await readBlob(cas, tree.children[0]!.files[0]!.digest)).toString(), 'deep\n');
    const rootDir = decode(DirectorySchema, await readBlob(cas, dir.rootDirectoryDigest));
    assert.deepEqual(rootDir.directories.map((d) => d.name), ['sub'], 'root_directory_digest names the stored root Directory');
    assert.match(result.executionMetadata?.worker ?? '', /\/trews-remote-server\/worker-[12]$/);
    assert.ok(result.executionMetadata?.queuedTimestamp && result.executionMetadata.executionCompletedTimestamp);
    assert.match(server.stderr(), new RegExp(`INFO  action ${digestString(actionDigest)}: exit 0 in [\\d.]+s \\(queued [\\d.]+s\\) on worker \\d`));

    // The result went to the action cache: a second Execute is served from it, without running.
    const second = await execute(actionDigest);
    assert.equal(second.response.cachedResult, true);
    assert.equal(second.operations.length, 1);
    assert.deepEqual(second.response.result?.outputFiles, result.outputFiles);
    const cached = await unary<ActionResult>(ac, 'getActionResult', { actionDigest: pd(actionDigest) });
    assert.equal(cached.exitCode, 0);
    assert.equal((await readFile(counter, 'utf8')).split('\n').filter(Boolean).length, 1, 'ran once');

    // skip_cache_lookup runs it again (and replaces the entry).
    const third = await execute(actionDigest, { skipCacheLookup: true });
    assert.equal(third.response.cachedResult, false);
    assert.equal((await readFile(counter, 'utf8')).split('\n').filter(Boolean).length, 2, 'ran twice');

    // Inlining on request.
    const inlined = await execute(actionDigest, { inlineStdout: true, inlineOutputFiles: ['out/b.txt'] });
    assert.equal(Buffer.from(inlined.response.result!.stdoutRaw).toString(), 'tool ran\n');
    assert.equal(Buffer.from(inlined.response.result!.outputFiles[0]!.contents).toString(), 'input A\n#!/bin/sh\necho tool ran\n');
  });

  it('v2.1 output_paths: each output is reported as what it turned out to be; symlinks as output_symlinks', async () => {
    const actionDigest = await prepare({
      argv: [SH, '-c', 'echo f > gen/file; mkdir gen/dir; echo x > gen/dir/x; ln -s file gen/link; echo top > top.txt'],
      files: { 'keep.txt': 'input' },
      outputPaths: ['gen/file', 'gen/dir', 'gen/link', 'gen/absent', 'top.txt'],
    });
    const { response } = await execute(actionDigest);
    assert.equal(response.status?.code ?? 0, 0, response.status?.message);
    const r = response.result!;
    assert.deepEqual(r.outputFiles.map((f) => f.path).sort(), ['gen/file', 'top.txt']);
    assert.deepEqual(r.outputDirectories.map((d) => d.path), ['gen/dir']);
    assert.deepEqual(r.outputSymlinks.map((s) => [s.path, s.target]), [['gen/link', 'file']]);
    assert.equal(r.outputFileSymlinks.length + r.outputDirectorySymlinks.length, 0);
    const tree = decode(TreeSchema, await readBlob(cas, r.outputDirectories[0]!.treeDigest));
    assert.deepEqual(tree.root?.files.map((f) => f.name), ['x']);

    // With v2.0 output_files, a symlink output goes in the deprecated output_file_symlinks.
    const old = await prepare({ argv: [SH, '-c', 'echo f > real; ln -s real link'], outputFiles: ['link', 'real'] });
    const o = (await execute(old)).response.result!;
    assert.deepEqual(o.outputFileSymlinks.map((s) => [s.path, s.target]), [['link', 'real']]);
    assert.equal(o.outputSymlinks.length, 0);
  });

  it('missing inputs: FAILED_PRECONDITION with a PreconditionFailure naming every missing blob as MISSING blobs/{hash}/{size}', async () => {
    const x = blob('never uploaded x');
    const y = blob('never uploaded y');
    const sub = message(DirectorySchema, { files: [{ name: 'y', digest: pd(y.digest) }] });
    const root = message(DirectorySchema, { files: [{ name: 'x', digest: pd(x.digest) }], directories: [{ name: 'sub', digest: pd(sub.digest) }] });
    const command = message(CommandSchema, { arguments: [SH, '-c', 'cat x sub/y'] });
    const action = message(ActionSchema, { commandDigest: pd(command.digest), inputRootDigest: pd(root.digest) });
    await upload(cas, [root, command, action]);
    const err = await rejectsWith(execute(action.digest), grpc.status.FAILED_PRECONDITION, /2 blob\(s\) missing from the CAS \(.*\); upload them and retry/);
    const pf = preconditionFailure(err);
    assert.deepEqual(pf.violations.map((v) => v.subject).sort(), [x.digest, sub.digest].map((d) => `blobs/${d.hash}/${d.sizeBytes}`).sort());
    assert.ok(pf.violations.every((v) => v.type === 'MISSING'));

    // A missing Command is reported the same way, and so is a missing Action.
    const lonely = message(ActionSchema, { commandDigest: pd(blob('no command').digest), inputRootDigest: pd(message(DirectorySchema, {}).digest) });
    await upload(cas, [lonely]);
    const err1 = await rejectsWith(execute(lonely.digest), grpc.status.FAILED_PRECONDITION, /1 blob\(s\) missing/);
    assert.deepEqual(preconditionFailure(err1).violations.map((v) => v.subject), [`blobs/${blob('no command').digest.hash}/10`]);
    const ghost = blob('no such action').digest;
    const err2 = await rejectsWith(execute(ghost), grpc.status.FAILED_PRECONDITION, /the Action .* missing/);
    assert.deepEqual(preconditionFailure(err2).violations.map((v) => v.subject), [`blobs/${ghost.hash}/${ghost.sizeBytes}`]);
  });

  it('platform: runs when the server offers every property, FAILED_PRECONDITION naming the one it lacks', async () => {
    const ok = await prepare({ argv: [SH, '-c', 'true'], platform: [{ name: 'OSFamily', value: 'linux' }] });
    assert.equal((await execute(ok)).response.result?.exitCode, 0);
    const wrongValue = await prepare({ argv: [SH, '-c', 'true'], platform: [{ name: 'OSFamily', value: 'windows' }, { name: 'ISA', value: 'x86-64' }] });
    await rejectsWith(execute(wrongValue), grpc.status.FAILED_PRECONDITION, /platform property OSFamily=windows: this server's workers have OSFamily=linux/);
    const unknown = await prepare({ argv: [SH, '-c', 'true'], platform: [{ name: 'container-image', value: 'docker://x' }] });
    await rejectsWith(execute(unknown), grpc.status.FAILED_PRECONDITION, /platform property container-image=docker:\/\/x: this server's workers have no property "container-image"/);
  });

  it('timeout: the process is killed and the response says DEADLINE_EXCEEDED, with the output so far; nothing is cached', async () => {
    const pidFile = join(scratch, 'timeout.pid');
    const actionDigest = await prepare({ argv: [SH, '-c', `echo started; echo $$ > ${pidFile}; sleep 30`], timeoutSeconds: 0.5 });
    const t0 = Date.now();
    const { response } = await execute(actionDigest);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(response.status?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.match(response.status?.message ?? '', /timed out after 0.5s/);
    assert.equal((await readBlob(cas, response.result?.stdoutDigest)).toString(), 'started\n');
    const pid = await readPid(pidFile);
    assert.ok(pid !== undefined && !isAlive(pid), 'the timed-out process is gone');
    await rejectsWith(unary(ac, 'getActionResult', { actionDigest: pd(actionDigest) }), grpc.status.NOT_FOUND, /no action result/);
  });

  it('failures are not cached; do_not_cache results are not either', async () => {
    const failing = await prepare({ argv: [SH, '-c', 'echo no >&2; exit 3'] });
    const f = await execute(failing);
    assert.equal(f.response.status?.code ?? 0, 0, 'a non-zero exit is a result, not an error');
    assert.equal(f.response.result?.exitCode, 3);
    await rejectsWith(unary(ac, 'getActionResult', { actionDigest: pd(failing) }), grpc.status.NOT_FOUND, /no action result/);
    const uncached = await prepare({ argv: [SH, '-c', 'echo fine'], doNotCache: true });
    assert.equal((await execute(uncached)).response.result?.exitCode, 0);
    assert.equal((await execute(uncached)).response.cachedResult, false);
    const missingProgram = await prepare({ argv: ['no-such-tool-anywhere'], env: { PATH: '/nonexistent' } });
    const m = await execute(missingProgram);
    assert.equal(m.response.status?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(m.response.status?.message ?? '', /cannot run `no-such-tool-anywhere`: no executable found/);
  });

  it('refuses malformed input trees and commands with INVALID_ARGUMENT', async () => {
    const cases: Array<[string, Parameters<typeof message<typeof DirectorySchema>>[1], RegExp]> = [
      ['slash', { files: [{ name: 'a/b', digest: pd(message(DirectorySchema, {}).digest) }] }, /"a\/b" contains '\/'/],
      ['dotdot', { directories: [{ name: '..', digest: pd(message(DirectorySchema, {}).digest) }] }, /"\.\." is not allowed as a name/],
      ['dot', { files: [{ name: '.', digest: pd(message(DirectorySchema, {}).digest) }] }, /"\." is not allowed as a name/],
      ['empty', { files: [{ name: '', digest: pd(message(DirectorySchema, {}).digest) }] }, /"" is empty/],
      ['nul', { files: [{ name: 'a\0b', digest: pd(message(DirectorySchema, {}).digest) }] }, /contains a NUL character/],
      ['escape', { symlinks: [{ name: 'up', target: '../../etc/passwd' }] }, /input symlink "up" -> "..\/..\/etc\/passwd" points outside the input root/],
      ['absolute', { symlinks: [{ name: 'abs', target: '/etc/passwd' }] }, /absolute target "\/etc\/passwd"; this server refuses absolute symlinks/],
    ];
    for (const [label, dir, pattern] of cases) {
      const root = message(DirectorySchema, dir);
      const command = message(CommandSchema, { arguments: [SH, '-c', 'true'] });
      const action = message(ActionSchema, { commandDigest: pd(command.digest), inputRootDigest: pd(root.digest) });
      await upload(cas, [root, command, action, message(DirectorySchema, {})]);
      await rejectsWith(execute(action.digest), grpc.status.INVALID_ARGUMENT, pattern).catch((e: unknown) => {
        throw new Error(`${label}: ${String(e)}`);
      });
    }
    // A chain of links that escapes only when followed is caught too.
    const chain = buildAction({ argv: [SH, '-c', 'true'], files: { 's/up': '->..', e: '->s/up/s/up/..' } });
    await upload(cas, chain.blobs);
    await rejectsWith(execute(chain.actionDigest), grpc.status.INVALID_ARGUMENT, /input symlink "e" .* points outside the input root/);
    const inside = buildAction({ argv: [SH, '-c', 'cat lnk'], files: { 'dir/f': 'via link', lnk: '->dir/f' } });
    await upload(cas, inside.blobs);
    assert.equal((await readBlob(cas, (await execute(inside.actionDigest)).response.result?.stdoutDigest)).toString(), 'via link', 'links inside the root are fine');

    const noArgs = await prepare({ argv: [] });
    await rejectsWith(execute(noArgs), grpc.status.INVALID_ARGUMENT, /arguments is empty/);
    const badOutput = await prepare({ argv: [SH], outputFiles: ['../escape'] });
    await rejectsWith(execute(badOutput), grpc.status.INVALID_ARGUMENT, /output_files entry "..\/escape" has a '..' segment/);
    await rejectsWith(execute({ hash: 'x' as Digest['hash'], sizeBytes: 1 }), grpc.status.INVALID_ARGUMENT, /action_digest has a malformed hash/);
    await rejectsWith(serverStream(exec, 'execute', { instanceName: 'x', actionDigest: pd(noArgs) }), grpc.status.NOT_FOUND, /unknown instance name "x"/);
  });

  it('WaitExecution follows a live operation to its end; unknown names are NOT_FOUND', async () => {
    const actionDigest = await prepare({ argv: [SH, '-c', 'sleep 0.8; echo waited'], salt: 'wait' });
    const call = exec.execute!.call(exec, { actionDigest: pd(actionDigest) }) as grpc.ClientReadableStream<Operation>;
    const first = await new Promise<Operation>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.on('error', () => {});
    call.cancel(); // the client's stream drops; the action keeps running for a reconnecting client
    assert.equal(first.done, false);
    const followed = outcomeOf(await serverStream<Operation>(exec, 'waitExecution', { name: first.name }));
    assert.equal(followed.name, first.name);
    assert.equal((await readBlob(cas, followed.response.result?.stdoutDigest)).toString(), 'waited\n');
    // And again, after it finished.
    const again = outcomeOf(await serverStream<Operation>(exec, 'waitExecution', { name: first.name }));
    assert.equal(again.operations.length, 1);
    const got = await unary<Operation>(ops, 'getOperation', { name: first.name });
    assert.equal(got.done, true);
    await rejectsWith(serverStream(exec, 'waitExecution', { name: 'operations/nope' }), grpc.status.NOT_FOUND, /operation "operations\/nope" is unknown to this server .* call Execute again/);
    await rejectsWith(unary(ops, 'getOperation', { name: 'operations/nope' }), grpc.status.NOT_FOUND, /is unknown to this server/);
    await rejectsWith(unary(ops, 'cancelOperation', { name: 'operations/nope' }), grpc.status.NOT_FOUND, /is unknown to this server/);
    await rejectsWith(unary(ops, 'listOperations', {}), grpc.status.UNIMPLEMENTED, /ListOperations is not implemented/);
    await rejectsWith(unary(ops, 'deleteOperation', { name: first.name }), grpc.status.UNIMPLEMENTED, /DeleteOperation is not implemented/);
  });

  it('CancelOperation kills the process; the operation ends CANCELLED', async () => {
    const pidFile = join(scratch, 'cancel.pid');
    const actionDigest = await prepare({ argv: [SH, '-c', `echo $$ > ${pidFile}; sleep 60 & wait`] });
    const call = exec.execute!.call(exec, { actionDigest: pd(actionDigest) }) as grpc.ClientReadableStream<Operation>;
    const received: Operation[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (op: Operation) => received.push(op));
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    await eventually(async () => (await readPid(pidFile)) !== undefined && received.length > 0, 10_000, 'the process to start');
    const pid = (await readPid(pidFile))!;
    assert.ok(isAlive(pid));
    await unary(ops, 'cancelOperation', { name: received[0]!.name });
    await ended;
    const outcome = outcomeOf(received);
    assert.equal(outcome.response.status?.code, grpc.status.CANCELLED);
    assert.match(outcome.response.status?.message ?? '', /cancelled by CancelOperation/);
    await eventually(() => !isAlive(pid), 5_000, `pid ${pid} to be killed`);
    const waited = await unary<Operation>(ops, 'waitOperation', { name: received[0]!.name });
    assert.equal(waited.done, true);
    await unary(ops, 'cancelOperation', { name: received[0]!.name }); // cancelling a finished operation is a no-op
  });

  it('an operation nobody follows any more is cancelled and its process killed', async () => {
    const pidFile = join(scratch, 'abandoned.pid');
    const actionDigest = await prepare({ argv: [SH, '-c', `echo $$ > ${pidFile}; exec sleep 60`] });
    const call = exec.execute!.call(exec, { actionDigest: pd(actionDigest) }) as grpc.ClientReadableStream<Operation>;
    call.on('error', () => {});
    call.on('data', () => {});
    await eventually(async () => (await readPid(pidFile)) !== undefined, 10_000, 'the process to start');
    const pid = (await readPid(pidFile))!;
    call.cancel();
    await eventually(() => !isAlive(pid), 5_000, `abandoned pid ${pid} to be killed`);
    await eventually(() => /nobody follows it any more; cancelling/.test(server.stderr()), 2_000, 'the abandonment log line');
  });

  it('more actions than workers wait in the queue (stage QUEUED) and never run more than --workers at once', async () => {
    const log = join(scratch, 'overlap.log');
    const digests: Digest[] = [];
    for (let i = 0; i < 5; i++) {
      digests.push(await prepare({ argv: [SH, '-c', `echo start >> ${log}; sleep 0.3; echo end >> ${log}`], salt: `queue-${i}` }));
    }
    const outcomes = await Promise.all(digests.map((d) => execute(d)));
    for (const o of outcomes) assert.equal(o.response.result?.exitCode, 0);
    const queuedFirst = outcomes.filter((o) => o.stages[0] === ExecutionStage_Value.QUEUED && o.stages.includes(ExecutionStage_Value.EXECUTING));
    assert.ok(queuedFirst.length >= 3, `actions were queued before executing (${outcomes.map((o) => o.stages.join('>')).join(' | ')})`);
    let running = 0;
    let peak = 0;
    for (const line of (await readFile(log, 'utf8')).split('\n').filter(Boolean)) {
      running += line === 'start' ? 1 : -1;
      peak = Math.max(peak, running);
    }
    assert.equal(peak, 2, 'at most 2 (--workers) at once, and 2 did run together');
  });
});


describe('trews remote-server: server limits and shutdown', () => {
  it('--max-action-timeout refuses longer timeouts and applies to actions that give none', async () => {
    const server = await startServer(['--max-action-timeout', '1']);
    const cas = connect(ContentAddressableStorageService, server.address);
    const exec = connect(ExecutionService, server.address);
    try {
      const long = buildAction({ argv: [SH, '-c', 'true'], timeoutSeconds: 5 });
      await upload(cas, long.blobs);
      await rejectsWith(serverStream(exec, 'execute', { actionDigest: pd(long.actionDigest) }), grpc.status.INVALID_ARGUMENT, /Action.timeout 5s is longer than this server's maximum of 1s \(--max-action-timeout\)/);
      const forever = buildAction({ argv: [SH, '-c', 'sleep 30'] });
      await upload(cas, forever.blobs);
      const t0 = Date.now();
      const { response } = outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(forever.actionDigest) }));
      assert.equal(response.status?.code, grpc.status.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      cas.close();
      exec.close();
      assert.equal(await server.stop(), 0);
    }
  });

  it('SIGTERM while an action runs: its followers get UNAVAILABLE, its process is killed, the server exits 0', async () => {
    const server = await startServer([]);
    const cas = connect(ContentAddressableStorageService, server.address);
    const exec = connect(ExecutionService, server.address);
    const pidFile = join(server.dir, 'running.pid');
    try {
      const a = buildAction({ argv: [SH, '-c', `echo $$ > ${pidFile}; sleep 60 & wait`] });
      await upload(cas, a.blobs);
      const received: Operation[] = [];
      const ended = new Promise<void>((resolve) => {
        const call = exec.execute!.call(exec, { actionDigest: pd(a.actionDigest) }) as grpc.ClientReadableStream<Operation>;
        call.on('data', (op: Operation) => received.push(op));
        call.on('end', () => resolve());
        call.on('error', () => resolve());
      });
      await eventually(async () => (await readPid(pidFile)) !== undefined, 10_000, 'the process to start');
      const pid = (await readPid(pidFile))!;
      const stopped = server.stop();
      await ended;
      const last = received[received.length - 1]!;
      assert.equal(last.done, true);
      assert.equal(outcomeOf(received).response.status?.code, grpc.status.UNAVAILABLE);
      assert.match(outcomeOf(received).response.status?.message ?? '', /shutting down/);
      assert.equal(await stopped, 0);
      assert.equal(isAlive(pid), false, 'the action\'s process is gone');
      assert.doesNotMatch(server.stderr(), /\n\s+at /);
    } finally {
      cas.close();
      exec.close();
    }
  });
});
