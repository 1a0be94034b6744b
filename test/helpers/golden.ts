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
 * with the lines under it), and of the results that share one failure,
 * the first in that order is the one that tells it (whichever reached it
 * first in the run did), the others "(the same error as <first>, above)".
 */
export function stableResults(stderr: string): string {
  // The results end at the recap (after a blank line) or, with no failures, at the summary line.
  const ends = [stderr.indexOf('\n\n'), stderr.search(/\n[A-Z][a-z]+: [^\n]* · Processes: /)].filter((i) => i >= 0);
  const cut = ends.length === 0 ? -1 : Math.min(...ends);
  const head = cut < 0 ? stderr : stderr.slice(0, cut + 1);
  const entries: Array<{ headline: string; block: string[] }> = [];
  for (const line of head.split('\n').filter((l) => l !== '')) {
    if (/^[✓✕] /.test(line) || entries.length === 0) entries.push({ headline: line, block: [] });
    else entries[entries.length - 1]!.block.push(line);
  }
  const SAME = / \(the same error as (\S+), above\)$/;
  const key = (headline: string): string => /^[✓✕] (\S+)/.exec(headline)?.[1] ?? headline;
  const compare = (a: string, b: string): number => key(a).localeCompare(key(b), 'en', { numeric: true });
  // Each failure told once, by the first of its group in address order.
  const teller = new Map<string, string>();
  for (const e of entries) {
    const m = SAME.exec(e.headline);
    if (m === null) continue;
    const first = entries.find((x) => key(x.headline) === m[1]);
    const mine = e.headline.replace(SAME, '');
    if (first === undefined || compare(mine, first.headline) >= 0) continue;
    const best = teller.get(m[1]!);
    if (best === undefined || compare(mine, best) < 0) teller.set(m[1]!, mine);
  }
  for (const [original, best] of teller) {
    const told = entries.find((x) => key(x.headline) === original)!;
    const other = entries.find((x) => x.headline.replace(SAME, '') === best)!;
    other.headline = best;
    other.block = told.block;
    told.block = [];
    told.headline = `${told.headline} (the same error as ${key(best)}, above)`;
    for (const x of entries) x.headline = x.headline.replace(` (the same error as ${original}, above)`, ` (the same error as ${key(best)}, above)`);
  }
  entries.sort((a, b) => compare(a.headline, b.headline));
  const sorted = entries
    .map((e) => [e.headline, ...e.block].join('\n'))
    .join('\n')
    .replace(/\(the same error as \S+, above\)/g, '(the same error as <first>, above)');
  return `${sorted}\n${cut < 0 ? '' : stderr.slice(cut + 1)}`;
}
