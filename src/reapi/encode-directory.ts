import { toBinary } from '@bufbuild/protobuf';
import { DirectorySchema, type Digest as ProtoDigest, type Directory } from './schemas.js';

/**
 * The canonical encoding of a Directory (as encodeCanonical gives it), written
 * by hand: every snapshot and merge encodes Directories, and protobuf-es's
 * reflective encoder cost a fully cached run of 400 processes ~0.15 s of CPU
 * and much of its garbage. A Directory with node properties anywhere takes the
 * reflective path (they are rare, and their encoding has more to get right).
 * encode.test.ts checks both give the same bytes.
 */
export function encodeDirectory(dir: Directory): Uint8Array {
  if (dir.nodeProperties !== undefined || dir.files.some((f) => f.nodeProperties !== undefined) || dir.symlinks.some((s) => s.nodeProperties !== undefined)) {
    return toBinary(DirectorySchema, dir, { writeUnknownFields: false });
  }
  const w = new Writer();
  // Field-number order, defaults omitted, a present sub-message always written (even empty), as protobuf-es does.
  for (const f of dir.files) {
    w.message(1, () => {
      w.string(1, f.name);
      if (f.digest !== undefined) w.message(2, () => digest(w, f.digest!));
      if (f.isExecutable) w.bool(4, true);
    });
  }
  for (const d of dir.directories) {
    w.message(2, () => {
      w.string(1, d.name);
      if (d.digest !== undefined) w.message(2, () => digest(w, d.digest!));
    });
  }
  for (const s of dir.symlinks) {
    w.message(3, () => {
      w.string(1, s.name);
      w.string(2, s.target);
    });
  }
  return w.finish();
}

function digest(w: Writer, d: ProtoDigest): void {
  w.string(1, d.hash);
  if (d.sizeBytes !== 0n) w.int64(2, d.sizeBytes);
}

/** Just enough of the protobuf wire format: varints, length-delimited strings and sub-messages. */
class Writer {
  #buf = new Uint8Array(256);
  #pos = 0;

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }

  #varint(v: number): void {
    this.#ensure(10);
    while (v > 0x7f) {
      this.#buf[this.#pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
  }

  #tag(field: number, wireType: number): void {
    this.#varint(field * 8 + wireType);
  }

  string(field: number, s: string): void {
    if (s === '') return;
    const len = Buffer.byteLength(s, 'utf8');
    this.#tag(field, 2);
    this.#varint(len);
    this.#ensure(len);
    this.#pos += Buffer.from(this.#buf.buffer, this.#buf.byteOffset + this.#pos, len).write(s, 'utf8');
  }

  bool(field: number, v: boolean): void {
    this.#tag(field, 0);
    this.#varint(v ? 1 : 0);
  }

  int64(field: number, v: bigint): void {
    this.#tag(field, 0);
    // Negative sizes never reach here as valid digests; encode them as protobuf does (ten bytes, two's complement).
    let u = BigInt.asUintN(64, v);
    this.#ensure(10);
    while (u > 0x7fn) {
      this.#buf[this.#pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.#buf[this.#pos++] = Number(u);
  }

  /** A sub-message: its length is known only once written, so write it apart and copy it in. */
  message(field: number, body: () => void): void {
    const outerBuf = this.#buf;
    const outerPos = this.#pos;
    this.#buf = new Uint8Array(128);
    this.#pos = 0;
    body();
    const inner = this.#buf.subarray(0, this.#pos);
    this.#buf = outerBuf;
    this.#pos = outerPos;
    this.#tag(field, 2);
    this.#varint(inner.length);
    this.#ensure(inner.length);
    this.#buf.set(inner, this.#pos);
    this.#pos += inner.length;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }
}
