import assert from 'node:assert/strict';
import type { GraphJson } from '../../src/graph-page/index.js';

/** The graph a page written by `trews graph --output` inlines. */
export function graphOf(html: string): GraphJson {
  const m = /<script type="application\/json" id="trews-graph-data">(.*?)<\/script>/s.exec(html);
  assert.ok(m, 'the page holds its graph');
  return JSON.parse(m[1]!) as GraphJson;
}
