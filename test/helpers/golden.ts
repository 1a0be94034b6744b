import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './repo.js';

/** Durations differ from run to run (`0.42s`, `4.2s`, `1m03s`): golden files say `<t>`. */
export function normalizeTimes(text: string): string {
  return text.replace(/\b\d+m\d\ds\b/g, '<t>').replace(/\b\d+\.\d+s\b/g, '<t>');
}

/**
 * Compares text with test/golden/<name>.txt, durations normalized
 * (`normalizeTimes`). `UPDATE_GOLDEN=1` rewrites the file instead, for a
 * reviewed change of wording.
 */
export function assertGolden(name: string, text: string): void {
  const actual = normalizeTimes(text);
  const path = join(repoRoot(), 'test', 'golden', `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `golden file ${path} is missing; run the tests with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `output differs from ${path} (UPDATE_GOLDEN=1 rewrites it)`);
}
