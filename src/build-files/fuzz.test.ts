import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderFailure } from '../ui/index.js';
import { parseBuildFile, parseLiteral, toPlain, type BuildFileSyntax, type Span, type ValueNode } from './index.js';

// Malformed input must end in `ok` or a located Failure, never a throw, a hang or a
// stack overflow. Realistic files are mutated at random (seeded, so a failure
// reproduces) and every outcome is checked for being well-formed.

const SYMBOLS = new Set([
  'files', 'resources', 'target', 'relocated_files', 'archive', 'python_sources', 'python_tests', 'python_requirements',
  'python_distribution', 'pex_binary', 'shell_sources', 'shell_tests', 'run_shell_command', 'javascript_sources',
  'javascript_tests', 'package_json', 'docker_image',
]);
const MUTANTS_PER_FILE = 1200;

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no package.json above the test file');
    dir = up;
  }
  return dir;
}

const VALID_DIR = join(repoRoot(), 'src/build-files/testdata/valid');
const valid = readdirSync(VALID_DIR)
  .filter((f) => f.endsWith('.BUILD'))
  .sort()
  .map((f) => ({ name: f, text: readFileSync(join(VALID_DIR, f), 'utf8') }));

/** mulberry32: small, fast and good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SNIPPETS = [
  '(', ')', '[', ']', '{', '}', "'", '"', "'''", '"""', '\\', '\n', '\r\n', '\r', '\t', ' ', '#', ',', ':', '=', '==', '+', '-',
  '*', '**', '.', ';', '@', '$', '0x', '1_', '1e', '.5', '0o7', '09', 'j', 'r', 'f', 'b', 'u', '\\x', '\\u12', '\\N{x}',
  'def ', 'class ', 'import ', 'from ', 'if ', 'else', 'for ', ' in ', 'while ', 'with ', 'lambda', 'return ', 'and', 'or',
  'not ', 'is', 'True', 'False', 'None', 'true', 'x = ', 'pyhton_sources', 'files', 'name=', '\u201c', '\u00a0', '\uFEFF',
  '\u{1F600}', '\0', '((((', '[[[[', ']]]]', '))))', '{"a": 1}', '(1,)', '()', "r'\\'", 'f"{x}"', "b'x'",
];

type Mutation = (text: string, rnd: () => number) => string;

function pick<T>(xs: readonly T[], rnd: () => number): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Crude Python-ish tokens with the whitespace between them kept, so tokens can be moved. */
function pieces(text: string): string[] {
  return text.match(/[A-Za-z_][A-Za-z0-9_]*|\d[\d_.eExXoObB]*|"""|'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\s+|./gsu) ?? [];
}

function tokenIndexes(ps: string[]): number[] {
  const out: number[] = [];
  ps.forEach((p, i) => {
    if (!/^\s+$/.test(p)) out.push(i);
  });
  return out;
}

const MUTATIONS: Record<string, Mutation> = {
  deleteChar: (t, r) => {
    const i = Math.floor(r() * t.length);
    return t.slice(0, i) + t.slice(i + 1);
  },
  deleteRange: (t, r) => {
    const i = Math.floor(r() * t.length);
    return t.slice(0, i) + t.slice(i + 1 + Math.floor(r() * 20));
  },
  insertChar: (t, r) => {
    const i = Math.floor(r() * (t.length + 1));
    const c = String.fromCharCode(r() < 0.8 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0x3000));
    return t.slice(0, i) + c + t.slice(i);
  },
  replaceChar: (t, r) => {
    const i = Math.floor(r() * t.length);
    return t.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 95)) + t.slice(i + 1);
  },
  insertSnippet: (t, r) => {
    const i = Math.floor(r() * (t.length + 1));
    return t.slice(0, i) + pick(SNIPPETS, r) + t.slice(i);
  },
  duplicateToken: (t, r) => {
    const ps = pieces(t);
    const idx = tokenIndexes(ps);
    if (idx.length === 0) return t;
    const i = pick(idx, r);
    ps.splice(i, 0, ps[i]!);
    return ps.join('');
  },
  removeToken: (t, r) => {
    const ps = pieces(t);
    const idx = tokenIndexes(ps);
    if (idx.length === 0) return t;
    ps.splice(pick(idx, r), 1);
    return ps.join('');
  },
  swapTokens: (t, r) => {
    const ps = pieces(t);
    const idx = tokenIndexes(ps);
    if (idx.length < 2) return t;
    const a = pick(idx, r);
    const b = pick(idx, r);
    [ps[a], ps[b]] = [ps[b]!, ps[a]!];
    return ps.join('');
  },
  duplicateLine: (t, r) => {
    const ls = t.split('\n');
    const i = Math.floor(r() * ls.length);
    ls.splice(i, 0, ls[i]!);
    return ls.join('\n');
  },
  removeLine: (t, r) => {
    const ls = t.split('\n');
    ls.splice(Math.floor(r() * ls.length), 1);
    return ls.join('\n');
  },
  swapLines: (t, r) => {
    const ls = t.split('\n');
    const a = Math.floor(r() * ls.length);
    const b = Math.floor(r() * ls.length);
    [ls[a], ls[b]] = [ls[b]!, ls[a]!];
    return ls.join('\n');
  },
  indentLine: (t, r) => {
    const ls = t.split('\n');
    const i = Math.floor(r() * ls.length);
    ls[i] = pick([' ', '\t', '    ', ' \t'], r) + ls[i]!;
    return ls.join('\n');
  },
  truncate: (t, r) => t.slice(0, Math.floor(r() * t.length)),
  deepBrackets: (t, r) => {
    const i = Math.floor(r() * (t.length + 1));
    const n = 1 + Math.floor(r() * 300);
    return t.slice(0, i) + pick(['(', '[', '{'], r).repeat(n) + t.slice(i);
  },
  crlf: (t) => t.replace(/\n/g, '\r\n'),
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

function mutate(text: string, rnd: () => number): string {
  let out = text;
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) out = MUTATIONS[pick(MUTATION_NAMES, rnd)]!(out, rnd);
  return out;
}

function normalizedLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
}

function checkSpan(span: Span, lines: readonly string[], what: string): void {
  assert.ok(span.line >= 1 && span.line <= lines.length, `${what}: line ${span.line} of ${lines.length}`);
  assert.ok(span.endLine >= span.line && span.endLine <= lines.length, `${what}: endLine ${span.endLine}`);
  assert.ok(span.col >= 1 && span.col <= lines[span.line - 1]!.length + 1, `${what}: col ${span.col}`);
  assert.ok(span.endCol >= 1 && span.endCol <= lines[span.endLine - 1]!.length + 1, `${what}: endCol ${span.endCol}`);
  assert.ok(span.endLine > span.line || span.endCol > span.col, `${what}: empty span`);
}

function checkValue(v: ValueNode, lines: readonly string[]): void {
  checkSpan(v.span, lines, v.kind);
  if (v.kind === 'list' || v.kind === 'tuple') for (const i of v.items) checkValue(i, lines);
  if (v.kind === 'dict') {
    for (const e of v.entries) {
      checkSpan(e.keySpan, lines, 'key');
      checkValue(e.value, lines);
    }
  }
}

function checkSyntax(s: BuildFileSyntax, lines: readonly string[]): void {
  assert.deepEqual(s.lines, lines);
  for (const c of s.calls) {
    assert.ok(SYMBOLS.has(c.callee));
    checkSpan(c.span, lines, 'call');
    checkSpan(c.calleeSpan, lines, 'callee');
    for (const a of c.args) {
      checkSpan(a.nameSpan, lines, 'arg');
      checkValue(a.value, lines);
      toPlain(a.value);
    }
  }
}

/** Parses `text` and checks the outcome is well-formed; returns whether it parsed. */
function checkOutcome(path: string, text: string): boolean {
  const r = parseBuildFile(path, text, SYMBOLS);
  const lines = normalizedLines(text);
  if (r.ok) {
    checkSyntax(r.value, lines);
    return true;
  }
  const f = r.failure;
  assert.equal(f.tag, 'input');
  assert.match(f.reason, /^build-[a-z-]+$/);
  assert.ok(f.message.length > 0 && !f.message.includes('\n'), `message: ${JSON.stringify(f.message)}`);
  const loc = f.location;
  assert.ok(loc, 'a location');
  assert.equal(loc.file, path);
  assert.ok(loc.line !== undefined && loc.line >= 1 && loc.line <= lines.length, `line ${loc.line} of ${lines.length}`);
  assert.equal(loc.lineText, lines[loc.line - 1]);
  assert.ok(loc.col !== undefined && loc.col >= 1 && loc.col <= loc.lineText!.length + 1, `col ${loc.col}`);
  assert.ok(loc.length !== undefined && loc.length >= 1, `length ${loc.length}`);
  assert.ok(renderFailure(f).startsWith(`error: ${path}:${loc.line}:${loc.col}: `));
  return false;
}

test('the valid corpus parses', () => {
  assert.ok(valid.length >= 4);
  for (const { name, text } of valid) {
    const r = parseBuildFile(name, text, SYMBOLS);
    assert.ok(r.ok, r.ok ? '' : renderFailure(r.failure));
    assert.ok(r.value.calls.length >= 2, name);
    checkSyntax(r.value, normalizedLines(text));
  }
});

test(`mutated BUILD files end in ok or a located failure (${MUTANTS_PER_FILE} per file)`, () => {
  const rnd = prng(0x7e3b5);
  let failures = 0;
  let total = 0;
  const reasons = new Set<string>();
  for (const { name, text } of valid) {
    for (let i = 0; i < MUTANTS_PER_FILE; i++) {
      const mutant = mutate(text, rnd);
      total++;
      try {
        if (!checkOutcome(`fuzz/${name}`, mutant)) {
          failures++;
          const r = parseBuildFile(`fuzz/${name}`, mutant, SYMBOLS);
          if (!r.ok) reasons.add(r.failure.reason);
        }
      } catch (e) {
        assert.fail(`mutant ${i} of ${name} (${JSON.stringify(mutant)}): ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
  assert.ok(total >= 5000);
  // The mutations must actually reach the error paths, or this test proves little.
  assert.ok(failures > total / 2, `only ${failures} of ${total} mutants failed to parse`);
  for (const r of ['build-syntax', 'build-unsupported', 'build-unknown-symbol', 'build-too-deep']) assert.ok(reasons.has(r), `no mutant hit ${r}`);
});

test('mutated literals end in ok or a located failure', () => {
  const rnd = prng(42);
  const seeds = ["['OSFamily=linux', 'container-image=docker://x']", "{'a': 1, 'b': [True, None, 2.5]}", '("x", -1, 0x10)', '"a" "b" + \'c\''];
  for (let i = 0; i < 2000; i++) {
    const text = mutate(pick(seeds, rnd), rnd);
    const r = parseLiteral(text, '--opt');
    const lines = normalizedLines(text);
    if (r.ok) {
      checkValue(r.value, lines);
      continue;
    }
    const loc = r.failure.location!;
    assert.equal(loc.file, '--opt');
    assert.ok(loc.line! >= 1 && loc.line! <= lines.length, `${JSON.stringify(text)}: line ${loc.line}`);
    assert.ok(loc.col! >= 1 && loc.col! <= lines[loc.line! - 1]!.length + 1, `${JSON.stringify(text)}: col ${loc.col}`);
    assert.ok(r.failure.message.length > 0);
  }
});

// How long each takes is a figure (bench/pathological-inputs.ts), not an assertion:
// a wall-clock bound fails on a loaded machine. A hang fails on the timeout.
test('pathological inputs end in a result or a located error', { timeout: 120_000 }, () => {
  const inputs = [
    '('.repeat(100_000),
    ')'.repeat(100_000),
    '"'.repeat(100_001),
    "'''".repeat(33_333),
    '\\\n'.repeat(50_000),
    '#'.repeat(100_000),
    '\n'.repeat(100_000),
    ' '.repeat(100_000) + 'x',
    'files(x=' + '"a" + '.repeat(20_000) + '"b")',
    'files(x=' + '[1] + '.repeat(20_000) + '[2])',
    'files(x=[' + '1,'.repeat(100_000) + '])',
    'files(' + Array.from({ length: 20_000 }, (_, i) => `a${i}=1`).join(',') + ')',
    'files(x={' + Array.from({ length: 20_000 }, (_, i) => `"k${i}": 1`).join(',') + '})',
    'files()\n'.repeat(20_000),
    '-'.repeat(100_000),
    'files(x=' + '-'.repeat(100_000) + '1)',
    '\uFEFF\uFEFF\uFEFF',
  ];
  for (const text of inputs) checkOutcome('BUILD', text);
});
