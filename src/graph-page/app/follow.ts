/**
 * A page served by `trews graph` follows the repository: the server stamps
 * the page with its version (`<meta name="trews-graph-version">`) and sends
 * the current version on `/events` when a page connects and on every change;
 * a page holding another version loads the new one. A page opened from a
 * file (`--output`) is a snapshot: it has no stamp and listens to nothing.
 */
export function followServer(doc: Document, onStale: () => void = () => doc.location.reload()): void {
  const held = doc.querySelector('meta[name="trews-graph-version"]')?.getAttribute('content');
  const view = doc.defaultView as (Window & { EventSource?: typeof EventSource }) | null;
  if (held === null || held === undefined || view?.EventSource === undefined) return;
  const events = new view.EventSource('/events');
  events.addEventListener('version', (e: MessageEvent<string>) => {
    if (e.data !== held) {
      events.close();
      onStale();
    }
  });
}
