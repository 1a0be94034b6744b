import type cytoscapeFactory from 'cytoscape';
import type { Core, ElementDefinition, EventObject, StylesheetJson } from 'cytoscape';
import type { EdgeKind, GraphJson } from '../graph-json.js';
import { adjacency, between, chooseBaseDepth, clusterOf, colourOf, reach } from '../model.js';
import { buildControls, el, type Controls } from './dom.js';
import { layoutUnits, type LayoutUnit } from './layout.js';

/** Above this many targets the page opens with directories collapsed into clusters. */
const DRAW_LIMIT = 800;
/** The side panel lists at most this many dependencies or dependents. */
const LIST_LIMIT = 300;

type Unit = { readonly id: string; readonly kind: 'node'; readonly node: number } | { readonly id: string; readonly kind: 'cluster'; readonly dir: string; readonly members: number[] };

export interface GraphView {
  readonly cy: Core;
  /** Selects a target (expanding the clusters that hide it), as a click on it does. */
  select(address: string): void;
  /** Shows only the paths between two targets; false when no path leads from one to the other. */
  focus(from: string, to: string): boolean;
}

const STYLE: StylesheetJson = [
  { selector: 'node', style: { label: 'data(label)', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'center', color: '#fff', 'text-outline-width': 1, 'text-outline-color': 'data(colour)', 'background-color': 'data(colour)', shape: 'round-rectangle', width: 'data(w)', height: 22 } },
  { selector: 'node.cluster', style: { 'border-width': 3, 'border-color': '#555', 'border-style': 'double', height: 28 } },
  { selector: ':parent', style: { 'background-color': '#f3f3f3', 'background-opacity': 1, 'border-color': '#bbb', 'border-width': 1, label: 'data(label)', 'text-valign': 'top', 'text-halign': 'center', color: '#555', 'text-outline-width': 0, shape: 'round-rectangle' } },
  { selector: 'edge', style: { width: 1.2, 'line-color': '#999', 'target-arrow-color': '#999', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.7, 'curve-style': 'straight' } },
  { selector: 'edge.inferred', style: { 'line-style': 'dashed' } },
  { selector: 'edge.generated', style: { 'line-style': 'dotted' } },
  { selector: '.faded', style: { opacity: 0.15 } },
  { selector: 'node.selected', style: { 'border-width': 4, 'border-color': '#000' } },
  { selector: 'node.dependency', style: { 'border-width': 3, 'border-color': '#e6550d' } },
  { selector: 'node.dependent', style: { 'border-width': 3, 'border-color': '#3182bd' } },
  { selector: 'edge.dependency', style: { 'line-color': '#e6550d', 'target-arrow-color': '#e6550d', width: 2.5 } },
  { selector: 'edge.dependent', style: { 'line-color': '#3182bd', 'target-arrow-color': '#3182bd', width: 2.5 } },
];

function nameOf(address: string): string {
  return address.startsWith('//:') ? address.slice(2) : address.slice(address.lastIndexOf('/') + 1);
}

export function createView(doc: Document, data: GraphJson, cytoscape: typeof cytoscapeFactory): GraphView {
  const adj = adjacency(data);
  const nodes = data.nodes;
  const ui: Controls = buildControls(doc, nodes.map((n) => n.address));
  const baseDepth = chooseBaseDepth(nodes.map((n) => n.dir), DRAW_LIMIT);
  const expanded = new Set<string>();
  let focusSet: Set<number> | null = null;
  let selected: number | null = null;
  let units = new Map<string, Unit>();
  /** The unit each drawn target is in. */
  let unitOfNode = new Map<number, string>();
  const colours = { type: colourOf(nodes.map((n) => n.type)), package: colourOf(nodes.map((n) => n.package)) };

  const cy = cytoscape({ container: ui.cy, style: STYLE, wheelSensitivity: 0.3, minZoom: 0.02, maxZoom: 4, textureOnViewport: true, hideEdgesOnViewport: nodes.length > 2000 });

  const colourOfNode = (i: number): string => (ui.colourBy.value === 'package' ? colours.package.get(nodes[i]!.package) : colours.type.get(nodes[i]!.type)) ?? '#777';
  const clusterColour = (u: Extract<Unit, { kind: 'cluster' }>): string => {
    const counts = new Map<string, number>();
    for (const m of u.members) counts.set(colourOfNode(m), (counts.get(colourOfNode(m)) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '#777';
  };

  function unitIdOf(i: number): string {
    if (focusSet !== null || baseDepth === 0) return `n${i}`;
    const c = clusterOf(nodes[i]!.dir, baseDepth, expanded);
    return c === null ? `n${i}` : `c:${c}`;
  }

  /** Recomputes what is drawn and lays it out: on start and when the user changes what is drawn, never per frame. */
  function draw(): void {
    const began = performance.now();
    units = new Map();
    unitOfNode = new Map();
    const shown = focusSet ?? nodes.map((_, i) => i);
    for (const i of shown) {
      const id = unitIdOf(i);
      unitOfNode.set(i, id);
      if (id.startsWith('n')) units.set(id, { id, kind: 'node', node: i });
      else {
        const u = units.get(id);
        if (u?.kind === 'cluster') u.members.push(i);
        else units.set(id, { id, kind: 'cluster', dir: id.slice(2), members: [i] });
      }
    }
    const edges = new Map<string, { source: string; target: string; kinds: Set<EdgeKind>; count: number }>();
    for (const e of data.edges) {
      const s = unitOfNode.get(e.from);
      const t = unitOfNode.get(e.to);
      if (s === undefined || t === undefined || s === t) continue;
      const key = `${s}>${t}`;
      const agg = edges.get(key) ?? { source: s, target: t, kinds: new Set(), count: 0 };
      agg.kinds.add(e.kind);
      agg.count++;
      edges.set(key, agg);
    }
    const group = ui.group.checked;
    const parents = new Set<string>();
    const layoutIn: LayoutUnit[] = [];
    for (const u of units.values()) {
      const label = u.kind === 'node' ? nameOf(nodes[u.node]!.address) : `${u.dir}/ (${u.members.length})`;
      const parent = group && u.kind === 'node' ? `d:${nodes[u.node]!.dir}` : undefined;
      if (parent !== undefined) parents.add(parent);
      layoutIn.push({ id: u.id, label, ...(parent !== undefined ? { parent } : {}) });
    }
    const laying = performance.now();
    const positions = layoutUnits(layoutIn, [...edges.values()], [...parents]);
    const laid = performance.now();
    const els: ElementDefinition[] = [];
    for (const p of parents) els.push({ group: 'nodes', data: { id: p, label: p.slice(2) || '//', colour: '#f3f3f3', w: 10 } });
    for (const l of layoutIn) {
      const u = units.get(l.id)!;
      const colour = u.kind === 'node' ? colourOfNode(u.node) : clusterColour(u);
      els.push({
        group: 'nodes',
        data: { id: l.id, label: l.label, colour, w: Math.min(360, 14 + l.label.length * 6.5), ...(l.parent !== undefined ? { parent: l.parent } : {}) },
        position: positions.get(l.id) ?? { x: 0, y: 0 },
        classes: u.kind === 'cluster' ? 'cluster' : '',
      });
    }
    for (const [key, e] of edges) {
      const kind: EdgeKind = e.kinds.has('explicit') ? 'explicit' : e.kinds.has('generated') ? 'generated' : 'inferred';
      els.push({ group: 'edges', data: { id: `e:${key}`, source: e.source, target: e.target, count: e.count }, classes: kind });
    }
    cy.batch(() => {
      cy.elements().remove();
      cy.add(els);
    });
    cy.fit(undefined, 20);
    const drawnTargets = [...units.values()].filter((u) => u.kind === 'node').length;
    ui.status.textContent = `${nodes.length} targets, ${data.edges.length} dependencies · drawn: ${drawnTargets} targets, ${units.size - drawnTargets} clusters`;
    ui.status.dataset.targets = String(nodes.length);
    ui.status.dataset.drawnTargets = String(drawnTargets);
    ui.status.dataset.drawnClusters = String(units.size - drawnTargets);
    ui.status.dataset.drawnEdges = String(edges.size);
    legend();
    highlight();
    // How long drawing took (the layout apart) and when the page first stood drawn: for bench/graph-page-bench.ts.
    ui.status.dataset.drawMs = (performance.now() - began).toFixed(0);
    ui.status.dataset.layoutMs = (laid - laying).toFixed(0);
    ui.status.dataset.drawnAt ??= performance.now().toFixed(0);
  }

  function depth(): number | null {
    const d = Number.parseInt(ui.depth.value, 10);
    return Number.isFinite(d) && d > 0 ? d : null;
  }

  function highlight(): void {
    cy.batch(() => {
      cy.elements().removeClass('faded selected dependency dependent');
      if (selected === null) return;
      const d = depth();
      const down = reach(adj.out, selected, d);
      const up = reach(adj.in, selected, d);
      const mark = (set: Map<number, number>, cls: string): Set<string> => {
        const ids = new Set<string>();
        for (const i of set.keys()) {
          const id = unitOfNode.get(i);
          if (id !== undefined) ids.add(id);
        }
        for (const id of ids) cy.getElementById(id).addClass(cls);
        return ids;
      };
      const self = unitOfNode.get(selected);
      const downIds = mark(down, 'dependency');
      const upIds = mark(up, 'dependent');
      if (self !== undefined) {
        cy.getElementById(self).addClass('selected');
        downIds.add(self);
        upIds.add(self);
      }
      cy.edges().forEach((e) => {
        if (downIds.has(e.source().id()) && downIds.has(e.target().id())) e.addClass('dependency');
        else if (upIds.has(e.source().id()) && upIds.has(e.target().id())) e.addClass('dependent');
      });
      cy.nodes()
        .filter((n) => !n.isParent() && !n.hasClass('selected') && !n.hasClass('dependency') && !n.hasClass('dependent'))
        .addClass('faded');
      cy.edges()
        .filter((e) => !e.hasClass('dependency') && !e.hasClass('dependent'))
        .addClass('faded');
    });
    details();
  }

  function listOf(id: string, title: string, set: Map<number, number>): HTMLElement {
    const box = el(doc, 'div');
    box.append(el(doc, 'h3', {}, `${title} (${set.size})`));
    const ul = el(doc, 'ul', { id });
    const sorted = [...set.entries()].sort((a, b) => a[1] - b[1] || (nodes[a[0]]!.address < nodes[b[0]]!.address ? -1 : 1));
    for (const [i, dist] of sorted.slice(0, LIST_LIMIT)) {
      const li = el(doc, 'li', { 'data-address': nodes[i]!.address, 'data-distance': String(dist) }, nodes[i]!.address);
      li.addEventListener('click', () => select(i, true));
      ul.append(li);
    }
    box.append(ul);
    if (sorted.length > LIST_LIMIT) box.append(el(doc, 'div', {}, `and ${sorted.length - LIST_LIMIT} more`));
    return box;
  }

  function details(): void {
    ui.side.replaceChildren();
    if (selected === null) {
      ui.side.append(el(doc, 'p', {}, 'Click a target to see what it depends on (orange) and what depends on it (blue). Click a cluster to open its directory.'));
      ui.side.append(legendBox());
      return;
    }
    const n = nodes[selected]!;
    const d = depth();
    ui.side.append(el(doc, 'h2', { id: 'selected' }, n.address));
    ui.side.append(el(doc, 'div', {}, `type ${n.type} · package ${n.package || '//'} · declared in ${n.declaredIn}`));
    if (n.generatedFrom !== undefined) ui.side.append(el(doc, 'div', {}, `generated by ${n.generatedFrom}`));
    ui.side.append(listOf('dependencies', d === null ? 'depends on' : `depends on (≤ ${d} steps)`, reach(adj.out, selected, d)));
    ui.side.append(listOf('dependents', d === null ? 'depended on by' : `depended on by (≤ ${d} steps)`, reach(adj.in, selected, d)));
    ui.side.append(legendBox());
  }

  function legendBox(): HTMLElement {
    const box = el(doc, 'div', { id: 'legend' });
    box.append(el(doc, 'h3', {}, `colours: ${ui.colourBy.value}`));
    const map = ui.colourBy.value === 'package' ? colours.package : colours.type;
    for (const [name, colour] of map) {
      const row = el(doc, 'div');
      row.append(el(doc, 'span', { style: `background:${colour}` }), doc.createTextNode(name || '//'));
      box.append(row);
    }
    box.append(el(doc, 'h3', {}, 'edges'), el(doc, 'div', {}, 'solid: declared in BUILD · dashed: inferred · dotted: generated'));
    return box;
  }

  function legend(): void {
    if (selected === null) details();
  }

  /** Expands the clusters that hide a target, so it is drawn as itself. */
  function reveal(i: number): void {
    if (unitIdOf(i) === `n${i}`) return;
    const segs = nodes[i]!.dir.split('/');
    for (let d = baseDepth; d <= segs.length; d++) expanded.add(segs.slice(0, d).join('/'));
    draw();
  }

  function select(i: number | null, center = false): void {
    if (i !== null) {
      if (focusSet !== null && !focusSet.has(i)) {
        focusSet = null;
        draw();
      }
      reveal(i);
    }
    selected = i;
    highlight();
    if (i !== null) {
      const e = cy.getElementById(unitOfNode.get(i) ?? '');
      if (center && e.nonempty()) cy.center(e);
    }
  }

  cy.on('tap', 'node', (ev: EventObject) => {
    const id = ev.target.id() as string;
    const u = units.get(id);
    if (u === undefined) return;
    if (u.kind === 'cluster') {
      expanded.add(u.dir);
      draw();
    } else select(u.node);
  });
  cy.on('tap', (ev: EventObject) => {
    if (ev.target === cy) select(null);
  });

  function matches(q: string): number[] {
    const needle = q.trim().toLowerCase();
    if (needle === '') return [];
    const exact = adj.index.get(needle.startsWith('//') && !needle.startsWith('//:') ? needle.slice(2) : needle);
    const out = exact !== undefined ? [exact] : [];
    for (let i = 0; i < nodes.length && out.length < 50; i++) if (i !== exact && nodes[i]!.address.toLowerCase().includes(needle)) out.push(i);
    return out;
  }
  ui.search.addEventListener('input', () => {
    ui.results.replaceChildren(
      ...matches(ui.search.value).map((i) => {
        const li = el(doc, 'li', { 'data-address': nodes[i]!.address }, nodes[i]!.address);
        li.addEventListener('click', () => {
          ui.results.replaceChildren();
          select(i, true);
        });
        return li;
      }),
    );
  });
  ui.search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      const first = matches(ui.search.value)[0];
      ui.results.replaceChildren();
      if (first !== undefined) select(first, true);
    } else if (ev.key === 'Escape') ui.results.replaceChildren();
  });
  ui.colourBy.addEventListener('change', () => {
    cy.batch(() => {
      for (const u of units.values()) cy.getElementById(u.id).data('colour', u.kind === 'node' ? colourOfNode(u.node) : clusterColour(u));
    });
    details();
  });
  ui.depth.addEventListener('input', () => highlight());
  ui.group.addEventListener('change', () => draw());

  function focus(from: string, to: string): boolean {
    const a = adj.index.get(from.trim());
    const b = adj.index.get(to.trim());
    ui.message.textContent = '';
    if (a === undefined || b === undefined) {
      ui.message.textContent = `not a target: ${a === undefined ? from : to}`;
      return false;
    }
    const on = between(adj, a, b);
    if (on.size === 0) {
      ui.message.textContent = `no dependency path leads from ${from} to ${to}`;
      return false;
    }
    ui.from.value = from;
    ui.to.value = to;
    focusSet = on;
    selected = null;
    draw();
    return true;
  }
  ui.focus.addEventListener('click', () => void focus(ui.from.value, ui.to.value));
  ui.clearFocus.addEventListener('click', () => {
    focusSet = null;
    ui.message.textContent = '';
    draw();
  });

  doc.title = `${data.title} — trews graph`;
  if (data.focus === null || !focus(data.focus.from, data.focus.to)) draw();
  return {
    cy,
    select(address: string) {
      const i = adj.index.get(address);
      if (i === undefined) throw new Error(`not a target: ${address}`);
      select(i);
    },
    focus,
  };
}
