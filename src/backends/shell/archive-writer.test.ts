import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { digestOf } from '../../core/index.js';
import { createLocalStore, type LocalStore, type TreeEntry } from '../../store/index.js';
import { writeArchive } from './archive-writer.js';

let dir: string;
let store: LocalStore;
let entries: TreeEntry[];
const longDir = `${'deep/'.repeat(30)}end`; // 153 characters: no ustar split fits, so a pax header is needed
const files: Record<string, string> = {
  'a.txt': 'alpha\n',
  'bin/run': '#!/bin/sh\necho run\n',
  [`${longDir}/file-with-a-long-name.txt`]: 'deep\n',
  'empty.txt': '',
  'big.bin': 'x'.repeat(300_000),
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trews-archive-'));
  store = createLocalStore({ dir: join(dir, 'store') });
  entries = [];
  for (const [path, text] of Object.entries(files)) {
    const digest = digestOf(text);
    await store.put(digest, Buffer.from(text));
    entries.push({ kind: 'file', path, digest, isExecutable: path === 'bin/run' });
  }
  entries.push({ kind: 'symlink', path: 'bin/latest', target: 'run' });
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

test('tar: every file with its parents, executable bits, a symlink, and a pax header for a path ustar cannot hold', async () => {
  const out = join(dir, 'x.tar');
  await writeArchive(store, entries, 'tar', out);
  const listing = execFileSync('tar', ['-tvf', out], { encoding: 'utf8' });
  assert.match(listing, /^-rwxr-xr-x 0\/0 +19 1970-01-01 00:00 bin\/run$/m);
  assert.match(listing, /^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 bin\/latest -> run$/m);
  assert.match(listing, /^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 bin\/$/m);
  const names = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(names.includes(`${longDir}/file-with-a-long-name.txt`), names.join('\n'));
  const x = join(dir, 'untar');
  execFileSync('mkdir', ['-p', x]);
  execFileSync('tar', ['-xf', out, '-C', x]);
  for (const [path, text] of Object.entries(files)) assert.equal(await readFile(join(x, path), 'utf8'), text, path);
});

test('the same entries always give the same bytes', async () => {
  await writeArchive(store, entries, 'tar.gz', join(dir, '1.tar.gz'));
  await writeArchive(store, entries, 'tar.gz', join(dir, '2.tar.gz'));
  assert.deepEqual(await readFile(join(dir, '1.tar.gz')), await readFile(join(dir, '2.tar.gz')));
  assert.match(execFileSync('tar', ['-tzf', join(dir, '1.tar.gz')], { encoding: 'utf8' }), /^big\.bin$/m);
});

/** A plain bitwise CRC-32, independent of the writer's table. */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('zip: the central directory names every entry, and each file inflates to its content with the recorded CRC', async () => {
  const out = join(dir, 'x.zip');
  await writeArchive(store, entries, 'zip', out);
  const buf = await readFile(out);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const seen = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const mode = buf.readUInt32LE(at + 38) >>> 16;
    const offset = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    at += 46 + nameLen;
    const dataAt = offset + 30 + buf.readUInt16LE(offset + 26) + buf.readUInt16LE(offset + 28);
    const raw = buf.subarray(dataAt, dataAt + compressed);
    const data = method === 8 ? inflateRawSync(raw) : raw;
    assert.equal(data.byteLength, size, name);
    assert.equal(crc32(data), crc, name);
    seen.set(name, (mode & 0o170000) === 0o120000 ? `-> ${data.toString()}` : (mode & 0o111) !== 0 && !name.endsWith('/') ? `x ${data.toString()}` : data.toString());
  }
  assert.equal(seen.get('a.txt'), 'alpha\n');
  assert.equal(seen.get('bin/'), '');
  assert.equal(seen.get('bin/run'), `x ${files['bin/run']}`);
  assert.equal(seen.get('bin/latest'), '-> run');
  assert.equal(seen.get('big.bin'), files['big.bin']);
  assert.equal(seen.get('empty.txt'), '');
  assert.equal([...seen.keys()].filter((n) => !n.endsWith('/')).length, Object.keys(files).length + 1);
});
