// Bazel's view of a remote environment's platform: a genrule with the same
// platform as exec_properties, executed by a real `trews remote-server`; the
// Action Bazel sent is then rebuilt as a trews Process whose platform comes
// from a remote_environment, and toAction must give Bazel's digest — the
// platform is encoded and sorted as Bazel does, whatever order trews holds it
// in. Runs when `bazel` is on PATH.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { platformProperties } from '../src/backends/index.js';
import { parseDigestString, type Digest } from '../src/core/index.js';
import { makeProcess, toAction } from '../src/exec/index.js';
import { ActionSchema, CommandSchema, decodeMessage, fromProtoDigest, type Action, type Command } from '../src/reapi/index.js';
import { createLocalStore } from '../src/store/index.js';
import { startServer, type ServerProcess } from './helpers/remote-server.js';
import { hasBazel, runBazel } from './helpers/bazel.js';


const IMAGE = 'docker://debian:12';

describe('a remote environment’s platform as Bazel encodes it', { skip: hasBazel ? false : 'bazel is not on PATH' }, () => {
  let dir: string;
  let ws: string;
  let server: ServerProcess;
  let env: Record<string, string>;

  const bazel = (args: string[]): Promise<{ code: number | null; out: string }> => runBazel(dir, ws, env, args);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-env-bazel-'));
    ws = join(dir, 'ws');
    await mkdir(ws);
    await writeFile(join(ws, 'WORKSPACE'), '');
    // exec_properties in no particular order: Bazel sorts them into the Platform.
    await writeFile(
      join(ws, 'BUILD'),
      `genrule(\n    name = "hello",\n    outs = ["hello.txt"],\n    cmd = "echo hello > $@",\n    exec_properties = {"container-image": "${IMAGE}", "OSFamily": "linux", "ISA": "x86-64"},\n)\n`,
    );
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, USER: 'trews-test' };
    if (process.env.JAVA_HOME !== undefined) env.JAVA_HOME = process.env.JAVA_HOME;
    server = await startServer(['--workers', '2', '--platform', 'OSFamily=linux', '--platform', 'ISA=x86-64', '--platform', `container-image=${IMAGE}`]);
  });

  after(async () => {
    await bazel(['shutdown']).catch(() => undefined);
    if (server !== undefined) assert.equal(await server.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('the Action Bazel sent hashes the same as trews’ for that command with the environment’s platform', async (t) => {
    const r = await bazel(['build', '//:hello', `--remote_executor=grpc://${server.address}`, '--spawn_strategy=remote', '--noshow_progress']);
    assert.equal(r.code, 0, r.out);
    const m = /INFO {2}action ([0-9a-f]{64}\/\d+): exit 0 in/.exec(server.stderr());
    assert.ok(m, server.stderr());
    const bazelDigest = parseDigestString(m[1]!)!;

    const store = createLocalStore({ dir: server.storeDir });
    try {
      const read = async <T>(schema: typeof ActionSchema | typeof CommandSchema, d: Digest): Promise<T> => {
        const decoded = decodeMessage(schema, (await store.getBytes(d))!);
        assert.ok(decoded.ok);
        return decoded.value as T;
      };
      const digest = (p: Parameters<typeof fromProtoDigest>[0]): Digest => {
        const d = fromProtoDigest(p);
        assert.ok(d.ok);
        return d.value;
      };
      const action = await read<Action>(ActionSchema, bazelDigest);
      const command = await read<Command>(CommandSchema, digest(action.commandDigest));
      const expected = [
        ['ISA', 'x86-64'],
        ['OSFamily', 'linux'],
        ['container-image', IMAGE],
      ];
      assert.deepEqual(command.platform?.properties.map((p) => [p.name, p.value]), expected, 'Bazel sorts exec_properties by name');

      // What environmentOf makes of remote_environment(platform="linux_x86_64", extra_platform_properties=["container-image=…"]), in that order.
      const platform = [...platformProperties('linux_x86_64'), { name: 'container-image', value: IMAGE }];
      const proc = makeProcess({
        argv: command.arguments,
        env: Object.fromEntries(command.environmentVariables.map((v) => [v.name, v.value])),
        inputRoot: digest(action.inputRootDigest),
        workingDirectory: command.workingDirectory,
        outputFiles: command.outputFiles,
        outputDirectories: command.outputDirectories,
        timeoutMs: action.timeout === undefined ? null : Number(action.timeout.seconds) * 1000 + action.timeout.nanos / 1e6,
        platform,
      });
      const ours = toAction(proc);
      assert.deepEqual(ours.commandDigest, digest(action.commandDigest), 'the same Command bytes, platform included');
      if (action.platform !== undefined) {
        assert.deepEqual(ours.actionDigest, bazelDigest, 'the same Action digest');
        t.diagnostic('Bazel set Action.platform: the Action digests are equal');
      } else {
        t.diagnostic('Bazel left Action.platform unset: the Command digests are equal');
        // Bazel before 5 leaves Action.platform (REAPI 2.2) unset; trews sets both, so only the Command can agree.
        assert.deepEqual(ours.action.platform?.properties.map((p) => [p.name, p.value]), expected);
      }
    } finally {
      await store.close();
    }
  });
});
