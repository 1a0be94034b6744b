// Bazel as a client of `trews remote-server`: remote execution, then the
// remote cache, on a tiny workspace. Runs when `bazel` is on PATH (Debian's
// bazel-bootstrap is enough: it builds genrules and Starlark rules offline).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type ServerProcess } from './helpers/remote-server.js';
import { hasBazel, runBazel } from './helpers/bazel.js';


const WORKSPACE_FILES: Record<string, string> = {
  WORKSPACE: '',
  'in.txt': 'hello bazel\n',
  BUILD: `
load(":defs.bzl", "tree")

genrule(
    name = "upper",
    srcs = ["in.txt"],
    outs = ["upper.txt"],
    cmd = "tr a-z A-Z < $< > $@",
)

genrule(
    name = "final",
    srcs = [":upper"],
    outs = ["final.txt"],
    cmd = "cat $< > $@; echo done >> $@",
)

tree(name = "t", srcs = ["in.txt"])
`,
  'defs.bzl': `
def _tree_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    src = ctx.files.srcs[0].path
    ctx.actions.run_shell(
        outputs = [out],
        inputs = ctx.files.srcs,
        command = "mkdir -p {o}/sub && cp {s} {o}/sub/copy.txt && echo top > {o}/top.txt && ln -s top.txt {o}/link".format(o = out.path, s = src),
    )
    return [DefaultInfo(files = depset([out]))]

tree = rule(implementation = _tree_impl, attrs = {"srcs": attr.label_list(allow_files = True)})
`,
};

describe('Bazel against trews remote-server', { skip: hasBazel ? false : 'bazel is not on PATH' }, () => {
  let dir: string;
  let ws: string;
  let server: ServerProcess;
  let env: Record<string, string>;

  const bazel = (args: string[]): Promise<{ code: number | null; out: string }> => runBazel(dir, ws, env, args);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-rs-bazel-'));
    ws = join(dir, 'ws');
    await mkdir(ws);
    for (const [name, text] of Object.entries(WORKSPACE_FILES)) await writeFile(join(ws, name), text);
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, USER: 'trews-test' };
    if (process.env.JAVA_HOME !== undefined) env.JAVA_HOME = process.env.JAVA_HOME;
    server = await startServer(['--workers', '4', '--log-level', 'debug']);
  });

  after(async () => {
    await bazel(['shutdown']).catch(() => undefined);
    if (server !== undefined) assert.equal(await server.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('builds remotely with --remote_executor: every action runs on the server, outputs (a tree artifact with a symlink too) come back', async () => {
    const endpoint = `grpc://${server.address}`;
    const r = await bazel(['build', '//:final', '//:t', `--remote_executor=${endpoint}`, '--spawn_strategy=remote', '--noshow_progress']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /processes: .*\b3 remote\b/, 'three actions executed remotely');
    assert.equal(await readFile(join(ws, 'bazel-bin/final.txt'), 'utf8'), 'HELLO BAZEL\ndone\n');
    assert.equal(await readFile(join(ws, 'bazel-bin/t/sub/copy.txt'), 'utf8'), 'hello bazel\n');
    assert.equal(await readlink(join(ws, 'bazel-bin/t/link')), 'top.txt');
    const executed = server.stderr().match(/INFO {2}action [0-9a-f]{64}\/\d+: exit 0 in/g) ?? [];
    assert.equal(executed.length, 3, 'the server logged three executions');
    assert.match(server.stderr(), /rpc Execute OK .* tool=bazel\S* invocation=\S+ .*mnemonic=Genrule target=\/\/:upper/, 'Bazel\'s RequestMetadata is logged');
  });

  it('a clean build with --remote_cache only is served from the cache the executions filled', async () => {
    assert.equal((await bazel(['clean'])).code, 0);
    const r = await bazel(['build', '//:final', '//:t', `--remote_cache=grpc://${server.address}`, '--noshow_progress']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /processes: .*\b3 remote cache hit\b/);
    assert.equal(await readFile(join(ws, 'bazel-bin/final.txt'), 'utf8'), 'HELLO BAZEL\ndone\n');
  });
});
