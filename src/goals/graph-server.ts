import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GraphServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** Serves this page from now on and tells every open page (`/events`, server-sent events) to load it. */
  update(page: string, json: string): void;
  close(): Promise<void>;
}

/**
 * Serves the page on 127.0.0.1 at a port the OS picks. Only requests that
 * name this server as their Host are answered: a web page the user visits
 * could otherwise point a DNS name of its own at 127.0.0.1 (DNS rebinding)
 * and read the repository's graph as same-origin.
 */
/** Another page for a query (`/?run=ID`): its HTML, or an error to answer 404 with. */
export type PageRoute = (query: URLSearchParams) => Promise<{ readonly html: string } | { readonly error: string }> | undefined;

export async function serveGraph(page: string, json: string, route?: PageRoute): Promise<GraphServer> {
  let allowed = new Set<string>();
  let version = 1;
  const listeners = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const host = req.headers.host ?? '';
    if (!allowed.has(host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('trews graph answers only requests for 127.0.0.1 or localhost\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const [path, search] = (req.url ?? '/').split('?', 2);
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    const routed = path === '/' && search !== undefined && search !== '' ? route?.(new URLSearchParams(search)) : undefined;
    if (routed !== undefined) {
      routed.then(
        (r) =>
          'html' in r
            ? res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(r.html)
            : res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(`${r.error}\n`),
        (e: unknown) => res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(`${e instanceof Error ? e.message : String(e)}\n`),
      );
    } else if (path === '/') res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(stamped(page, version));
    else if (path === '/graph.json') res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(json);
    else if (path === '/events') {
      // One event per new version of the page; the first tells a page which version it holds.
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', connection: 'keep-alive' });
      res.write(`event: version\ndata: ${version}\n\n`);
      listeners.add(res);
      res.on('close', () => listeners.delete(res));
    }
    else res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  allowed = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return {
    url: `http://127.0.0.1:${port}/`,
    update(nextPage, nextJson) {
      page = nextPage;
      json = nextJson;
      version++;
      for (const res of listeners) res.write(`event: version\ndata: ${version}\n\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The page with the version it is, which its script compares with what `/events` says (src/graph-page/app/follow.ts). */
function stamped(page: string, version: number): string {
  return page.replace('<head>', `<head>\n<meta name="trews-graph-version" content="${version}">`);
}
