#!/usr/bin/env node
// Builds trews: generate protobuf code, type-check and compile, bundle the thin client.
// Every step fails the build loudly; nothing is skipped silently.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

const protoDir = join(root, 'src/remote/proto');
if (existsSync(join(root, 'buf.gen.yaml')) && existsSync(protoDir)) {
  step('generate protobuf code', bin('buf'), ['generate']);
}
step('compile TypeScript', bin('tsc'), ['-p', 'tsconfig.json']);
const bundles = join(root, 'scripts/bundle.mjs');
if (existsSync(bundles)) step('bundle', process.execPath, [bundles]);
