// The behaviour every BlobStore must have, as a reusable node:test suite:
// the local disk store runs it in local-store.test.ts, and the remote
// providers (REAPI through a real `trews remote-server`, an HTTP cache through
// a test server) run the same function. Test support: tests import this file
// directly; store's index.ts does not export it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EMPTY_DIGEST, digestOf, isAbortError, isFailureError, type Digest, type Sha256Hex } from '../core/index.js';
import type { BlobStore } from './blob-store.js';

export interface BlobStoreFixture {
  readonly store: BlobStore;
  /** Releases whatever the fixture holds (temp dirs, servers, connections). */
  dispose(): Promise<void>;
}

export interface BlobStoreContractOptions {
  /** Size of the streamed blob (default 64 MiB + 3: large, and not a multiple of any chunk size). */
  readonly largeBlobBytes?: number;
}

const MiB = 1024 * 1024;

/** Deterministic, incompressible-enough content, generated chunk by chunk so it is never held whole. */
function* largeChunks(total: number): Generator<Buffer> {
  for (let off = 0, i = 0; off < total; off += MiB, i++) {
    const pattern = createHash('sha256').update(`chunk ${i}`).digest();
    yield Buffer.alloc(Math.min(MiB, total - off), pattern);
  }
}

function digestOfChunks(chunks: Iterable<Buffer>): Digest {
  const h = createHash('sha256');
  let size = 0;
  for (const c of chunks) {
    h.update(c);
    size += c.length;
  }
  return { hash: h.digest('hex') as Sha256Hex, sizeBytes: size };
}

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

async function digestOfStream(r: Readable): Promise<Digest> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of r) {
    const b = c as Buffer;
    h.update(b);
    size += b.length;
  }
  return { hash: h.digest('hex') as Sha256Hex, sizeBytes: size };
}

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

/** A stream that produces `first` and then nothing, without ending. */
function stalled(first: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
      }
    },
  });
}

function isMismatch(e: unknown): boolean {
  return isFailureError(e) && e.failure.reason === 'digest-mismatch';
}

function sameDigests(a: readonly Digest[], b: readonly Digest[]): void {
  const key = (d: Digest): string => `${d.hash}/${d.sizeBytes}`;
  assert.deepEqual(a.map(key).sort(), b.map(key).sort());
}

export function blobStoreContract(
  name: string,
  makeStore: () => Promise<BlobStoreFixture>,
  options: BlobStoreContractOptions = {},
): void {
  const largeBytes = options.largeBlobBytes ?? 64 * MiB + 3;

  const withStore = (fn: (store: BlobStore) => Promise<void>) => async (): Promise<void> => {
    const fixture = await makeStore();
    try {
      await fn(fixture.store);
    } finally {
      await fixture.dispose();
    }
  };

  describe(`BlobStore contract: ${name}`, () => {
    it(
      'findMissing reports exactly the absent digests, once each',
      withStore(async (store) => {
        const a = digestOf('a');
        const b = digestOf('bb');
        const c = digestOf('ccc');
        sameDigests(await store.findMissing([a, b, c]), [a, b, c]);
        await store.put(a, Buffer.from('a'));
        await store.put(b, Buffer.from('bb'));
        sameDigests(await store.findMissing([a, c, b, c, EMPTY_DIGEST]), [c]);
        sameDigests(await store.findMissing([]), []);
        // Same hash, wrong size: a different digest, and absent.
        const wrongSize: Digest = { hash: a.hash, sizeBytes: 2 };
        sameDigests(await store.findMissing([wrongSize]), [wrongSize]);
      }),
    );

    it(
      'put then get and getBytes return the same bytes, from bytes or from a stream',
      withStore(async (store) => {
        const small = Buffer.from('hello, store\n');
        const d = digestOf(small);
        await store.put(d, new Uint8Array(small));
        assert.deepEqual(Buffer.from((await store.getBytes(d)) ?? []), small);
        const s = await store.get(d);
        assert.ok(s);
        assert.deepEqual(await readAll(s), small);

        const text = Buffer.from('x'.repeat(100_000) + 'y');
        const t = digestOf(text);
        await store.put(t, chunked(text, 7_777));
        assert.deepEqual(Buffer.from((await store.getBytes(t)) ?? []), text);
      }),
    );

    it(
      'a large blob streams in and out',
      withStore(async (store) => {
        const d = digestOfChunks(largeChunks(largeBytes));
        assert.equal(d.sizeBytes, largeBytes);
        await store.put(d, Readable.from(largeChunks(largeBytes)));
        sameDigests(await store.findMissing([d]), []);
        const s = await store.get(d);
        assert.ok(s);
        assert.deepEqual(await digestOfStream(s), d);
      }),
    );

    it(
      'the empty blob is always present',
      withStore(async (store) => {
        sameDigests(await store.findMissing([EMPTY_DIGEST]), []);
        assert.equal((await store.getBytes(EMPTY_DIGEST))?.length, 0);
        const s = await store.get(EMPTY_DIGEST);
        assert.ok(s);
        assert.equal((await readAll(s)).length, 0);
        await store.put(EMPTY_DIGEST, new Uint8Array(0));
        await store.put(EMPTY_DIGEST, Readable.from([]));
        await assert.rejects(store.put(EMPTY_DIGEST, Buffer.from('x')), isMismatch);
        await assert.rejects(store.put(EMPTY_DIGEST, Readable.from([Buffer.from('x')])), isMismatch);
      }),
    );

    it(
      'a digest mismatch is rejected and nothing is stored',
      withStore(async (store) => {
        const d = digestOf('hello');
        await assert.rejects(store.put(d, Buffer.from('hellO')), isMismatch);
        await assert.rejects(store.put(d, Readable.from([Buffer.from('hel'), Buffer.from('lO')])), isMismatch);
        await assert.rejects(store.put(d, Readable.from([Buffer.from('hello'), Buffer.from('!')])), isMismatch);
        await assert.rejects(store.put(d, Readable.from([Buffer.from('hell')])), isMismatch);
        await assert.rejects(store.put({ hash: d.hash, sizeBytes: 6 }, Buffer.from('hello')), isMismatch);
        sameDigests(await store.findMissing([d]), [d]);
        assert.equal(await store.getBytes(d), undefined);
        assert.equal(await store.get(d), undefined);
      }),
    );

    it(
      'get and getBytes of an absent blob are undefined',
      withStore(async (store) => {
        const d = digestOf('never stored');
        assert.equal(await store.get(d), undefined);
        assert.equal(await store.getBytes(d), undefined);
      }),
    );

    it(
      'concurrent puts of the same blob all succeed and store it once',
      withStore(async (store) => {
        const data = Buffer.concat([...largeChunks(3 * MiB + 5)]);
        const d = digestOf(data);
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.put(d, i % 2 === 0 ? new Uint8Array(data) : chunked(data, 64 * 1024 + i))),
        );
        sameDigests(await store.findMissing([d]), []);
        const s = await store.get(d);
        assert.ok(s);
        assert.deepEqual(await digestOfStream(s), d);
      }),
    );

    it(
      'an aborted put rejects with an AbortError and stores nothing',
      withStore(async (store) => {
        const data = Buffer.alloc(256 * 1024, 'z');
        const d = digestOf(data);
        await assert.rejects(store.put(d, data, AbortSignal.abort()), isAbortError);

        const ac = new AbortController();
        const p = store.put(d, stalled(data.subarray(0, 1000)), ac.signal);
        setTimeout(() => ac.abort(), 50);
        await assert.rejects(p, isAbortError);
        sameDigests(await store.findMissing([d]), [d]);
      }),
    );

    it(
      'aborted reads reject with an AbortError',
      withStore(async (store) => {
        const d = digestOf('abc');
        await store.put(d, Buffer.from('abc'));
        await assert.rejects(store.get(d, AbortSignal.abort()), isAbortError);
        await assert.rejects(store.getBytes(d, AbortSignal.abort()), isAbortError);
        await assert.rejects(store.findMissing([d], AbortSignal.abort()), isAbortError);

        const big = Buffer.concat([...largeChunks(4 * MiB)]);
        const b = digestOf(big);
        await store.put(b, big);
        const ac = new AbortController();
        const s = await store.get(b, ac.signal);
        assert.ok(s);
        await assert.rejects(
          (async () => {
            for await (const _ of s) ac.abort();
          })(),
          isAbortError,
        );
      }),
    );
  });
}
