// Attacks on the persisted file digest index (file-digest-index.ts). Each
// "process" is a fresh engine and a freshly opened index, as a `--no-daemon`
// run is. Most tests first plant a poisoned entry — a wrong hash under the
// file's current stat, in a well-formed index — and show it is served (so the
// index really is consulted), then make the attack and show the true hash.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AbsPath, Logger, Sha256Hex } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { FILE_DIGEST_INDEX_FILE, FileDigestKey, openFileDigestIndex, RACY_MARGIN_MS, type Workspace } from './index.js';

const HOUR_AGO_S = Date.now() / 1000 - 3600;
const FAKE = 'f'.repeat(64);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Proc {
  readonly hash: string | undefined;
  readonly debug: string[];
}

/** One cold process: opens the index, digests `path`, saves the index. */
async function coldDigest(root: string, path: string, nowMs = Date.now()): Promise<Proc> {
  const debug: string[] = [];
  const logger = { debug: (m: string) => debug.push(m), trace() {}, info() {}, warn() {}, error() {} } as unknown as Logger;
  const digestIndex = openFileDigestIndex(root, { logger, now: () => nowMs });
  const ws: Workspace = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false }, digestIndex };
  const d = await createEngine().startRun().get(new FileDigestKey(ws, path));
  digestIndex.save();
  return { hash: d?.digest.hash, debug };
}

function indexFile(root: string): string {
  return join(root, '.trews.d', FILE_DIGEST_INDEX_FILE);
}

/** Rewrites the index so that `path` maps to `hash` under its recorded stat, with a valid checksum. */
async function poison(root: string, path: string, hash = FAKE, header = 'trews-file-digests 1', indexRoot = root): Promise<void> {
  const text = await readFile(indexFile(root), 'utf8');
  const lines = text.split('\n');
  const v = JSON.parse(lines.slice(2).join('\n')) as { root: string; entries: [string, string, string][] };
  const row = v.entries.find((e) => e[0] === path);
  assert.ok(row, `${path} is in the index`);
  row[2] = hash;
  v.root = indexRoot;
  const payload = JSON.stringify(v);
  await writeFile(indexFile(root), `${header}\n${sha(payload)}\n${payload}`);
}

async function repo(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'trews-digest-index-'));
  await mkdir(join(root, '.trews.d'));
  for (const [p, t] of Object.entries(files)) {
    await writeFile(join(root, p), t);
    await utimes(join(root, p), HOUR_AGO_S, HOUR_AGO_S);
  }
  return root;
}

/** Records `path` (an old file), poisons its entry and checks the poison is served: the index is consulted. */
async function recordedAndPoisoned(root: string, path: string): Promise<void> {
  // The clock is an hour on: the ctime of files written a moment ago is old enough to record.
  const later = Date.now() + 3_600_000;
  assert.equal((await coldDigest(root, path, later)).hash, sha(readFileSync(join(root, path), 'utf8')));
  await poison(root, path);
  assert.equal((await coldDigest(root, path, later)).hash, FAKE, 'an unchanged file is served from the index, not read');
}

describe('the persisted file digest index', () => {
  it('an edit in place that restores the size and the mtime (utimes) is seen: ctime moved', async () => {
    const root = await repo({ 'a.txt': 'one\n' });
    try {
      await recordedAndPoisoned(root, 'a.txt');
      const before = lstatSync(join(root, 'a.txt'), { bigint: true });
      await writeFile(join(root, 'a.txt'), 'two\n');
      await utimes(join(root, 'a.txt'), HOUR_AGO_S, HOUR_AGO_S);
      const after = lstatSync(join(root, 'a.txt'), { bigint: true });
      assert.equal(after.size, before.size);
      assert.equal(after.mtimeNs, before.mtimeNs);
      assert.equal(after.ino, before.ino);
      assert.equal((await coldDigest(root, 'a.txt', Date.now() + 3_600_000)).hash, sha('two\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a file replaced (rename) by another of the same size and mtime is seen: new inode', async () => {
    const root = await repo({ 'a.txt': 'one\n' });
    try {
      await recordedAndPoisoned(root, 'a.txt');
      await writeFile(join(root, 'new.tmp'), 'two\n');
      await utimes(join(root, 'new.tmp'), HOUR_AGO_S, HOUR_AGO_S);
      await rename(join(root, 'new.tmp'), join(root, 'a.txt'));
      assert.equal((await coldDigest(root, 'a.txt', Date.now() + 3_600_000)).hash, sha('two\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('racy-clean: a file changed within RACY_MARGIN_MS of the run is not recorded, so an edit in the same tick is seen', async () => {
    // A file system with coarse timestamps gives an edit in the same tick
    // exactly the stat of the recorded file: modelled here by asking with the
    // very stat the first process recorded, after changing the content.
    const root = await repo({ 'a.txt': 'one\n' });
    try {
      const st = lstatSync(join(root, 'a.txt'), { bigint: true });
      const mtimeMs = Number(st.mtimeNs / 1_000_000n);
      // The index was opened in the same second as the file was written.
      const first = openFileDigestIndex(root, { now: () => mtimeMs + 500 });
      first.record('a.txt', st, sha('one\n') as Sha256Hex);
      first.save();
      assert.equal(openFileDigestIndex(root, { now: () => mtimeMs + 500 }).lookup('a.txt', st), undefined, 'racy: hashed again');
      // Older than the margin when the index was opened: trusted.
      const later = openFileDigestIndex(root, { now: () => Number(st.ctimeNs / 1_000_000n) + RACY_MARGIN_MS + 1 });
      later.record('a.txt', st, sha('one\n') as Sha256Hex);
      later.save();
      assert.equal(openFileDigestIndex(root, {}).lookup('a.txt', st), sha('one\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('an edit in the same second as the run that wrote the index: hashed again by the next run (real clock)', async () => {
    const root = await repo({});
    try {
      await writeFile(join(root, 'a.txt'), 'one\n');
      assert.equal((await coldDigest(root, 'a.txt')).hash, sha('one\n'));
      const recorded = lstatSync(join(root, 'a.txt'), { bigint: true });
      await writeFile(join(root, 'a.txt'), 'two\n');
      await utimes(join(root, 'a.txt'), Number(recorded.atimeNs) / 1e9, Number(recorded.mtimeNs) / 1e9);
      assert.equal((await coldDigest(root, 'a.txt')).hash, sha('two\n'));
      const text = await readFile(indexFile(root), 'utf8').catch(() => '');
      assert.doesNotMatch(text, /"a\.txt"/, 'a file younger than the margin is never written to the index');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  for (const [what, damage] of [
    ['truncated', async (f: string) => truncate(f, Math.floor((await readFile(f)).byteLength / 2))],
    ['garbage', (f: string) => writeFile(f, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0a, 0x00, 0x0a, 0xff]))],
    ['of another version (else valid)', () => Promise.resolve()],
    ['of another build root (else valid)', () => Promise.resolve()],
    ['with a flipped hash digit (checksum mismatch)', async (f: string) => writeFile(f, (await readFile(f, 'utf8')).replace(/"f{64}"/, `"e${'f'.repeat(63)}"`))],
  ] as const) {
    it(`an index ${what} is ignored with a debug line, the result is right, and the index is rebuilt`, async () => {
      const root = await repo({ 'a.txt': 'one\n' });
      try {
        await recordedAndPoisoned(root, 'a.txt');
        if (what.startsWith('of another version')) await poison(root, 'a.txt', FAKE, 'trews-file-digests 2');
        if (what.startsWith('of another build root')) await poison(root, 'a.txt', FAKE, undefined, '/elsewhere');
        await damage(indexFile(root));
        const later = Date.now() + 3_600_000;
        const p = await coldDigest(root, 'a.txt', later);
        assert.equal(p.hash, sha('one\n'));
        assert.ok(p.debug.some((l) => /file digest index: ignoring .*file-digests/.test(l)), p.debug.join('\n'));
        const again = await coldDigest(root, 'a.txt', later);
        assert.deepEqual(again.debug, [], 'rebuilt: the next process reads it');
        assert.equal(again.hash, sha('one\n'));
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  }

  it('a symlink swapped for a file of the same size, and back: the right content each time', async () => {
    const root = await repo({ 'real.txt': 'one\n' });
    try {
      await symlink('real.txt', join(root, 'a.txt'));
      const later = Date.now() + 3_600_000;
      assert.equal((await coldDigest(root, 'a.txt', later)).hash, sha('one\n'));
      await unlink(join(root, 'a.txt'));
      await writeFile(join(root, 'a.txt'), 'two\n');
      await utimes(join(root, 'a.txt'), HOUR_AGO_S, HOUR_AGO_S);
      assert.equal((await coldDigest(root, 'a.txt', later)).hash, sha('two\n'));
      await unlink(join(root, 'a.txt'));
      await symlink('real.txt', join(root, 'a.txt'));
      assert.equal((await coldDigest(root, 'a.txt', later)).hash, sha('one\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a file deleted and a directory put in its place (then a file again, same size and mtime): no digest, then the new content', async () => {
    const root = await repo({ 'a.txt': 'one\n' });
    try {
      await recordedAndPoisoned(root, 'a.txt');
      await unlink(join(root, 'a.txt'));
      await mkdir(join(root, 'a.txt'));
      const later = Date.now() + 3_600_000;
      assert.equal((await coldDigest(root, 'a.txt', later)).hash, undefined);
      await rm(join(root, 'a.txt'), { recursive: true });
      await writeFile(join(root, 'a.txt'), 'two\n');
      await utimes(join(root, 'a.txt'), HOUR_AGO_S, HOUR_AGO_S);
      assert.equal((await coldDigest(root, 'a.txt', later)).hash, sha('two\n'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('two processes writing it at once never leave a torn file', async () => {
    const root = await repo({});
    try {
      const moduleUrl = new URL('./file-digest-index.js', import.meta.url).href;
      // Each writer records 2,000 entries (a ~300 KB file, many write() calls) and saves 15 times.
      const script = `
        const { openFileDigestIndex } = await import(${JSON.stringify(moduleUrl)});
        const st = { size: 1n, mtimeNs: 1n, ctimeNs: 1n, ino: 1n, dev: 1n, mode: 33188n };
        for (let round = 0; round < 15; round++) {
          const ix = openFileDigestIndex(${JSON.stringify(root)}, {});
          for (let i = 0; i < 2000; i++) ix.record('w' + process.argv[1] + '/' + round + '/' + i, st, '${'a'.repeat(64)}');
          ix.save();
        }`;
      const writers = ['1', '2'].map(
        (id) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script, id], { stdio: 'inherit' });
            child.on('exit', (code) => resolve(code));
          }),
      );
      let done = false;
      const all = Promise.all(writers).then((codes) => {
        done = true;
        return codes;
      });
      let reads = 0;
      while (!done) {
        let text: string;
        try {
          text = readFileSync(indexFile(root), 'utf8');
        } catch {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        const [header, sum, ...rest] = text.split('\n');
        assert.equal(header, 'trews-file-digests 1');
        assert.equal(sha(rest.join('\n')), sum, 'a whole index, never a torn one');
        reads++;
        await new Promise((r) => setImmediate(r));
      }
      assert.deepEqual(await all, [0, 0]);
      assert.ok(reads > 0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
