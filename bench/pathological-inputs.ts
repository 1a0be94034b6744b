// How long the inputs built to be slow take (not a test; prints figures). The
// tests check that these inputs end well; how fast is measured here, because a
// wall-clock bound in a test fails on a loaded machine.
// Run after a build:  node dist/bench/pathological-inputs.js [runs]
//
// - the Nailgun chunk decoder fed one byte at a time, for growing payloads:
//   linear if the time per byte stays flat as the size doubles;
// - the BUILD parser on degenerate files (deep nesting, long chains, huge
//   lists, unterminated strings): the slowest of these, each a median.
import { ChunkDecoder, ChunkType, encodeChunk } from '../src/daemon/protocol/index.js';
import { parseBuildFile } from '../src/build-files/index.js';
import { median } from './peers/bench-runner.js';


function time(runs: number, f: () => void): number {
  f(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    out.push(performance.now() - t0);
  }
  return median(out);
}

function decodeByteByByte(size: number): void {
  const frame = encodeChunk(ChunkType.Stdout, Buffer.alloc(size, 0x62));
  const decoder = new ChunkDecoder();
  let got = 0;
  for (let i = 0; i < frame.byteLength; i++) {
    const r = decoder.push(frame.subarray(i, i + 1));
    for (const c of r.chunks) got += c.payload.byteLength;
  }
  if (got !== size) throw new Error(`decoded ${got} of ${size} bytes`);
}

const SYMBOLS = new Set(['files', 'target']);

/** The same kinds of input as the fuzz test's pathological ones (src/build-files/fuzz.test.ts). */
const BUILD_INPUTS: Record<string, string> = {
  'open parens': '('.repeat(100_000),
  'close parens': ')'.repeat(100_000),
  'quotes': '"'.repeat(100_001),
  'triple quotes': "'''".repeat(33_333),
  'line continuations': '\\\n'.repeat(50_000),
  'comment': '#'.repeat(100_000),
  'newlines': '\n'.repeat(100_000),
  'string + chain': 'files(x=' + '"a" + '.repeat(20_000) + '"b")',
  'list + chain': 'files(x=' + '[1] + '.repeat(20_000) + '[2])',
  'long list': 'files(x=[' + '1,'.repeat(100_000) + '])',
  'many keywords': 'files(' + Array.from({ length: 20_000 }, (_, i) => `a${i}=1`).join(',') + ')',
  'big dict': 'files(x={' + Array.from({ length: 20_000 }, (_, i) => `"k${i}": 1`).join(',') + '})',
  'many calls': 'files()\n'.repeat(20_000),
  'unary minus chain': 'files(x=' + '-'.repeat(100_000) + '1)',
};

function main(): void {
  const runs = Number(process.argv[2] ?? 5);
  console.log(`Nailgun decoder, payload fed one byte at a time (median of ${runs}):`);
  for (const size of [100_000, 200_000, 400_000, 800_000]) {
    const ms = time(runs, () => decodeByteByByte(size));
    console.log(`  ${String(size).padStart(7)} bytes  ${ms.toFixed(1).padStart(8)} ms  ${((ms * 1e6) / size).toFixed(0).padStart(6)} ns/byte`);
  }
  console.log(`BUILD parser on degenerate files (median of ${runs}):`);
  for (const [name, text] of Object.entries(BUILD_INPUTS)) {
    const ms = time(runs, () => void parseBuildFile('BUILD', text, SYMBOLS));
    console.log(`  ${name.padEnd(20)} ${String(text.length).padStart(8)} chars  ${ms.toFixed(1).padStart(8)} ms`);
  }
}

main();
