import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { expandSearchPaths, findExecutable, shimText, TOOLS_DIR } from './tools.js';

test('<PATH> expands to the client PATH; relative and repeated entries are dropped', () => {
  assert.deepEqual(expandSearchPaths(['/opt/bin', '<PATH>', '/usr/bin'], { PATH: '/usr/bin:.:bin::/bin' }), ['/opt/bin', '/usr/bin', '/bin']);
  assert.deepEqual(expandSearchPaths(['<PATH>'], {}), []);
});

test('findExecutable takes the first executable regular file, as execvp does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trews-tools-'));
  try {
    await mkdir(join(dir, 'a', 'tool'), { recursive: true }); // a directory of that name
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'b', 'tool'), 'not executable');
    await mkdir(join(dir, 'c'));
    await writeFile(join(dir, 'c', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(await findExecutable('tool', [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')]), join(dir, 'c', 'tool'));
    assert.equal(await findExecutable('tool', [join(dir, 'a')]), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a shim runs its program with the arguments and makes a relative PATH absolute, so it survives a cd', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trews-shim-'));
  try {
    const target = join(dir, "it's real");
    await writeFile(target, '#!/bin/sh\necho "args: $*"\necho "PATH=$PATH"\ncd / && command -v greet\n', { mode: 0o755 });
    const shim = shimText({ name: 'greet', path: target, identity: 'sha256 abc/3' });
    assert.match(shim, /^# trews tool `greet`: .* \(sha256 abc\/3\)$/m);
    await mkdir(join(dir, 'work', TOOLS_DIR), { recursive: true });
    await writeFile(join(dir, 'work', TOOLS_DIR, 'greet'), shim, { mode: 0o755 });
    const out = execFileSync(`${TOOLS_DIR}/greet`, ['a', 'b c'], { cwd: join(dir, 'work'), env: { PATH: TOOLS_DIR }, encoding: 'utf8' });
    const abs = realpathSync(join(dir, 'work', TOOLS_DIR)); // the shim uses pwd -P
    assert.equal(out, `args: a b c\nPATH=${abs}\n${abs}/greet\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
