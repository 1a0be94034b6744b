import type { GraphJson } from '../graph-json.js';

/** The graph the goal inlined (`<script type="application/json" id="trews-graph-data">`). */
export function readGraph(doc: Document): GraphJson {
  const el = doc.getElementById('trews-graph-data');
  if (el === null || el.textContent === null) throw new Error('trews graph: the page holds no graph data');
  return JSON.parse(el.textContent) as GraphJson;
}
