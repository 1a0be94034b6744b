import type { GraphJson } from './graph-json.js';
import type { TimelineJson } from './timeline.js';

/**
 * Text that can sit inside a `<script>` element: `<` is written as `\u003c`
 * (the same string to JSON and to JavaScript), so a target named after a file
 * like `x<!--<script>.txt` cannot end the element or open a comment in it.
 */
function scriptSafe(text: string): string {
  return text.replace(/</g, '\\u003c');
}

/**
 * One self-contained HTML file: the graph's JSON and the bundled page script
 * inlined, no other request made (no CDN, works from file:// and offline).
 * `script` is dist/graph-page.js, which the build checks holds neither
 * `</script` nor `<!--` (scripts/bundle.mjs); checked again here, since either
 * would end or unbalance the element.
 */
export function renderGraphPage(data: GraphJson, script: string): string {
  return inlinePage(`${data.title} — trews graph`, 'trews-graph-data', data, script);
}

/** The timeline page of `trews graph --runs`: the same inlining, its own script (dist/timeline-page.js). */
export function renderTimelinePage(data: TimelineJson, script: string): string {
  return inlinePage(`${data.title} — run ${data.run.id} — trews graph --runs`, 'trews-timeline-data', data, script);
}

function inlinePage(titleText: string, dataId: string, data: unknown, script: string): string {
  if (/<\/script|<!--/i.test(script)) throw new Error('the graph page script holds `</script` or `<!--` and cannot be inlined; rebuild it (scripts/bundle.mjs)');
  const title = titleText.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body>
<script type="application/json" id="${dataId}">${scriptSafe(JSON.stringify(data))}</script>
<script>${script}</script>
</body>
</html>
`;
}
