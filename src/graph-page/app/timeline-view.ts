import type { InputDiff } from '../run-analysis.js';
import { assignLanes, compareRuns, formatMicros, REASON_TEXT, SOURCE_COLOURS, totalsBySource, type TimelineBar, type TimelineJson } from '../timeline.js';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 22;
const LABEL_W = 90;
const AXIS_H = 20;

const CSS = `
html, body { margin: 0; font: 13px system-ui, sans-serif; color: #222; }
header { padding: 8px; border-bottom: 1px solid #ccc; background: #f7f7f7; }
header h1 { font-size: 15px; margin: 0 0 4px; }
header code { background: #eee; padding: 0 3px; }
main { padding: 8px; }
#totals { border-collapse: collapse; margin: 6px 0; }
#totals td, #totals th, #compare td, #compare th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #eee; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
#timeline-box, .timeline-box { overflow-x: auto; border: 1px solid #ddd; }
svg.timeline .bar { stroke: #0003; }
svg.timeline .bar.failed { stroke: #d62728; stroke-width: 2; stroke-dasharray: 3 2; }
svg.timeline .bar.critical { stroke: #000; stroke-width: 2.5; }
svg.timeline .wait { stroke: #0006; stroke-width: 1; fill: none; }
svg.timeline .bar:hover, svg.timeline .bar.hovered { stroke: #000; stroke-width: 2; }
svg.timeline .lane-label { font-size: 11px; fill: #555; }
svg.timeline .tick { font-size: 10px; fill: #777; }
#details { min-height: 5em; margin: 8px 0; padding: 6px; background: #fafafa; border: 1px solid #eee; white-space: pre-wrap; word-break: break-all; font: 12px ui-monospace, monospace; }
#compare { border-collapse: collapse; }
#compare tr[data-reason] { cursor: pointer; }
#compare tr[data-reason]:hover { background: #f0f6ff; }
.reason-unchanged { color: #777; }
.files { margin: 2px 0 0 0; padding-left: 16px; color: #444; }
`;

export interface TimelineView {
  /** What is drawn: one rect per process, and the number of slot lanes. */
  readonly bars: number;
  readonly lanes: number;
  /** Bars on the critical path, first to last. */
  readonly critical: readonly number[];
  /** Shows a bar's details as hovering over it does. */
  hover(index: number): void;
}

function h<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, text?: string, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function s(doc: Document, tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = doc.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

const colour = (source: string): string => SOURCE_COLOURS[source] ?? '#999';

/** The hover text: what ran, where its result came from, its digests and sizes. */
export function barDetails(b: TimelineBar, waited: readonly TimelineBar[] = []): string {
  const lines = [b.description, `${b.source} · ${formatMicros(b.dur)} · started at ${formatMicros(b.start)}`];
  if (b.exitCode !== undefined) lines.push(`exit code ${b.exitCode}`);
  if (b.argv !== undefined) lines.push(`argv: ${b.argv.map((a) => (/^[\w./=:@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`);
  if (b.inputRootDigest !== undefined) lines.push(`inputs: ${b.inputRootDigest}`);
  if (b.actionDigest !== undefined) lines.push(`action: ${b.actionDigest}`);
  if (b.outputBytes !== undefined) lines.push(`outputs: ${Object.entries(b.outputBytes).map(([k, v]) => `${k} ${v} B`).join(', ')}`);
  if (b.error !== undefined) lines.push(`error: ${b.error}`);
  if (waited.length > 0) lines.push(`waited for (consumed the outputs of): ${waited.map((w) => w.description).join('; ')}`);
  return lines.join('\n');
}

interface Lanes {
  readonly svg: SVGElement;
  readonly rects: SVGElement[];
  /** Slot lanes drawn. */
  readonly count: number;
  readonly x: (us: number) => number;
}

const runEnd = (run: Pick<TimelineJson['run'], 'bars' | 'phases'>): number =>
  Math.max(1, ...run.bars.map((b) => b.start + b.dur), ...run.phases.map((p) => p.start + p.dur));

/** One run's lanes as SVG: an engine row for the phases, a memoized row when any, a row per slot; `end` fixes the time scale. */
function drawLanes(
  doc: Document,
  run: TimelineJson['run'],
  o: {
    readonly id: string;
    readonly end: number;
    readonly width: number;
    readonly critical: ReadonlySet<number>;
    readonly waitedOf: (i: number) => TimelineBar[];
    readonly onHover?: (i: number) => void;
  },
): Lanes {
  const { lanes, count } = assignLanes(run.bars);
  const memoRow = run.bars.some((b) => b.source === 'memoized');
  const { end, width } = o;
  const rows = 1 + (memoRow ? 1 : 0) + count;
  const height = AXIS_H + rows * ROW;
  const x = (us: number): number => LABEL_W + (us / end) * (width - LABEL_W - 10);
  const svg = s(doc, 'svg', { id: o.id, class: 'timeline', width, height, viewBox: `0 0 ${width} ${height}` });
  for (let i = 0; i <= 5; i++) {
    const t = (end * i) / 5;
    const tick = s(doc, 'text', { x: x(t), y: 12, class: 'tick', 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' });
    tick.textContent = formatMicros(t);
    svg.append(tick, s(doc, 'line', { x1: x(t), x2: x(t), y1: AXIS_H - 4, y2: height, stroke: '#eee' }));
  }
  const rowY = (row: number): number => AXIS_H + row * ROW;
  const label = (row: number, text: string): void => {
    const t = s(doc, 'text', { x: 4, y: rowY(row) + 15, class: 'lane-label' });
    t.textContent = text;
    svg.append(t);
  };
  label(0, 'engine');
  for (const p of run.phases) {
    const r = s(doc, 'rect', { x: x(p.start), y: rowY(0) + 3, width: Math.max(1, x(p.start + p.dur) - x(p.start)), height: ROW - 6, fill: '#ddd', class: 'phase' });
    const title = s(doc, 'title', {});
    title.textContent = `${p.name}: ${formatMicros(p.dur)}`;
    r.append(title);
    svg.append(r);
  }
  if (memoRow) label(1, 'memoized');
  const firstSlot = memoRow ? 2 : 1;
  for (let l = 0; l < count; l++) label(firstSlot + l, `slot ${l + 1}`);
  const rects: SVGElement[] = [];
  run.bars.forEach((b, i) => {
    const row = lanes[i]! < 0 ? 1 : firstSlot + lanes[i]!;
    const r = s(doc, 'rect', {
      x: x(b.start),
      y: rowY(row) + 2,
      width: Math.max(3, x(b.start + b.dur) - x(b.start)),
      height: ROW - 4,
      rx: 2,
      fill: colour(b.source),
      // A process that exited non-zero (or could not run) is outlined: the colour says where the result came from, not how it ended.
      class: `bar${b.error !== undefined || (b.exitCode !== undefined && b.exitCode !== 0) ? ' failed' : ''}${o.critical.has(i) ? ' critical' : ''}`,
      'data-index': i,
      'data-source': b.source,
    });
    const title = s(doc, 'title', {});
    title.textContent = barDetails(b, o.waitedOf(i));
    r.append(title);
    if (o.onHover !== undefined) r.addEventListener('mouseenter', () => o.onHover!(i));
    rects.push(r);
    svg.append(r);
  });
  return { svg, rects, count, x };
}

/**
 * The other recorded runs, newest first. Served, each is a link to its page
 * (`?run=ID`) and to this run compared with it (`?run=THIS&compare=ID`); in
 * a written file, which holds one run, the command that opens another.
 */
function runSwitcher(doc: Document, data: TimelineJson): HTMLElement {
  const box = h(doc, 'div', undefined, { id: 'runs' });
  const served = doc.location.protocol.startsWith('http');
  if (!served) {
    box.append(`other runs (newest first; open one with trews graph --runs --run=ID): ${data.runs.map((r) => r.id).join(' ')}`);
    return box;
  }
  const current = data.run.id;
  const line = (label: string, href: (id: string) => string | undefined): HTMLElement => {
    const div = h(doc, 'div', `${label}: `);
    for (const r of data.runs) {
      const target = href(r.id);
      const item = target === undefined ? h(doc, 'b', r.id) : h(doc, 'a', r.id, { href: target, title: r.startedAt });
      div.append(item, ' ');
    }
    return div;
  };
  box.append(
    line('runs (newest first)', (id) => (id === current ? undefined : `?run=${encodeURIComponent(id)}`)),
    line(`compare run ${current} with`, (id) => (id === current || id === data.previous?.id ? undefined : `?run=${encodeURIComponent(current)}&compare=${encodeURIComponent(id)}`)),
  );
  return box;
}

/** The files behind an "inputs differ", or why they cannot be named. */
function filesList(doc: Document, diff: InputDiff): HTMLElement {
  const list = h(doc, 'ul', undefined, { class: 'files' });
  if ('unavailable' in diff) {
    list.append(h(doc, 'li', diff.unavailable));
    return list;
  }
  for (const f of diff.files) list.append(h(doc, 'li', `${f.change}: ${f.path}`, { 'data-change': f.change }));
  if (diff.more > 0) list.append(h(doc, 'li', `and ${diff.more} more`));
  if (diff.files.length === 0) list.append(h(doc, 'li', 'the same file paths and contents: they differ in executable bits, symlinks or empty directories'));
  return list;
}

export function createTimeline(doc: Document, data: TimelineJson): TimelineView {
  const style = h(doc, 'style', CSS);
  doc.head.append(style);
  const run = data.run;
  const header = h(doc, 'header');
  header.append(h(doc, 'h1', `${data.title}: run ${run.id}`));
  const about = h(doc, 'div');
  about.append(`started ${run.startedAt} · `, h(doc, 'code', `trews ${run.argv.join(' ')}`), ` · ${run.bars.length} processes`);
  header.append(about);
  if (data.runs.length > 1) header.append(runSwitcher(doc, data));
  const main = h(doc, 'main');
  doc.body.append(header, main);

  // Totals per cache source.
  const totals = h(doc, 'table', undefined, { id: 'totals' });
  const head = h(doc, 'tr');
  head.append(h(doc, 'th', 'source'), h(doc, 'th', 'processes'), h(doc, 'th', 'time'));
  totals.append(head);
  for (const t of totalsBySource(run.bars)) {
    const tr = h(doc, 'tr', undefined, { 'data-source': t.source });
    const name = h(doc, 'td');
    name.append(h(doc, 'span', undefined, { class: 'swatch', style: `background:${colour(t.source)}` }), t.source);
    tr.append(name, h(doc, 'td', String(t.count)), h(doc, 'td', formatMicros(t.time)));
    totals.append(tr);
  }
  main.append(totals);

  // The timeline: an engine row for the phases, a memoized row when any, then one row per slot.
  // With an earlier run, both are drawn to one time scale, so their lengths compare.
  const end = Math.max(runEnd(run), data.previous !== null ? runEnd(data.previous) : 1);
  const width = Math.max(900, (doc.documentElement.clientWidth || 900) - 20);
  const waitedOf = (i: number): TimelineBar[] => (data.waitedFor?.[i] ?? []).flatMap((j) => run.bars[j] ?? []);
  const critical = new Set(data.critical ?? []);
  const details = h(doc, 'div', 'hover over a process for its argv, digests and duration', { id: 'details' });
  let hovered: SVGElement | undefined;
  const show = (i: number): void => {
    hovered?.classList.remove('hovered');
    hovered = rects[i];
    hovered?.classList.add('hovered');
    details.textContent = barDetails(run.bars[i]!, waitedOf(i));
  };
  const drawn = drawLanes(doc, run, { id: 'timeline', end, width, critical, waitedOf, onHover: show });
  const { svg, rects, count, x } = drawn;
  // The critical path: each bar joined to the one it waited for.
  const path = data.critical ?? [];
  const mid = (i: number): number => Number(rects[i]!.getAttribute('y')) + (ROW - 4) / 2;
  for (let k = 1; k < path.length; k++) {
    const a = path[k - 1]!;
    const b = path[k]!;
    const from = run.bars[a]!;
    svg.append(s(doc, 'path', { class: 'wait', d: `M ${x(from.start + from.dur)} ${mid(a)} L ${x(run.bars[b]!.start)} ${mid(b)}` }));
  }
  const box = h(doc, 'div', undefined, { id: 'timeline-box' });
  box.append(svg);
  const criticalLine =
    data.critical === undefined
      ? 'no critical path: this page was made without the store'
      : path.length === 0
        ? 'no critical path: no process took time'
        : `critical path (outlined): ${path.length} process${path.length === 1 ? '' : 'es'}, ${formatMicros(path.reduce((t, i) => t + run.bars[i]!.dur, 0))} of the run's ${formatMicros(runEnd(run))} — ${path.map((i) => run.bars[i]!.description).join(' → ')}`;
  main.append(box, h(doc, 'p', criticalLine, { id: 'critical' }), details);

  // What changed since the earlier run.
  if (data.previous !== null) {
    main.append(h(doc, 'h2', `Against run ${data.previous.id} (${data.previous.startedAt})`));
    // The earlier run's lanes, to the same time scale as this run's above.
    const before = drawLanes(doc, data.previous, { id: 'timeline-previous', end, width, critical: new Set(), waitedOf: () => [] });
    const previousBox = h(doc, 'div', undefined, { class: 'timeline-box' });
    previousBox.append(before.svg);
    main.append(previousBox);
    const changes = compareRuns(data.previous, run);
    const reran = changes.filter((c) => c.reason !== 'unchanged' && c.reason !== 'gone').length;
    main.append(h(doc, 'p', `${reran} re-ran, ${changes.filter((c) => c.reason === 'unchanged').length} from a cache, ${changes.filter((c) => c.reason === 'gone').length} not run this time`));
    const table = h(doc, 'table', undefined, { id: 'compare' });
    const tr0 = h(doc, 'tr');
    tr0.append(h(doc, 'th', 'process'), h(doc, 'th', 'before'), h(doc, 'th', 'now'), h(doc, 'th', 'why'));
    table.append(tr0);
    for (const c of changes) {
      const tr = h(doc, 'tr', undefined, { class: `reason-${c.reason.replace(/ /g, '-')}`, 'data-reason': c.reason });
      const why = h(doc, 'td', c.reason === 'inputs differ' ? `${REASON_TEXT[c.reason]}: ${c.inputRootBefore} → ${c.inputRootNow}` : REASON_TEXT[c.reason]);
      const diff = c.reason === 'inputs differ' ? data.inputDiffs?.[c.description] : undefined;
      if (diff !== undefined) why.append(filesList(doc, diff));
      tr.append(h(doc, 'td', c.description), h(doc, 'td', c.before ?? '—'), h(doc, 'td', c.now ?? '—'), why);
      // A row of this run shows its bar, as hovering the bar does.
      const index = run.bars.findIndex((b) => b.description === c.description);
      if (index >= 0) tr.addEventListener('click', () => show(index));
      table.append(tr);
    }
    main.append(table);
  }

  const status = h(doc, 'div', undefined, { id: 'status', hidden: '' });
  status.dataset['bars'] = String(rects.length);
  status.dataset['lanes'] = String(count);
  status.dataset['run'] = run.id;
  doc.body.append(status);
  status.dataset['critical'] = String(path.length);
  return { bars: rects.length, lanes: count, critical: path, hover: show };
}
