import type { Digest as ProtoDigest, Directory, DirectoryNode, FileNode, SymlinkNode } from './schemas.js';

const DIRECTORY = 'build.bazel.remote.execution.v2.Directory';
const FILE_NODE = 'build.bazel.remote.execution.v2.FileNode';
const DIRECTORY_NODE = 'build.bazel.remote.execution.v2.DirectoryNode';
const SYMLINK_NODE = 'build.bazel.remote.execution.v2.SymlinkNode';
const DIGEST = 'build.bazel.remote.execution.v2.Digest';

/** Thrown inside: whatever this decoder does not take on goes to protobuf-es. */
const NOT_MINE = Symbol('not-mine');

// Strict, as protobuf-es reads a proto3 string: invalid UTF-8 is not ours to repair.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a Directory by hand, into the very message protobuf-es's
 * fromBinary makes (same fields, same key order), or undefined for anything
 * off its narrow path — node properties, an unknown or repeated singular
 * field, a wrong wire type, invalid UTF-8, a truncated message — which the
 * caller then decodes (or rejects) reflectively, so both agree on every
 * input. Every tree walk reads Directories, and this spares a run that only
 * reads them (a fully cached `package`) loading the schemas at all
 * (scripts/lazy-modules.mjs). encode.test.ts compares the two decoders.
 */
export function decodeDirectory(bytes: Uint8Array): Directory | undefined {
  try {
    const r = new Reader(bytes);
    const files: FileNode[] = [];
    const directories: DirectoryNode[] = [];
    const symlinks: SymlinkNode[] = [];
    while (!r.done()) {
      const tag = r.varint();
      if (tag === 0x0a) files.push(fileNode(r.sub()));
      else if (tag === 0x12) directories.push(directoryNode(r.sub()));
      else if (tag === 0x1a) symlinks.push(symlinkNode(r.sub()));
      else throw NOT_MINE;
    }
    return { $typeName: DIRECTORY, files, directories, symlinks } as Directory;
  } catch (e) {
    // Invalid UTF-8 throws too: what the reflective decoder says of it (a failure) is the answer.
    if (e === NOT_MINE || e instanceof TypeError) return undefined;
    throw e;
  }
}

function fileNode(r: Reader): FileNode {
  const node = { $typeName: FILE_NODE, name: '', isExecutable: false } as FileNode & { digest?: ProtoDigest };
  let seen = 0;
  while (!r.done()) {
    const tag = r.varint();
    seen |= once(tag === 0x0a ? 1 : tag === 0x12 ? 2 : tag === 0x20 ? 4 : 0, seen);
    if (tag === 0x0a) node.name = r.string();
    else if (tag === 0x12) node.digest = digest(r.sub());
    else if (tag === 0x20) node.isExecutable = r.varint() !== 0;
    else throw NOT_MINE;
  }
  return node;
}

function directoryNode(r: Reader): DirectoryNode {
  const node = { $typeName: DIRECTORY_NODE, name: '' } as DirectoryNode & { digest?: ProtoDigest };
  let seen = 0;
  while (!r.done()) {
    const tag = r.varint();
    seen |= once(tag === 0x0a ? 1 : tag === 0x12 ? 2 : 0, seen);
    if (tag === 0x0a) node.name = r.string();
    else if (tag === 0x12) node.digest = digest(r.sub());
    else throw NOT_MINE;
  }
  return node;
}

function symlinkNode(r: Reader): SymlinkNode {
  const node = { $typeName: SYMLINK_NODE, name: '', target: '' } as SymlinkNode;
  let seen = 0;
  while (!r.done()) {
    const tag = r.varint();
    seen |= once(tag === 0x0a ? 1 : tag === 0x12 ? 2 : 0, seen);
    if (tag === 0x0a) node.name = r.string();
    else if (tag === 0x12) node.target = r.string();
    else throw NOT_MINE;
  }
  return node;
}

function digest(r: Reader): ProtoDigest {
  const d = { $typeName: DIGEST, hash: '', sizeBytes: 0n } as ProtoDigest;
  let seen = 0;
  while (!r.done()) {
    const tag = r.varint();
    seen |= once(tag === 0x0a ? 1 : tag === 0x10 ? 2 : 0, seen);
    if (tag === 0x0a) d.hash = r.string();
    else if (tag === 0x10) d.sizeBytes = r.int64();
    else throw NOT_MINE;
  }
  return d;
}

/** A singular field's bit, unless it is unknown or came before (protobuf merges or overrides those: its business). */
function once(bit: number, seen: number): number {
  if (bit === 0 || (seen & bit) !== 0) throw NOT_MINE;
  return bit;
}

/** Just enough of the wire format: varints (up to 2^53 as numbers, int64 as bigint) and length-delimited fields. */
class Reader {
  readonly #buf: Uint8Array;
  #pos: number;
  readonly #end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = pos;
    this.#end = end;
  }

  done(): boolean {
    return this.#pos >= this.#end;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#pos >= this.#end) throw NOT_MINE;
      const b = this.#buf[this.#pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    // Longer than 56 bits: no tag, length or flag of ours.
    throw NOT_MINE;
  }

  int64(): bigint {
    let v = 0n;
    for (let i = 0n; i < 10n; i++) {
      if (this.#pos >= this.#end) throw NOT_MINE;
      const b = this.#buf[this.#pos++]!;
      v |= BigInt(b & 0x7f) << (7n * i);
      if (b < 0x80) return BigInt.asIntN(64, v);
    }
    throw NOT_MINE;
  }

  #length(): number {
    const n = this.varint();
    if (n > this.#end - this.#pos) throw NOT_MINE;
    return n;
  }

  string(): string {
    const n = this.#length();
    const s = utf8.decode(this.#buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return s;
  }

  sub(): Reader {
    const n = this.#length();
    const r = new Reader(this.#buf, this.#pos, this.#pos + n);
    this.#pos += n;
    return r;
  }
}
