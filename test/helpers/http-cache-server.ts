// A small HTTP cache server for tests, speaking what bazel-remote speaks to
// Bazel: GET/HEAD/PUT /ac/<sha256> (binary ActionResults) and /cas/<sha256>
// (blobs, verified against their hash on upload, as bazel-remote does),
// under an optional path prefix, optionally requiring a bearer token. It
// listens on 127.0.0.1 with a random port, in the test's own process, and
// keeps what it is sent in a temp dir.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface HttpCacheServerOptions {
  /** Requests must carry `Authorization: Bearer <token>`; others get 401. */
  readonly token?: string;
  /** The cache lives under this path (`/team`), as behind a reverse proxy. */
  readonly prefix?: string;
  /** Listen on this port (to come back where clients expect it); default a random one. */
  readonly port?: number;
  /** Serve https with this PEM certificate and key. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export interface HttpCacheServer {
  /** `http://127.0.0.1:PORT` (https with `tls`) plus the prefix. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`, without the prefix. */
  readonly origin: string;
  /** `METHOD /path STATUS`, one per request answered. */
  readonly requests: string[];
  /** Replaces a stored blob's bytes (a damaged disk, a buggy cache). */
  corrupt(hash: string, bytes: Buffer): Promise<void>;
  /** Drops a stored blob (an eviction). */
  evict(kind: 'ac' | 'cas', hash: string): Promise<void>;
  has(kind: 'ac' | 'cas', hash: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startHttpCacheServer(o: HttpCacheServerOptions = {}): Promise<HttpCacheServer> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-http-cache-'));
  await mkdir(join(dir, 'ac'));
  await mkdir(join(dir, 'cas'));
  await mkdir(join(dir, 'tmp'));
  const prefix = o.prefix ?? '';
  const requests: string[] = [];
  const file = (kind: string, hash: string): string => join(dir, kind, hash);
  const exists = (p: string): Promise<number | undefined> => stat(p).then((s) => s.size, () => undefined);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('missing or wrong bearer token\n');
      return 401;
    }
    const url = req.url ?? '';
    const m = url.startsWith(prefix) ? /^\/(ac|cas)\/([0-9a-f]{64})$/.exec(url.slice(prefix.length)) : null;
    if (m === null) {
      res.writeHead(404).end();
      return 404;
    }
    const [, kind, hash] = m as unknown as [string, 'ac' | 'cas', string];
    const path = file(kind, hash);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const size = kind === 'cas' && hash === EMPTY_SHA256 ? 0 : await exists(path);
      if (size === undefined) {
        res.writeHead(404).end();
        return 404;
      }
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD' || size === 0) res.end();
      else await pipeline(createReadStream(path), res);
      return 200;
    }
    if (req.method === 'PUT') {
      const tmp = join(dir, 'tmp', randomUUID());
      const h = createHash('sha256');
      let size = 0;
      try {
        await pipeline(
          req,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const c of source) {
              h.update(c);
              size += c.byteLength;
              yield c;
            }
          },
          createWriteStream(tmp),
        );
      } catch {
        // The client went away mid-body: nothing is stored.
        await rm(tmp, { force: true });
        return 499;
      }
      const declared = Number(req.headers['content-length'] ?? -1);
      if (req.readableAborted || (declared >= 0 && declared !== size) || (kind === 'cas' && h.digest('hex') !== hash)) {
        await rm(tmp, { force: true });
        res.writeHead(400, { 'content-type': 'text/plain' }).end('content does not match its hash\n');
        return 400;
      }
      await rename(tmp, path);
      res.writeHead(200).end();
      return 200;
    }
    res.writeHead(405).end();
    return 405;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).then(
      (status) => requests.push(`${req.method} ${req.url} ${status}`),
      (e: unknown) => {
        requests.push(`${req.method} ${req.url} 500`);
        if (!res.headersSent) res.writeHead(500).end(String(e));
        else res.destroy();
      },
    );
  };
  const server = o.tls === undefined ? createServer(onRequest) : createTlsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest);
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${o.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}${prefix}`,
    origin: `${o.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    corrupt: (hash, bytes) => writeFile(file('cas', hash), bytes),
    evict: (kind, hash) => rm(file(kind, hash), { force: true }),
    has: async (kind, hash) => (await exists(file(kind, hash))) !== undefined,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
