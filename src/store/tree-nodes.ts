import { equals } from '@bufbuild/protobuf';
import { FailureError, type Digest } from '../core/index.js';
import {
  NodePropertiesSchema,
  fromProtoDigest,
  type DirectoryNode,
  type FileNode,
  type NodeProperties,
  type ProtoDigest,
  type SymlinkNode,
} from '../reapi/index.js';

/** One entry of a Directory, tagged with its list. */
export type NodeEntry =
  | { readonly kind: 'file'; readonly node: FileNode }
  | { readonly kind: 'dir'; readonly node: DirectoryNode }
  | { readonly kind: 'symlink'; readonly node: SymlinkNode };

/**
 * The digest of a node read from the store. readDirectory has already
 * checked every digest, so a failure here is a bug in the caller.
 */
export function nodeDigest(p: ProtoDigest | undefined, name: string): Digest {
  const r = fromProtoDigest(p, `digest of ${JSON.stringify(name)}`);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

function sameProperties(a: NodeProperties | undefined, b: NodeProperties | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return equals(NodePropertiesSchema, a, b);
}

/** Same content, mode and properties: two such entries at one path are not a conflict. */
export function sameEntry(a: NodeEntry, b: NodeEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') {
    return (
      a.node.digest?.hash === b.node.digest?.hash &&
      a.node.digest?.sizeBytes === b.node.digest?.sizeBytes &&
      a.node.isExecutable === b.node.isExecutable &&
      sameProperties(a.node.nodeProperties, b.node.nodeProperties)
    );
  }
  if (a.kind === 'symlink' && b.kind === 'symlink') {
    return a.node.target === b.node.target && sameProperties(a.node.nodeProperties, b.node.nodeProperties);
  }
  if (a.kind === 'dir' && b.kind === 'dir') {
    return a.node.digest?.hash === b.node.digest?.hash && a.node.digest?.sizeBytes === b.node.digest?.sizeBytes;
  }
  return false;
}

function protoDigestString(p: ProtoDigest | undefined): string {
  return p === undefined ? '(no digest)' : `${p.hash}/${p.sizeBytes}`;
}

/** For conflict messages: `file <hash>/<size>`, `executable file …`, `directory …`, `symlink to "x"`. */
export function describeEntry(e: NodeEntry): string {
  switch (e.kind) {
    case 'file':
      return `${e.node.isExecutable ? 'executable file' : 'file'} ${protoDigestString(e.node.digest)}`;
    case 'dir':
      return `directory ${protoDigestString(e.node.digest)}`;
    case 'symlink':
      return `symlink to ${JSON.stringify(e.node.target)}`;
  }
}

/**
 * Awaits every promise, then throws the first rejection in list order (not
 * in time order), so that which conflict or missing blob gets reported does
 * not depend on I/O timing.
 */
export async function settleInOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const out: T[] = [];
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    out.push(s.value);
  }
  return out;
}
