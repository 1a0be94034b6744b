import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GraphServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the page on 127.0.0.1 at a port the OS picks. Only requests that
 * name this server as their Host are answered: a web page the user visits
 * could otherwise point a DNS name of its own at 127.0.0.1 (DNS rebinding)
 * and read the repository's graph as same-origin.
 */
export async function serveGraph(page: string, json: string): Promise<GraphServer> {
  let allowed = new Set<string>();
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
    const path = (req.url ?? '/').split('?')[0];
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (path === '/') res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(page);
    else if (path === '/graph.json') res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(json);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
