// Generates a deterministic monorepo of BUILD files for benchmarks:
//   node dist/bench/generate-repo.js --out /tmp/repo --dirs 2000 --targets-per-dir 5 --deps 3
// Directory i holds `targets-per-dir` targets: one `files` generator over two
// text files and plain `target`s, each depending on `deps` targets in
// lower-numbered directories (so the graph is acyclic). Same flags, same repo.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from './bench-args.js';

export interface RepoShape {
  readonly dirs: number;
  readonly targetsPerDir: number;
  readonly deps: number;
}

/** A small seeded PRNG (mulberry32): the same seed always gives the same repo. */
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

export function dirOf(i: number): string {
  return `libs/group${Math.floor(i / 100)}/pkg${i}`;
}

export function buildFileText(i: number, shape: RepoShape, rand: () => number): string {
  const out: string[] = [];
  out.push(`files(\n    name="data",\n    sources=["*.txt"],\n    tags=["data", "group${Math.floor(i / 100)}"],\n)\n`);
  for (let j = 1; j < shape.targetsPerDir; j++) {
    const deps: string[] = [`":data"`];
    for (let d = 0; d < shape.deps && i > 0; d++) {
      const other = Math.floor(rand() * i);
      const t = 1 + Math.floor(rand() * Math.max(1, shape.targetsPerDir - 1));
      deps.push(`"//${dirOf(other)}:${t < shape.targetsPerDir ? `t${t}` : 'data'}"`);
    }
    out.push(`target(\n    name="t${j}",\n    description="target ${j} of package ${i}",\n    dependencies=[${[...new Set(deps)].join(', ')}],\n)\n`);
  }
  return out.join('\n');
}

export function generateRepo(out: string, shape: RepoShape): { buildFiles: number; declaredTargets: number } {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'trews.toml'), '[GLOBAL]\n');
  const rand = prng(42);
  for (let i = 0; i < shape.dirs; i++) {
    const dir = join(out, dirOf(i));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'BUILD'), buildFileText(i, shape, rand));
    writeFileSync(join(dir, 'a.txt'), `a ${i}\n`);
    writeFileSync(join(dir, 'b.txt'), `b ${i}\n`);
  }
  return { buildFiles: shape.dirs, declaredTargets: shape.dirs * shape.targetsPerDir };
}

function main(): void {
  const { values } = benchArgs(import.meta.url, {
    options: {
      out: { type: 'string' },
      dirs: { type: 'string', default: '2000' },
      'targets-per-dir': { type: 'string', default: '5' },
      deps: { type: 'string', default: '3' },
    },
  });
  if (!values.out) {
    console.error('usage: generate-repo --out DIR [--dirs N] [--targets-per-dir K] [--deps D]');
    process.exit(2);
  }
  const shape = { dirs: Number(values.dirs), targetsPerDir: Number(values['targets-per-dir']), deps: Number(values.deps) };
  const r = generateRepo(values.out, shape);
  console.log(`generated ${r.buildFiles} BUILD files, ${r.declaredTargets} declared targets (+${shape.dirs * 2} generated) in ${values.out}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
