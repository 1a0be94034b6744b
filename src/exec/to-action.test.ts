// toAction against encodings built by hand from the protobuf wire format: tag
// byte = (field number << 3) | wire type (0 varint, 2 length-delimited). If
// these pass, a Process hashes exactly as the same Action built by Bazel.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { digestOf, digestString, isFailureError, type Digest } from '../core/index.js';
import { ActionSchema, CommandSchema, decodeMessage } from '../reapi/index.js';
import { makeProcess, type ProcessInit } from './process.js';
import { toAction } from './to-action.js';

type Part = readonly number[] | Uint8Array | string;

function bytes(...parts: Part[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p as Uint8Array)))));
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field: tag, varint length, content. */
function ld(tag: number, ...content: Part[]): Uint8Array {
  const body = bytes(...content);
  return bytes([tag], varint(body.length), body);
}

/** Digest { hash = 1, size_bytes = 2 } */
function digestBytes(d: Digest): Uint8Array {
  return bytes(ld(0x0a, d.hash), d.sizeBytes === 0 ? [] : [0x10, ...varint(d.sizeBytes)]);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

const INPUT_ROOT = digestOf('pretend this is a Directory');

const SAMPLE: ProcessInit = {
  argv: ['sh', '-c', 'echo hi > out/a.txt'],
  env: { B: '2', A: '1' }, // unsorted on purpose
  inputRoot: INPUT_ROOT,
  workingDirectory: 'w',
  outputFiles: ['out/b.txt', 'out/a.txt'], // unsorted on purpose
  outputDirectories: ['gen'],
  timeoutMs: 1500,
  platform: [
    { name: 'OSFamily', value: 'linux' },
    { name: 'Arch', value: 'x86_64' },
  ],
  description: 'not part of the key',
};

// Platform { repeated Property properties = 1 }, Property { name = 1, value = 2 }, sorted by name.
const PLATFORM = bytes(ld(0x0a, ld(0x0a, 'Arch'), ld(0x12, 'x86_64')), ld(0x0a, ld(0x0a, 'OSFamily'), ld(0x12, 'linux')));

// Command: arguments = 1, environment_variables = 2 (sorted by name), output_files = 3
// and output_directories = 4 (sorted), platform = 5, working_directory = 6.
const EXPECTED_COMMAND = bytes(
  ld(0x0a, 'sh'),
  ld(0x0a, '-c'),
  ld(0x0a, 'echo hi > out/a.txt'),
  ld(0x12, ld(0x0a, 'A'), ld(0x12, '1')),
  ld(0x12, ld(0x0a, 'B'), ld(0x12, '2')),
  ld(0x1a, 'out/a.txt'),
  ld(0x1a, 'out/b.txt'),
  ld(0x22, 'gen'),
  ld(0x2a, PLATFORM),
  ld(0x32, 'w'),
);

test('the Command is encoded field by field as REAPI defines, env and outputs sorted', () => {
  const a = toAction(makeProcess(SAMPLE));
  assert.deepEqual(Buffer.from(a.commandBytes).toString('hex'), Buffer.from(EXPECTED_COMMAND).toString('hex'));
  assert.equal(a.commandDigest.hash, sha256(EXPECTED_COMMAND));
  assert.equal(a.commandDigest.sizeBytes, EXPECTED_COMMAND.length);
  // The v2.0 fields, not output_paths.
  assert.deepEqual(a.command.outputPaths, []);
});

test('the Action is encoded field by field: command, input root, timeout, platform', () => {
  const a = toAction(makeProcess(SAMPLE));
  const commandDigest = { hash: sha256(EXPECTED_COMMAND), sizeBytes: EXPECTED_COMMAND.length } as Digest;
  // Action: command_digest = 1, input_root_digest = 2, timeout = 6 (Duration: seconds = 1, nanos = 2),
  // do_not_cache = 7 (absent when false), platform = 10.
  const expected = bytes(
    ld(0x0a, digestBytes(commandDigest)),
    ld(0x12, digestBytes(INPUT_ROOT)),
    ld(0x32, [0x08], varint(1), [0x10], varint(500_000_000)),
    ld(0x52, PLATFORM),
  );
  assert.equal(Buffer.from(a.actionBytes).toString('hex'), Buffer.from(expected).toString('hex'));
  assert.equal(a.actionDigest.hash, sha256(expected));
  assert.equal(a.actionDigest.sizeBytes, expected.length);
});

test('a minimal process: no env, outputs, timeout or platform leaves those fields out', () => {
  const a = toAction(makeProcess({ argv: ['true'] }));
  const command = bytes(ld(0x0a, 'true'));
  assert.equal(Buffer.from(a.commandBytes).toString('hex'), Buffer.from(command).toString('hex'));
  // The empty input root: the empty Directory, i.e. SHA-256 of nothing, size 0 (size field omitted).
  const emptyDir = { hash: sha256(new Uint8Array(0)), sizeBytes: 0 } as Digest;
  const action = bytes(ld(0x0a, digestBytes({ hash: sha256(command), sizeBytes: command.length } as Digest)), ld(0x12, digestBytes(emptyDir)));
  assert.equal(Buffer.from(a.actionBytes).toString('hex'), Buffer.from(action).toString('hex'));
  assert.equal(a.action.platform, undefined);
  assert.equal(a.command.platform, undefined);
});

test('per-run and never set do_not_cache; always and successful do not', () => {
  const flag = (cacheScope: ProcessInit['cacheScope']): boolean => toAction(makeProcess({ argv: ['true'], cacheScope })).action.doNotCache;
  assert.equal(flag('always'), false);
  assert.equal(flag('successful'), false);
  assert.equal(flag('per-run'), true);
  assert.equal(flag('never'), true);
  const a = toAction(makeProcess({ argv: ['true'], cacheScope: 'never' }));
  const command = bytes(ld(0x0a, 'true'));
  const expected = bytes(
    ld(0x0a, digestBytes({ hash: sha256(command), sizeBytes: command.length } as Digest)),
    ld(0x12, digestBytes({ hash: sha256(new Uint8Array(0)), sizeBytes: 0 } as Digest)),
    [0x38, 0x01],
  );
  assert.equal(Buffer.from(a.actionBytes).toString('hex'), Buffer.from(expected).toString('hex'));
  // always and successful share an action: the scope is a client-side policy, not part of the key.
  assert.equal(
    digestString(toAction(makeProcess({ argv: ['true'], cacheScope: 'always' })).actionDigest),
    digestString(toAction(makeProcess({ argv: ['true'], cacheScope: 'successful' })).actionDigest),
  );
});

test('the encodings decode back to the same messages', () => {
  const a = toAction(makeProcess(SAMPLE));
  const c = decodeMessage(CommandSchema, a.commandBytes);
  const act = decodeMessage(ActionSchema, a.actionBytes);
  assert.ok(c.ok && act.ok);
  assert.deepEqual(c.value.arguments, ['sh', '-c', 'echo hi > out/a.txt']);
  assert.deepEqual(c.value.environmentVariables.map((v) => v.name), ['A', 'B']);
  assert.equal(act.value.timeout?.seconds, 1n);
  assert.equal(act.value.timeout?.nanos, 500_000_000);
});

test('every input of the key changes the action digest; description and order of env do not', () => {
  const base = digestString(toAction(makeProcess(SAMPLE)).actionDigest);
  const variants: [string, ProcessInit][] = [
    ['argv', { ...SAMPLE, argv: ['sh', '-c', 'echo bye'] }],
    ['env value', { ...SAMPLE, env: { A: '1', B: '3' } }],
    ['env name', { ...SAMPLE, env: { A: '1', C: '2' } }],
    ['input root', { ...SAMPLE, inputRoot: digestOf('another tree') }],
    ['working directory', { ...SAMPLE, workingDirectory: 'v' }],
    ['output file', { ...SAMPLE, outputFiles: ['out/a.txt'] }],
    ['output directory', { ...SAMPLE, outputDirectories: ['gen2'] }],
    ['timeout', { ...SAMPLE, timeoutMs: 1501 }],
    ['no timeout', { ...SAMPLE, timeoutMs: null }],
    ['platform value', { ...SAMPLE, platform: [{ name: 'OSFamily', value: 'darwin' }, { name: 'Arch', value: 'x86_64' }] }],
    ['platform property', { ...SAMPLE, platform: [{ name: 'OSFamily', value: 'linux' }] }],
    ['scope never', { ...SAMPLE, cacheScope: 'never' }],
  ];
  const seen = new Set([base]);
  for (const [what, init] of variants) {
    const d = digestString(toAction(makeProcess(init)).actionDigest);
    assert.ok(!seen.has(d), `changing the ${what} must change the action digest`);
    seen.add(d);
  }
  const same: ProcessInit[] = [
    { ...SAMPLE, description: 'something else' },
    { ...SAMPLE, env: { A: '1', B: '2' } },
    { ...SAMPLE, outputFiles: ['out/a.txt', 'out/b.txt'] },
    { ...SAMPLE, platform: [...(SAMPLE.platform ?? [])].reverse() },
  ];
  for (const init of same) assert.equal(digestString(toAction(makeProcess(init)).actionDigest), base);
});

test('a malformed process is an internal failure, not a digest', () => {
  const bad = { ...makeProcess({ argv: ['true'] }), outputFiles: ['../escape'] };
  assert.throws(() => toAction(bad), (e: unknown) => isFailureError(e) && e.failure.tag === 'internal' && e.failure.reason === 'process-invalid-output-path');
});
