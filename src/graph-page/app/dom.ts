/** The page's controls; ids are what the browser test and the stylesheet address. */
export const CSS = `
html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; color: #222; }
#bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 6px 8px; border-bottom: 1px solid #ccc; background: #f7f7f7; }
#bar label { display: inline-flex; gap: 4px; align-items: center; }
#bar input[type=text] { width: 16em; }
#bar input[type=number] { width: 4em; }
#main { display: flex; height: calc(100% - 42px); }
#cy { flex: 1; min-width: 0; }
#side { width: 320px; overflow: auto; border-left: 1px solid #ccc; padding: 8px; box-sizing: border-box; }
#side h2 { font-size: 14px; word-break: break-all; margin: 4px 0; }
#side h3 { font-size: 13px; margin: 10px 0 4px; }
#side ul { margin: 0; padding-left: 16px; }
#side li { word-break: break-all; cursor: pointer; }
#results { position: absolute; top: 38px; left: 8px; background: #fff; border: 1px solid #ccc; max-height: 50vh; overflow: auto; z-index: 10; list-style: none; margin: 0; padding: 0; }
#results:empty { display: none; }
#results li { padding: 2px 6px; cursor: pointer; }
#results li:hover { background: #def; }
#legend span { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
#message { color: #a00; }
`;

export interface Controls {
  readonly search: HTMLInputElement;
  readonly results: HTMLUListElement;
  readonly colourBy: HTMLSelectElement;
  readonly depth: HTMLInputElement;
  readonly group: HTMLInputElement;
  readonly from: HTMLInputElement;
  readonly to: HTMLInputElement;
  readonly focus: HTMLButtonElement;
  readonly clearFocus: HTMLButtonElement;
  readonly status: HTMLElement;
  readonly message: HTMLElement;
  readonly cy: HTMLElement;
  readonly side: HTMLElement;
}

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, props: Partial<Record<string, string>> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  for (const [k, v] of Object.entries(props)) if (v !== undefined) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function labelled(doc: Document, text: string, input: HTMLElement): HTMLLabelElement {
  const l = el(doc, 'label', {}, text);
  l.append(input);
  return l;
}

/** Builds the page's controls (textContent only: addresses are file names, never markup). */
export function buildControls(doc: Document, addresses: readonly string[]): Controls {
  const style = el(doc, 'style', {}, CSS);
  doc.head.append(style);
  const bar = el(doc, 'div', { id: 'bar' });
  const search = el(doc, 'input', { id: 'search', type: 'text', placeholder: 'search an address…', autocomplete: 'off' });
  const results = el(doc, 'ul', { id: 'results' });
  const colourBy = el(doc, 'select', { id: 'colour-by' });
  colourBy.append(el(doc, 'option', { value: 'type' }, 'type'), el(doc, 'option', { value: 'package' }, 'package'));
  const depth = el(doc, 'input', { id: 'depth', type: 'number', min: '1', placeholder: 'all', title: 'how many steps to highlight (empty: all)' });
  const group = el(doc, 'input', { id: 'group', type: 'checkbox' });
  const list = el(doc, 'datalist', { id: 'addresses' });
  // A datalist of 10,000 options is still cheap for the browser, and saves typing addresses.
  for (const a of addresses) list.append(el(doc, 'option', { value: a }));
  const from = el(doc, 'input', { id: 'focus-from', type: 'text', list: 'addresses', placeholder: 'from' });
  const to = el(doc, 'input', { id: 'focus-to', type: 'text', list: 'addresses', placeholder: 'to' });
  const focus = el(doc, 'button', { id: 'focus' }, 'paths');
  const clearFocus = el(doc, 'button', { id: 'clear-focus' }, 'all');
  const status = el(doc, 'span', { id: 'status' });
  const message = el(doc, 'span', { id: 'message', role: 'status' });
  bar.append(
    search,
    results,
    labelled(doc, 'colour by', colourBy),
    labelled(doc, 'depth', depth),
    labelled(doc, 'group by directory', group),
    from,
    to,
    focus,
    clearFocus,
    list,
    status,
    message,
  );
  const main = el(doc, 'div', { id: 'main' });
  const cy = el(doc, 'div', { id: 'cy' });
  const side = el(doc, 'div', { id: 'side' });
  main.append(cy, side);
  doc.body.append(bar, main);
  return { search, results, colourBy, depth, group, from, to, focus, clearFocus, status, message, cy, side };
}

export { el };
