import { FailureError, digestString, failure, type Digest, mapLimit } from '../core/index.js';
import {
  DirectorySchema,
  TreeSchema,
  decodeMessage,
  digestMessage,
  fromProtoDigest,
  type ActionResult,
  type OutputDirectory,
  type ProtoDigest,
} from '../reapi/index.js';
import type { BlobStore } from './blob-store.js';
import { malformedTree, missingBlob } from './tree-failures.js';
import { TreeBuilder } from './tree-builder.js';
import { putBlobBytes, resultMemo } from './tree-io.js';
import { settleInOrder } from './tree-nodes.js';

const PUT_CONCURRENCY = 32;

function digestOrFail(p: ProtoDigest | undefined, what: string): Digest {
  const r = fromProtoDigest(p, what);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

/**
 * The Directory holding every output of an ActionResult at its path
 * relative to the working directory: the same digest captureOutputs gave
 * when the result was made, rebuilt for a result that comes from a cache.
 * Output directories come from their Tree messages, whose Directories are
 * stored one by one on the way (a result from a remote cache carries only
 * the Tree), so the root can be materialized. Symlinks are taken from all
 * three symlink fields (v2.0's two and v2.1's `output_symlinks`).
 */
export async function outputRootOf(store: BlobStore, result: ActionResult, signal?: AbortSignal): Promise<Digest> {
  const builder = new TreeBuilder();
  for (const f of result.outputFiles) {
    builder.addFile(f.path, digestOrFail(f.digest, `digest of output file ${JSON.stringify(f.path)}`), f.isExecutable);
  }
  for (const s of [...result.outputSymlinks, ...result.outputFileSymlinks, ...result.outputDirectorySymlinks]) {
    builder.addSymlink(s.path, s.target);
  }
  const roots = await settleInOrder(result.outputDirectories.map((od) => outputDirectoryRoot(store, od, signal)));
  result.outputDirectories.forEach((od, i) => builder.addTree(od.path, roots[i]!));
  // Staged: a cache hit's output root matters only to this process (the inputs of the next step, or outputs to write out).
  return builder.build(store, signal, true);
}

/**
 * The root Directory digest of an output directory, with every Directory
 * of its Tree stored. They are stored as encoded in the Tree, not
 * re-canonicalized: their digests must stay the ones their parents name.
 */
async function outputDirectoryRoot(store: BlobStore, od: OutputDirectory, signal?: AbortSignal): Promise<Digest> {
  const what = `the tree of output directory ${JSON.stringify(od.path)}`;
  if (od.treeDigest === undefined) {
    if (od.rootDirectoryDigest !== undefined) return digestOrFail(od.rootDirectoryDigest, `root directory of ${JSON.stringify(od.path)}`);
    throw new FailureError(failure('environment', 'malformed-tree', `output directory ${JSON.stringify(od.path)} has neither a tree nor a root directory digest`));
  }
  const treeDigest = digestOrFail(od.treeDigest, what);
  const memoKey = `tree-root:${digestString(treeDigest)}`;
  const memo = resultMemo(store);
  const cached = memo.get(memoKey);
  if (cached !== undefined) return cached;

  const bytes = await store.getBytes(treeDigest, signal);
  if (bytes === undefined) throw missingBlob(what, treeDigest, store);
  const decoded = decodeMessage(TreeSchema, bytes);
  if (!decoded.ok) throw malformedTree(what, treeDigest, decoded.failure);
  const { root, children } = decoded.value;
  if (root === undefined) throw malformedTree(what, treeDigest, 'it has no root');
  const encodedRoot = digestMessage(DirectorySchema, root);
  const blobs = new Map<string, { digest: Digest; bytes: Uint8Array }>();
  for (const child of children) {
    const e = digestMessage(DirectorySchema, child);
    blobs.set(digestString(e.digest), e);
  }
  // Every directory named must be in the Tree, or the root could not be materialized.
  for (const dir of [root, ...children]) {
    for (const node of dir.directories) {
      const d = digestOrFail(node.digest, `digest of directory ${JSON.stringify(node.name)} in ${what}`);
      if (!blobs.has(digestString(d))) {
        throw malformedTree(what, treeDigest, `directory ${JSON.stringify(node.name)} (${digestString(d)}) is not among its children`);
      }
    }
  }
  await mapLimit([encodedRoot, ...blobs.values()], PUT_CONCURRENCY, (b) => putBlobBytes(store, b.digest, b.bytes, signal), signal);
  memo.set(memoKey, encodedRoot.digest);
  return encodedRoot.digest;
}
