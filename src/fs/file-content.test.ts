import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailureError, type AbsPath, type Failure } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { BuildFilesInDirKey, FileTextKey, type Workspace } from './index.js';
import { firstInvalidUtf8 } from './utf8.js';

const ws = (root: string, textFileMaxBytes?: number): Workspace => ({
  root: root as AbsPath,
  rules: { buildPatterns: ['BUILD', 'BUILD.*'], ignorePatterns: [], useGitignore: false, ...(textFileMaxBytes ? { textFileMaxBytes } : {}) },
});

async function failureOf(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FailureError) return e.failure;
    throw e;
  }
  assert.fail('expected a failure');
}

describe('BUILD file text', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'trews-text-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('a file over the limit is an error from its size alone: a 700 MB BUILD file is not read', async () => {
    await mkdir(join(root, 'huge'));
    await writeFile(join(root, 'huge/BUILD'), '');
    await truncate(join(root, 'huge/BUILD'), 700 * 1024 * 1024); // sparse: no disk, no reading
    const f = await failureOf(createEngine().startRun().get(new FileTextKey(ws(root), 'huge/BUILD', 'utf8-strict')));
    assert.equal(f.reason, 'file-too-large');
    assert.equal(f.message, 'this file is 700.0 MiB; trews reads BUILD and .gitignore files of at most 10.0 MiB');
    assert.deepEqual(f.location, { file: 'huge/BUILD' });
  });

  it('the limit is the workspace rule, when set', async () => {
    await writeFile(join(root, 'small.BUILD'), 'x'.repeat(2048));
    const f = await failureOf(createEngine().startRun().get(new FileTextKey(ws(root, 1024), 'small.BUILD', 'utf8-strict')));
    assert.equal(f.message, 'this file is 2.0 KiB; trews reads BUILD and .gitignore files of at most 1.0 KiB');
    assert.equal(await createEngine().startRun().get(new FileTextKey(ws(root, 4096), 'small.BUILD', 'utf8-strict')), 'x'.repeat(2048));
  });

  it('invalid UTF-8 is an error at its byte offset, line and column; a .gitignore is read leniently', async () => {
    const bytes = Buffer.concat([Buffer.from('target(name="a")\ntarget(name="caf'), Buffer.from([0xe9]), Buffer.from('")\n')]);
    await writeFile(join(root, 'latin1.BUILD'), bytes);
    const f = await failureOf(createEngine().startRun().get(new FileTextKey(ws(root), 'latin1.BUILD', 'utf8-strict')));
    assert.equal(f.reason, 'build-not-utf8');
    assert.equal(f.message, 'not valid UTF-8: byte 0xe9 at offset 33');
    assert.deepEqual(f.location, { file: 'latin1.BUILD', line: 2, col: 17, lineText: 'target(name="caf\ufffd")', length: 1 });
    assert.equal(await createEngine().startRun().get(new FileTextKey(ws(root), 'latin1.BUILD', 'utf8-lenient')), bytes.toString('utf8'));
  });

  it('a BUILD name that is a directory, a FIFO or a symlink to nothing is an error, and a FIFO is never opened for reading', async () => {
    const cases: [string, () => Promise<void>, string][] = [
      ['dir', async () => void (await mkdir(join(root, 'dir/BUILD'), { recursive: true })), 'this is a directory, not a file, but its name makes it a BUILD file'],
      ['fifo', async () => {
        await mkdir(join(root, 'fifo'));
        execFileSync('mkfifo', [join(root, 'fifo/BUILD.x')]);
      }, 'this is a FIFO, not a file, but its name makes it a BUILD file'],
      ['dangling', async () => {
        await mkdir(join(root, 'dangling'));
        execFileSync('ln', ['-s', 'nowhere', join(root, 'dangling/BUILD')]);
      }, 'this is a symlink to nothing, not a file, but its name makes it a BUILD file'],
    ];
    for (const [dir, make, message] of cases) {
      await make();
      const f = await failureOf(createEngine().startRun().get(new BuildFilesInDirKey(ws(root), dir)));
      assert.equal(f.reason, 'build-file-not-a-file');
      assert.equal(f.message, message);
      assert.equal(f.location?.file, `${dir}/${dir === 'fifo' ? 'BUILD.x' : 'BUILD'}`);
    }
    // Asked for directly, a FIFO has no text (and the read does not hang).
    assert.equal(await createEngine().startRun().get(new FileTextKey(ws(root), 'fifo/BUILD.x', 'utf8-strict')), null);
  });
});

describe('firstInvalidUtf8', () => {
  it('finds the first ill-formed sequence: stray continuation, overlong, surrogate, above U+10FFFF, truncated', () => {
    const at = (...bytes: number[]): number => firstInvalidUtf8(Uint8Array.from(bytes));
    assert.equal(at(0x61, 0x62), -1);
    assert.equal(at(0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80), -1);
    assert.equal(at(0x61, 0x80), 1);
    assert.equal(at(0xc0, 0xaf), 0);
    assert.equal(at(0x61, 0xe0, 0x80, 0xaf), 1);
    assert.equal(at(0xed, 0xa0, 0x80), 0);
    assert.equal(at(0xf4, 0x90, 0x80, 0x80), 0);
    assert.equal(at(0x61, 0x62, 0xe2, 0x82), 2);
    assert.equal(at(0xff), 0);
  });

  it('agrees with isUtf8 on random bytes', () => {
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
    for (let n = 0; n < 3000; n++) {
      const b = Uint8Array.from({ length: 1 + (n % 12) }, () => (rand() < 160 ? rand() & 0x7f : rand()));
      const bad = firstInvalidUtf8(b);
      assert.equal(bad === -1, isUtf8(b), Buffer.from(b).toString('hex'));
      if (bad > 0) assert.ok(isUtf8(b.subarray(0, bad)), 'everything before the offset is valid');
    }
  });
});
