// Test support (contract suites, fixtures, helpers) is imported by tests
// from its own file; production code never loads it, and no folder's
// index.ts (its public API) exports it. Checked on the sources, since a
// re-export compiles and runs without complaint.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/index.js';

/** A module of test support, by its file name. */
const TEST_SUPPORT = /(^|\/)(test-support|[a-z-]+-contract)\.js$/;

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'gen') sources(p, out);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function imports(text: string): string[] {
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2] ?? '');
}

describe('test support stays out of production code', () => {
  const root = join(repoRoot(), 'src');
  const files = sources(root);
  const isSupport = (f: string): boolean => TEST_SUPPORT.test(relative(root, f).replace(/\.ts$/, '.js'));

  it('finds the test support it guards', () => {
    const names = files.filter(isSupport).map((f) => relative(root, f));
    for (const known of ['exec/command-runner-contract.ts', 'exec/test-support.ts', 'store/blob-store-contract.ts']) assert.ok(names.includes(known), known);
  });

  it('no index.ts exports it, and no production module imports it', () => {
    const offenders: string[] = [];
    for (const f of files.filter((x) => !isSupport(x))) {
      for (const spec of imports(readFileSync(f, 'utf8'))) {
        if (spec.startsWith('.') && TEST_SUPPORT.test(spec)) offenders.push(`${relative(root, f)} → ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
