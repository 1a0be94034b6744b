#!/usr/bin/env node
// Builds trews: generate protobuf code, type-check and compile, bundle the thin client.
// Every step fails the build loudly; nothing is skipped silently.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
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
