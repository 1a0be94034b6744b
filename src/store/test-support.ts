// Helpers shared by the store's tests; not exported from index.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createLocalStore, type LocalStore } from './local-store.js';

export async function makeTempDir(prefix = 'trews-store-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Runs `fn` with a local store in a fresh temp dir, closed and removed after. */
export async function withStore(fn: (store: LocalStore) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir });
  try {
    await fn(store);
  } finally {
    await store.close();
    await removeDir(dir);
  }
}

export async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Content that differs from chunk to chunk, for blobs of any size. */
export function bytesOf(size: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
