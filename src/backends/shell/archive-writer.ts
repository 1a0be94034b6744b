import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createDeflateRaw, createGzip } from 'node:zlib';
import { abortError, failure, FailureError, type Digest } from '../../core/index.js';
import type { LocalStore, TreeEntry } from '../../store/index.js';

/**
 * Writes tar, tar.gz and zip archives from trees in the store, streaming
 * every blob (never a whole file in memory), and reproducibly: entries in
 * path order with their parent directories, timestamps fixed (tar: the
 * epoch; zip: 1980-01-01, its earliest), owner 0, modes 0644/0755 from the
 * executable bit. The same tree always gives the same bytes, so an archive
 * is as cacheable as what is in it.
 */
export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export const ARCHIVE_EXTENSIONS: Readonly<Record<ArchiveFormat, string>> = { tar: 'tar', 'tar.gz': 'tar.gz', zip: 'zip' };

/** Sequential writes with back-pressure. */
class Sink {
  readonly #out: Writable;
  offset = 0;
  constructor(out: Writable) {
    this.#out = out;
  }
  async write(b: Uint8Array): Promise<void> {
    this.offset += b.byteLength;
    if (!this.#out.write(b)) await once(this.#out, 'drain');
  }
}

interface Item {
  readonly path: string;
  readonly kind: 'dir' | 'file' | 'symlink';
  readonly executable: boolean;
  readonly digest?: Digest;
  readonly target?: string;
}

/** Files and symlinks with every directory above them, in path order (a directory before what it holds). */
function itemsOf(entries: readonly TreeEntry[]): Item[] {
  const dirs = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const items: Item[] = [...dirs].map((d) => ({ path: d, kind: 'dir', executable: true }));
  for (const e of entries) {
    if (e.kind === 'file') items.push({ path: e.path, kind: 'file', executable: e.isExecutable, digest: e.digest });
    else items.push({ path: e.path, kind: 'symlink', executable: false, target: e.target });
  }
  // Byte order of the names with a directory sorting as `dir/`, so its contents follow it.
  const key = (i: Item): string => (i.kind === 'dir' ? `${i.path}/` : i.path);
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function* blobChunks(store: LocalStore, d: Digest, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (d.sizeBytes === 0) return;
  const stream = await store.get(d, signal);
  if (stream === undefined) {
    throw new FailureError(failure('environment', 'missing-blob', `a file of the archive (${d.hash}) is no longer in the local store`, { hints: ['run the command again'] }));
  }
  for await (const chunk of stream) yield chunk as Buffer;
}

// ---- tar (POSIX ustar, with pax headers for long names) ----

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return Buffer.from(`${len}${body}`);
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes), or undefined when it cannot be. */
function ustarName(path: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  return undefined;
}

function tarHeader(path: string, type: string, mode: number, size: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  const split = ustarName(path) ?? { prefix: '', name: path };
  h.write(split.name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(split.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

async function pad(sink: Sink, size: number): Promise<void> {
  const rest = size % BLOCK;
  if (rest !== 0) await sink.write(Buffer.alloc(BLOCK - rest));
}

async function writeTar(store: LocalStore, items: readonly Item[], sink: Sink, signal?: AbortSignal): Promise<void> {
  const MAX_SIZE = 8 ** 11 - 1;
  for (const it of items) {
    if (signal?.aborted) throw abortError();
    const path = it.kind === 'dir' ? `${it.path}/` : it.path;
    const link = it.target ?? '';
    const size = it.kind === 'file' ? it.digest!.sizeBytes : 0;
    if (size > MAX_SIZE) throw new FailureError(failure('input', 'archive-too-large', `\`${it.path}\` is too large for a tar archive (over 8 GiB)`));
    const pax: Buffer[] = [];
    if (ustarName(path) === undefined) pax.push(paxRecord('path', path));
    if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      await sink.write(tarHeader(`PaxHeaders/${it.path.split('/').pop()!.slice(0, 80)}`, 'x', 0o644, body.byteLength, ''));
      await sink.write(body);
      await pad(sink, body.byteLength);
    }
    const mode = it.kind === 'symlink' ? 0o777 : it.executable ? 0o755 : 0o644;
    const type = it.kind === 'dir' ? '5' : it.kind === 'symlink' ? '2' : '0';
    await sink.write(tarHeader(path, type, mode, size, Buffer.byteLength(link) > 100 ? '' : link));
    if (it.kind === 'file') {
      for await (const chunk of blobChunks(store, it.digest!, signal)) await sink.write(chunk);
      await pad(sink, size);
    }
  }
  await sink.write(Buffer.alloc(BLOCK * 2));
}

// ---- zip (stored directories, deflated files, data descriptors; no zip64) ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(crc: number, b: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** MS-DOS date of 1980-01-01 00:00, zip's epoch. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const UTF8_AND_DESCRIPTOR = 0x0808;
const ZIP_LIMIT = 0xffffffff;

interface Central {
  readonly name: Buffer;
  readonly method: number;
  readonly crc: number;
  readonly compressed: number;
  readonly size: number;
  readonly attrs: number;
  readonly offset: number;
}

async function writeZip(store: LocalStore, items: readonly Item[], sink: Sink, signal?: AbortSignal): Promise<void> {
  const central: Central[] = [];
  if (items.length > 0xffff) throw new FailureError(failure('input', 'archive-too-large', `a zip archive holds at most 65535 entries; this one would hold ${items.length}`, { hints: ['use format="tar" or "tar.gz"'] }));
  for (const it of items) {
    if (signal?.aborted) throw abortError();
    const name = Buffer.from(it.kind === 'dir' ? `${it.path}/` : it.path, 'utf8');
    const offset = sink.offset;
    const method = it.kind === 'file' ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(UTF8_AND_DESCRIPTOR, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt16LE(name.byteLength, 26);
    await sink.write(local);
    await sink.write(name);

    let crc = 0;
    let size = 0;
    let compressed = 0;
    if (it.kind === 'file') {
      const deflate = createDeflateRaw();
      const pumped = (async () => {
        for await (const out of deflate) {
          compressed += (out as Buffer).byteLength;
          await sink.write(out as Buffer);
        }
      })();
      for await (const chunk of blobChunks(store, it.digest!, signal)) {
        crc = crc32(crc, chunk);
        size += chunk.byteLength;
        if (!deflate.write(chunk)) await once(deflate, 'drain');
      }
      deflate.end();
      await pumped;
    } else if (it.kind === 'symlink') {
      const target = Buffer.from(it.target!, 'utf8');
      crc = crc32(0, target);
      size = compressed = target.byteLength;
      await sink.write(target);
    }
    if (size > ZIP_LIMIT || compressed > ZIP_LIMIT || sink.offset > ZIP_LIMIT) {
      throw new FailureError(failure('input', 'archive-too-large', `a zip archive is limited to 4 GiB; \`${it.path}\` takes it past that`, { hints: ['use format="tar" or "tar.gz"'] }));
    }
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(size, 12);
    await sink.write(descriptor);
    const unixMode = it.kind === 'dir' ? 0o40755 : it.kind === 'symlink' ? 0o120777 : it.executable ? 0o100755 : 0o100644;
    central.push({ name, method, crc, compressed, size, attrs: ((unixMode << 16) | (it.kind === 'dir' ? 0x10 : 0)) >>> 0, offset });
  }
  const cdStart = sink.offset;
  for (const c of central) {
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE((3 << 8) | 20, 4); // made by: unix, zip 2.0
    h.writeUInt16LE(20, 6);
    h.writeUInt16LE(UTF8_AND_DESCRIPTOR, 8);
    h.writeUInt16LE(c.method, 10);
    h.writeUInt16LE(DOS_TIME, 12);
    h.writeUInt16LE(DOS_DATE, 14);
    h.writeUInt32LE(c.crc, 16);
    h.writeUInt32LE(c.compressed, 20);
    h.writeUInt32LE(c.size, 24);
    h.writeUInt16LE(c.name.byteLength, 28);
    h.writeUInt32LE(c.attrs, 38);
    h.writeUInt32LE(c.offset, 42);
    await sink.write(h);
    await sink.write(c.name);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length, 8);
  end.writeUInt16LE(central.length, 10);
  end.writeUInt32LE(sink.offset - cdStart, 12);
  end.writeUInt32LE(cdStart, 16);
  await sink.write(end);
}

/** Writes the archive of `entries` (paths inside the archive) to `dest`. */
export async function writeArchive(store: LocalStore, entries: readonly TreeEntry[], format: ArchiveFormat, dest: string, signal?: AbortSignal): Promise<void> {
  const file = createWriteStream(dest, { mode: 0o644 });
  const gzip = format === 'tar.gz' ? createGzip() : undefined;
  if (gzip) gzip.pipe(file);
  const sink = new Sink(gzip ?? file);
  const items = itemsOf(entries);
  try {
    if (format === 'zip') await writeZip(store, items, sink, signal);
    else await writeTar(store, items, sink, signal);
    (gzip ?? file).end();
    await finished(file);
  } catch (e) {
    gzip?.destroy();
    file.destroy();
    throw e;
  }
}
