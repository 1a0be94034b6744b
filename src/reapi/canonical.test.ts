import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf } from '../core/index.js';
import {
  CommandSchema,
  DigestSchema,
  DirectorySchema,
  canonicalCommand,
  canonicalDirectory,
  canonicalPlatform,
  compareUtf8,
  fromProtoDigest,
  toProtoDigest,
  PlatformSchema,
} from './index.js';

const D = toProtoDigest(digestOf('x'));

function reason(r: { ok: boolean; failure?: { reason: string } }): string | undefined {
  return r.ok ? undefined : r.failure?.reason;
}

test('compareUtf8 orders by code point, not by UTF-16 code unit', () => {
  // U+FF5E is below U+1F600 as a code point (and in UTF-8), but JS's `<` puts the emoji first.
  const emoji = '\u{1F600}';
  const fullwidth = '\uFF5E';
  assert.ok(emoji < fullwidth);
  assert.ok(compareUtf8(fullwidth, emoji) < 0);
  assert.deepEqual(['b', 'B', 'a', 'é', 'ab', emoji, fullwidth].sort(compareUtf8), ['B', 'a', 'ab', 'b', 'é', fullwidth, emoji]);
  const sortedByBytes = ['z', emoji, fullwidth, 'é'].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(['z', emoji, fullwidth, 'é'].sort(compareUtf8), sortedByBytes);
});

test('canonicalDirectory sorts each list by UTF-8 bytes and leaves the input alone', () => {
  const input = create(DirectorySchema, {
    files: [
      { name: 'b', digest: D },
      { name: '\u{1F600}', digest: D },
      { name: 'B', digest: D },
      { name: '\uFF5E', digest: D },
    ],
    directories: [
      { name: 'z', digest: D },
      { name: 'y', digest: D },
    ],
    symlinks: [
      { name: 'l2', target: 'b' },
      { name: 'l1', target: '../x' },
    ],
  });
  const r = canonicalDirectory(input);
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.files.map((f) => f.name),
    ['B', 'b', '\uFF5E', '\u{1F600}'],
  );
  assert.deepEqual(r.value.directories.map((f) => f.name), ['y', 'z']);
  assert.deepEqual(r.value.symlinks.map((f) => f.name), ['l1', 'l2']);
  assert.equal(input.files[0]?.name, 'b');
});

test('canonicalDirectory rejects names that are not one path segment', () => {
  for (const name of ['', '.', '..', 'a/b', '/', 'a\0b', '\uD800']) {
    const r = canonicalDirectory(create(DirectorySchema, { files: [{ name, digest: D }] }));
    assert.equal(reason(r), 'invalid-path-segment', JSON.stringify(name));
  }
  const sym = canonicalDirectory(create(DirectorySchema, { symlinks: [{ name: '..', target: 'x' }] }));
  assert.equal(reason(sym), 'invalid-path-segment');
});

test('canonicalDirectory rejects a name used twice, across files, directories and symlinks', () => {
  assert.equal(
    reason(canonicalDirectory(create(DirectorySchema, { files: [{ name: 'a', digest: D }, { name: 'a', digest: D }] }))),
    'duplicate-name',
  );
  assert.equal(
    reason(canonicalDirectory(create(DirectorySchema, { files: [{ name: 'a', digest: D }], directories: [{ name: 'a', digest: D }] }))),
    'duplicate-name',
  );
  assert.equal(
    reason(canonicalDirectory(create(DirectorySchema, { directories: [{ name: 'a', digest: D }], symlinks: [{ name: 'a', target: 'b' }] }))),
    'duplicate-name',
  );
});

test('canonicalDirectory rejects missing or malformed digests and empty symlink targets', () => {
  assert.equal(reason(canonicalDirectory(create(DirectorySchema, { files: [{ name: 'a' }] }))), 'invalid-digest');
  assert.equal(
    reason(canonicalDirectory(create(DirectorySchema, { directories: [{ name: 'a', digest: { hash: 'ABC', sizeBytes: 1n } }] }))),
    'invalid-digest',
  );
  assert.equal(reason(canonicalDirectory(create(DirectorySchema, { symlinks: [{ name: 'a', target: '' }] }))), 'invalid-symlink');
});

test('canonicalCommand sorts env and outputs, dedupes outputs, rejects duplicates and bad paths', () => {
  const r = canonicalCommand(
    create(CommandSchema, {
      arguments: ['z', 'a'],
      environmentVariables: [
        { name: 'b', value: '1' },
        { name: 'A', value: '2' },
      ],
      outputFiles: ['z', 'a', 'z'],
      outputDirectories: ['d', ''],
      outputPaths: ['y', 'x', 'y'],
      outputNodeProperties: ['unix_mode', 'mtime'],
    }),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.value.arguments, ['z', 'a']);
  assert.deepEqual(r.value.environmentVariables.map((v) => v.name), ['A', 'b']);
  assert.deepEqual(r.value.outputFiles, ['a', 'z']);
  assert.deepEqual(r.value.outputDirectories, ['', 'd']);
  assert.deepEqual(r.value.outputPaths, ['x', 'y']);
  assert.deepEqual(r.value.outputNodeProperties, ['mtime', 'unix_mode']);

  const dup = canonicalCommand(create(CommandSchema, { environmentVariables: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }));
  assert.equal(reason(dup), 'duplicate-environment-variable');
  for (const p of ['/abs', 'a/', 'a//b', './a', 'a/../b', '']) {
    assert.equal(reason(canonicalCommand(create(CommandSchema, { outputFiles: [p] }))), 'invalid-output-path', p);
  }
});

test('canonicalPlatform sorts by name then value and keeps repeated names', () => {
  const p = canonicalPlatform(
    create(PlatformSchema, {
      properties: [
        { name: 'b', value: '2' },
        { name: 'a', value: 'y' },
        { name: 'b', value: '1' },
        { name: 'a', value: 'x' },
      ],
    }),
  );
  assert.deepEqual(
    p.properties.map((q) => `${q.name}=${q.value}`),
    ['a=x', 'a=y', 'b=1', 'b=2'],
  );
});

test('fromProtoDigest validates; toProtoDigest round-trips', () => {
  const d = digestOf('abc');
  const back = fromProtoDigest(toProtoDigest(d));
  assert.ok(back.ok);
  assert.deepEqual(back.value, d);
  assert.equal(toProtoDigest(d).sizeBytes, 3n);
  const bad = [
    undefined,
    create(DigestSchema, { hash: d.hash.toUpperCase(), sizeBytes: 3n }),
    create(DigestSchema, { hash: d.hash.slice(1), sizeBytes: 3n }),
    create(DigestSchema, { hash: d.hash, sizeBytes: -1n }),
    create(DigestSchema, { hash: d.hash, sizeBytes: 2n ** 53n }),
  ];
  for (const p of bad) assert.equal(reason(fromProtoDigest(p)), 'invalid-digest');
});

test('canonicalDirectory builds a plain Directory as the very messages protobuf-es creates (fields, key order, shared digests)', async () => {
  const { canonicalByCreate } = await import('./canonical-directory.js');
  const json = (v: unknown): string => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  let seed = 0x68e31da4;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const names = ['b', 'a', 'é', '🙂', 'z', 'ab', 'A'];
  for (let i = 0; i < 200; i++) {
    const pick = (used: Set<string>): string => {
      let n = `${names[rand(names.length)]}${rand(50)}`;
      while (used.has(n)) n += 'x';
      used.add(n);
      return n;
    };
    const used = new Set<string>();
    const digest = () => ({ hash: 'ab'.repeat(32), sizeBytes: BigInt(rand(1000)) });
    const dir = create(DirectorySchema, {
      files: Array.from({ length: rand(6) }, () => ({ name: pick(used), digest: digest(), isExecutable: rand(2) === 0 })),
      directories: Array.from({ length: rand(4) }, () => ({ name: pick(used), digest: digest() })),
      symlinks: Array.from({ length: rand(3) }, () => ({ name: pick(used), target: 'x' })),
    });
    const fast = canonicalDirectory(dir);
    assert.ok(fast.ok);
    const slow = canonicalByCreate(dir);
    assert.deepEqual(fast.value, slow, `case ${i}`);
    assert.equal(json(fast.value), json(slow), `case ${i}: key order`);
    fast.value.files.forEach((f, j) => assert.equal(f.digest, slow.files[j]!.digest, 'the digest messages are shared, as create shares them'));
  }
});
