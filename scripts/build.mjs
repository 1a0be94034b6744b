#!/usr/bin/env node
// Builds trews: generate protobuf code, type-check and compile, bundle the thin client,
// compile the native thin client when there is a C compiler.
// Every step fails the build loudly; nothing is skipped silently.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(title, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${title} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  console.error(`build: ${title} (${Date.now() - t0} ms)`);
}

const protoDir = join(root, 'src/reapi');
if (existsSync(join(root, 'buf.gen.yaml')) && existsSync(protoDir)) {
  step('generate protobuf code', bin('buf'), ['generate']);
}
// tsc never deletes the output of a source that is gone: drop it, or a deleted
// test would keep running from dist/ on this machine while CI no longer has it.
function removeStaleOutputs(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const out = join(dir, e.name);
    if (e.isDirectory()) {
      removeStaleOutputs(out);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(e.name);
    if (!m) continue;
    const source = join(root, dir.slice(join(root, 'dist').length + 1), `${m[1]}.ts`);
    if (!existsSync(source)) rmSync(out);
  }
}
for (const top of ['src', 'test', 'bench']) removeStaleOutputs(join(root, 'dist', top));
step('compile TypeScript', bin('tsc'), ['-p', 'tsconfig.json']);
// The graph page runs in a browser: type-checked against the DOM apart from the rest, bundled below.
step('type-check the graph page', bin('tsc'), ['-p', 'src/graph-page/app/tsconfig.json']);
const bundles = join(root, 'scripts/bundle.mjs');
if (existsSync(bundles)) step('bundle', process.execPath, [bundles]);

// The native thin client (src/native-client/): bin/trews execs it when it is
// there. Without a C compiler (or $CC) it is not built, and bin/trews runs the
// Node client; a stale binary is removed so the launcher never runs old code.
// A compiler that fails is loud, but fails the build only in CI, which must test it.
const native = join(root, 'dist', 'trews-native');
const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).error !== undefined) {
  rmSync(native, { force: true });
  console.error(`build: no C compiler (${cc}): the native client is not built; bin/trews runs the Node client`);
} else {
  const t0 = Date.now();
  const tmp = `${native}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', tmp, join('src', 'native-client', 'trews-native.c'), join('src', 'native-client', 'replay.c'), join('src', 'native-client', 'replay-restore.c'), join('src', 'native-client', 'sha256.c')], { cwd: root, stdio: 'inherit' });
  if (r.status === 0) {
    // Renamed into place: a launcher running now execs the old file or the new one, never half of one.
    renameSync(tmp, native);
    console.error(`build: compile the native client (${Date.now() - t0} ms)`);
  } else {
    rmSync(tmp, { force: true });
    rmSync(native, { force: true });
    console.error(`build: ${cc} could not compile the native client (exit ${r.status ?? r.signal}); bin/trews runs the Node client`);
    if (process.env.CI === 'true') process.exit(1);
  }
}
