// Digests of REAPI messages, checked against encodings built by hand from the
// protobuf wire format: tag byte = (field number << 3) | wire type, where wire
// type 0 is a varint and 2 is length-delimited. If these pass, trews hashes an
// Action exactly as any other conforming REAPI client does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { digestOf, type Digest } from '../core/index.js';
import {
  ActionSchema,
  CommandSchema,
  DirectorySchema,
  canonicalAction,
  canonicalCommand,
  canonicalDirectory,
  decodeMessage,
  digestMessage,
  encodeCanonical,
  toProtoDigest,
  type Directory,
} from './index.js';

type Part = readonly number[] | Uint8Array | string;

/** Concatenates byte literals and UTF-8 strings. */
function bytes(...parts: Part[]): Uint8Array {
  const bufs = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p as Uint8Array)));
  return new Uint8Array(Buffer.concat(bufs));
}

/** Base-128 varint, least significant group first, high bit = "more follows". */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field: its tag byte, the varint length, the content. */
function ld(tag: number, ...content: Part[]): Uint8Array {
  const body = bytes(...content);
  return bytes([tag], varint(body.length), body);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Digest { hash = 1 (string), size_bytes = 2 (int64 varint) } */
function digestBytes(d: Digest): Uint8Array {
  return bytes([0x0a, 0x40], d.hash, [0x10], varint(d.sizeBytes));
}

const HELLO: Digest = digestOf('hello');
const X300: Digest = digestOf('x'.repeat(300));

function dirOf(init: Parameters<typeof create<typeof DirectorySchema>>[1]): Directory {
  const r = canonicalDirectory(create(DirectorySchema, init));
  assert.ok(r.ok, r.ok ? '' : r.failure.message);
  return r.value;
}

test('varint helper matches the protobuf spec examples', () => {
  assert.deepEqual(varint(1), [0x01]);
  assert.deepEqual(varint(150), [0x96, 0x01]);
  assert.deepEqual(varint(300), [0xac, 0x02]);
  assert.equal(HELLO.hash, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
});

test('the empty Directory encodes to zero bytes and hashes to SHA-256 of nothing', () => {
  const { digest, bytes: b } = digestMessage(DirectorySchema, dirOf({}));
  assert.equal(b.length, 0);
  assert.equal(digest.hash, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(digest.sizeBytes, 0);
});

test('a Directory with one executable file', () => {
  const dir = dirOf({ files: [{ name: 'a.txt', digest: toProtoDigest(HELLO), isExecutable: true }] });
  // Digest: 0a 40 <64 hex chars> 10 05  (68 bytes)
  const digest = digestBytes(HELLO);
  assert.equal(digest.length, 68);
  // FileNode: name = 1 → 0a 05 "a.txt"; digest = 2 → 12 44 <digest>; is_executable = 4 → 20 01
  const fileNode = bytes([0x0a, 0x05], 'a.txt', [0x12, 0x44], digest, [0x20, 0x01]);
  assert.equal(fileNode.length, 79);
  // Directory: files = 1 → 0a 4f <file node>
  const expected = bytes([0x0a, 0x4f], fileNode);

  const { digest: got, bytes: encoded } = digestMessage(DirectorySchema, dir);
  assert.deepEqual(encoded, expected);
  assert.deepEqual(encodeCanonical(DirectorySchema, dir), expected);
  assert.deepEqual(got, { hash: sha256(expected), sizeBytes: 81 });
});

test('a Directory with a sorted pair of files and a nested DirectoryNode', () => {
  const sub = dirOf({ files: [{ name: 'a.txt', digest: toProtoDigest(HELLO), isExecutable: true }] });
  const subDigest = digestMessage(DirectorySchema, sub).digest;
  // Given out of order on purpose: canonicalDirectory sorts by name.
  const root = dirOf({
    files: [
      { name: 'b.txt', digest: toProtoDigest(X300) },
      { name: 'a.txt', digest: toProtoDigest(HELLO) },
    ],
    directories: [{ name: 'sub', digest: toProtoDigest(subDigest) }],
  });

  // A size of 300 needs a two-byte varint: 10 ac 02.
  const x300 = bytes([0x0a, 0x40], X300.hash, [0x10, 0xac, 0x02]);
  assert.equal(x300.length, 69);
  const fileA = bytes([0x0a, 0x05], 'a.txt', [0x12, 0x44], digestBytes(HELLO)); // not executable: field 4 omitted
  const fileB = bytes([0x0a, 0x05], 'b.txt', [0x12, 0x45], x300);
  // DirectoryNode: name = 1 → 0a 03 "sub"; digest = 2 → 12 44 <digest of sub (size 81 = 0x51)>
  const dirNode = bytes([0x0a, 0x03], 'sub', [0x12, 0x44], [0x0a, 0x40], subDigest.hash, [0x10, 0x51]);
  // Directory: files = 1 (0a) twice, then directories = 2 (12)
  const expected = bytes([0x0a, fileA.length], fileA, [0x0a, fileB.length], fileB, [0x12, dirNode.length], dirNode);
  assert.equal(fileA.length, 77);
  assert.equal(dirNode.length, 75);

  const { digest, bytes: encoded } = digestMessage(DirectorySchema, root);
  assert.deepEqual(encoded, expected);
  assert.deepEqual(digest, { hash: sha256(expected), sizeBytes: expected.length });
});

function sampleCommand() {
  const r = canonicalCommand(
    create(CommandSchema, {
      arguments: ['/bin/sh', '-c', 'echo hi > out/a.txt'],
      environmentVariables: [
        { name: 'PATH', value: '/bin' },
        { name: 'LANG', value: 'C' },
      ],
      outputPaths: ['out/b', 'out/a.txt', 'out/b'],
      platform: {
        properties: [
          { name: 'container-image', value: 'docker://img' },
          { name: 'OSFamily', value: 'linux' },
        ],
      },
    }),
  );
  assert.ok(r.ok);
  return r.value;
}

const PROPERTY_OS = ld(0x0a, ld(0x0a, 'OSFamily'), ld(0x12, 'linux')); // Property { name = 1, value = 2 }
const PROPERTY_IMAGE = ld(0x0a, ld(0x0a, 'container-image'), ld(0x12, 'docker://img'));

function expectedCommandBytes(): Uint8Array {
  return bytes(
    // arguments = 1, one 0a field per element
    [0x0a, 0x07], '/bin/sh',
    [0x0a, 0x02], '-c',
    [0x0a, 0x13], 'echo hi > out/a.txt',
    // environment_variables = 2 → 12 <EnvironmentVariable { name = 1, value = 2 }>, sorted by name
    [0x12, 0x09, 0x0a, 0x04], 'LANG', [0x12, 0x01], 'C',
    [0x12, 0x0c, 0x0a, 0x04], 'PATH', [0x12, 0x04], '/bin',
    // platform = 5 → 2a <Platform { properties = 1 }>, sorted by name: 'O' (0x4f) < 'c' (0x63).
    // Field 5 comes before output_paths = 7 on the wire: encoding follows field numbers.
    ld(0x2a, PROPERTY_OS, PROPERTY_IMAGE),
    // output_paths = 7 → 3a, sorted and deduplicated
    [0x3a, 0x09], 'out/a.txt',
    [0x3a, 0x05], 'out/b',
  );
}

test('a Command with arguments, environment, platform and output paths', () => {
  const expected = expectedCommandBytes();
  assert.equal(expected.length, 131);
  const { digest, bytes: encoded } = digestMessage(CommandSchema, sampleCommand());
  assert.deepEqual(encoded, expected);
  assert.deepEqual(digest, { hash: sha256(expected), sizeBytes: 131 });
});

test('an Action with a timeout, do_not_cache and a platform; cross-checked with sha256sum', () => {
  const command = digestMessage(CommandSchema, sampleCommand()).digest;
  const inputRoot = digestMessage(DirectorySchema, dirOf({ files: [{ name: 'a.txt', digest: toProtoDigest(HELLO) }] })).digest;
  const action = canonicalAction(
    create(ActionSchema, {
      commandDigest: toProtoDigest(command),
      inputRootDigest: toProtoDigest(inputRoot),
      timeout: create(DurationSchema, { seconds: 60n }),
      doNotCache: true,
      platform: {
        properties: [
          { name: 'container-image', value: 'docker://img' },
          { name: 'OSFamily', value: 'linux' },
        ],
      },
    }),
  );

  const expected = bytes(
    // command_digest = 1 → 0a 45 <Digest, size 131 = 83 01>
    [0x0a, 0x45, 0x0a, 0x40], command.hash, [0x10, 0x83, 0x01],
    // input_root_digest = 2 → 12 44 <Digest>
    [0x12, 0x44, 0x0a, 0x40], inputRoot.hash, [0x10], varint(inputRoot.sizeBytes),
    // timeout = 6 → 32 02 <Duration { seconds = 1 → 08 3c }>
    [0x32, 0x02, 0x08, 0x3c],
    // do_not_cache = 7 → 38 01
    [0x38, 0x01],
    // platform = 10 → (10 << 3) | 2 = 0x52
    ld(0x52, PROPERTY_OS, PROPERTY_IMAGE),
  );
  assert.equal(inputRoot.sizeBytes, 79); // 0a 4d <FileNode of 77 bytes>

  const { digest, bytes: encoded } = digestMessage(ActionSchema, action);
  assert.deepEqual(encoded, expected);
  assert.equal(digest.hash, sha256(expected));
  assert.equal(digest.sizeBytes, expected.length);

  // One independent implementation, outside Node, agrees.
  const r = spawnSync('sha256sum', { input: Buffer.from(expected) });
  assert.equal(r.status, 0, r.stderr?.toString());
  assert.equal(r.stdout.toString().split(/\s/)[0], digest.hash);
});

test('unknown fields are not part of the canonical encoding', () => {
  // An Action whose command_digest carries field 15 (varint 1), as a newer peer might send it.
  const digestWithUnknown = bytes(digestBytes(HELLO), [0x78, 0x01]);
  const decoded = decodeMessage(ActionSchema, ld(0x0a, digestWithUnknown));
  assert.ok(decoded.ok);
  assert.deepEqual(encodeCanonical(ActionSchema, decoded.value), ld(0x0a, digestBytes(HELLO)));
});

test('decodeMessage reports malformed bytes as a failure', () => {
  const r = decodeMessage(DirectorySchema, bytes([0x0a, 0x7f, 0x01]));
  assert.equal(r.ok, false);
  assert.equal(r.ok ? '' : r.failure.reason, 'malformed-message');
});

test('Directories encoded by hand are byte for byte what protobuf-es writes', async () => {
  const { toBinary } = await import('@bufbuild/protobuf');
  // A small deterministic generator (xorshift), so a failure names a reproducible case.
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const names = ['', 'a', 'build.js', 'é', '日本語', '🙂', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(20_000)];
  const sizes = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 31n, 2n ** 40n + 7n, 2n ** 63n - 1n];
  const digest = () =>
    rand(6) === 0 ? undefined : { hash: rand(5) === 0 ? '' : createHash('sha256').update(String(rand(1e9))).digest('hex'), sizeBytes: sizes[rand(sizes.length)]! };
  const props = () => (rand(4) === 0 ? { properties: [{ name: 'p', value: String(rand(9)) }], unixMode: rand(2) === 0 ? 0o644 : undefined } : undefined);
  for (let i = 0; i < 400; i++) {
    const withProps = i % 4 === 3;
    const many = i % 50 === 0 ? 300 : rand(5);
    const d = create(DirectorySchema, {
      files: Array.from({ length: many }, () => ({ name: names[rand(names.length)]!, digest: digest(), isExecutable: rand(2) === 0, nodeProperties: withProps ? props() : undefined })),
      directories: Array.from({ length: rand(4) }, () => ({ name: names[rand(names.length)]!, digest: digest() })),
      symlinks: Array.from({ length: rand(3) }, () => ({ name: names[rand(names.length)]!, target: names[rand(names.length)]!, nodeProperties: withProps ? props() : undefined })),
      nodeProperties: withProps && rand(2) === 0 ? props() : undefined,
    });
    assert.deepEqual(
      Buffer.from(encodeCanonical(DirectorySchema, d)).toString('hex'),
      Buffer.from(toBinary(DirectorySchema, d, { writeUnknownFields: false })).toString('hex'),
      `case ${i}`,
    );
  }
});

test('Directories decoded by hand are the very messages protobuf-es reads, and whatever is off the plain path is decoded (or rejected) by protobuf-es', async () => {
  const { fromBinary, toBinary } = await import('@bufbuild/protobuf');
  const { decodeDirectory } = await import('./decode-directory.js');
  const reflective = (b: Uint8Array): { ok: true; value: Directory } | { ok: false } => {
    try {
      return { ok: true, value: fromBinary(DirectorySchema, b) };
    } catch {
      return { ok: false };
    }
  };
  const same = (b: Uint8Array, what: string): void => {
    const mine = decodeMessage(DirectorySchema, b);
    const theirs = reflective(b);
    assert.equal(mine.ok, theirs.ok, what);
    if (mine.ok && theirs.ok) {
      assert.deepEqual(mine.value, theirs.value, what);
      // Key order too: a message is JSON-stringified and compared elsewhere.
      assert.equal(JSON.stringify(mine.value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)), JSON.stringify(theirs.value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)), what);
    }
  };
  let seed = 0x1b873593;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const names = ['', 'a', 'é', '🙂', 'x'.repeat(200)];
  const sizes = [0n, 1n, 128n, 2n ** 40n + 7n, 2n ** 63n - 1n, -1n];
  let byHand = 0;
  for (let i = 0; i < 300; i++) {
    const withProps = i % 5 === 4;
    const d = create(DirectorySchema, {
      files: Array.from({ length: rand(6) }, () => ({
        name: names[rand(names.length)]!,
        digest: rand(5) === 0 ? undefined : { hash: rand(4) === 0 ? '' : 'ab'.repeat(32), sizeBytes: sizes[rand(sizes.length)]! },
        isExecutable: rand(2) === 0,
        nodeProperties: withProps && rand(2) === 0 ? { unixMode: 0o755 } : undefined,
      })),
      directories: Array.from({ length: rand(4) }, () => ({ name: names[rand(names.length)]!, digest: rand(4) === 0 ? undefined : { hash: 'cd'.repeat(32), sizeBytes: sizes[rand(sizes.length)]! } })),
      symlinks: Array.from({ length: rand(3) }, () => ({ name: names[rand(names.length)]!, target: names[rand(names.length)]! })),
    });
    const b = toBinary(DirectorySchema, d);
    if (decodeDirectory(b) !== undefined) byHand++;
    same(b, `case ${i}`);
    // Every truncation, and a byte flipped anywhere: what protobuf-es makes of it, we make of it.
    same(b.subarray(0, rand(b.length + 1)), `case ${i} truncated`);
    if (b.length > 0) {
      const flipped = Uint8Array.from(b);
      const at = rand(b.length);
      flipped[at] = flipped[at]! ^ (1 << rand(8));
      same(flipped, `case ${i} flipped`);
    }
  }
  assert.ok(byHand > 200, `most plain Directories are decoded by hand (${byHand})`);
  // Off the plain path on purpose: an unknown field (kept by protobuf-es in $unknown), a repeated singular field,
  // a wrong wire type, invalid UTF-8, an over-long varint.
  const file = (...content: Part[]): Uint8Array => ld(0x0a, ...content);
  for (const [what, b] of [
    ['unknown field', file(ld(0x0a, 'a'), [0x78, 0x01])],
    ['name twice', file(ld(0x0a, 'a'), ld(0x0a, 'b'))],
    ['digest twice (merged)', file(ld(0x12, ld(0x0a, 'h')), ld(0x12, [0x10, 0x05]))],
    ['wire type', file([0x0d, 1, 2, 3, 4])],
    ['invalid UTF-8', file(ld(0x0a, [0xc3, 0x28]))],
    ['over-long varint', file([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['node properties', bytes(ld(0x2a, ld(0x0a, ld(0x0a, 'p'))))],
  ] as const) {
    assert.equal(decodeDirectory(b), undefined, what);
    same(b, what);
  }
});
