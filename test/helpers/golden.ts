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

/**
 * Results print in the order they finish, which parallel processes do not
 * keep: the block before the recap is put in natural order (each result
 * with the lines under it), and "the same error as X" names whichever came
 * first.
 */
export function stableResults(stderr: string): string {
  // The results end at the recap (after a blank line) or, with no failures, at the summary line.
  const ends = [stderr.indexOf('\n\n'), stderr.search(/\n[A-Z][a-z]+: [^\n]* · Processes: /)].filter((i) => i >= 0);
  const cut = ends.length === 0 ? -1 : Math.min(...ends);
  const head = cut < 0 ? stderr : stderr.slice(0, cut + 1);
  const entries: string[] = [];
  for (const line of head.split('\n').filter((l) => l !== '')) {
    if (/^[✓✕] /.test(line) || entries.length === 0) entries.push(line);
    else entries[entries.length - 1] += `\n${line}`;
  }
  const key = (e: string): string => /^[✓✕] (\S+)/.exec(e)?.[1] ?? e;
  entries.sort((a, b) => key(a).localeCompare(key(b), 'en', { numeric: true }));
  const sorted = entries.join('\n').replace(/\(the same error as \S+, above\)/g, '(the same error as <first>, above)');
  return `${sorted}\n${cut < 0 ? '' : stderr.slice(cut + 1)}`;
}
