import { digestString, isFailureError, type Digest, mapLimit } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';
import { DirectorySchema, decodeMessage, fromProtoDigest, type Directory } from '../../reapi/index.js';

/** Directory blobs read at once while walking one level of a tree. */
const READ_CONCURRENCY = 16;

export interface WalkedDirectory {
  readonly digest: Digest;
  readonly directory: Directory;
}

/**
 * Every distinct Directory under `root` (root first), breadth-first, each
 * child visited in the order its parent lists it. The order depends only on
 * the tree's content, which never changes under a digest: that is what lets
 * a GetTree page token be a plain position in this sequence, valid on any
 * later call without server-side state.
 *
 * Children that are absent, unreadable or not Directory messages are
 * skipped (GetTree returns "the portion present"); `onSkipped` hears of them.
 * The root itself must be present and valid: the caller checks it first.
 */
export async function* walkTree(
  store: BlobStore,
  root: Digest,
  rootDirectory: Directory,
  onSkipped: (what: string) => void,
): AsyncGenerator<WalkedDirectory> {
  const seen = new Set<string>([digestString(root)]);
  let level: WalkedDirectory[] = [{ digest: root, directory: rootDirectory }];
  while (level.length > 0) {
    const next: Digest[] = [];
    for (const entry of level) {
      yield entry;
      for (const node of entry.directory.directories) {
        const d = fromProtoDigest(node.digest, `digest of directory ${JSON.stringify(node.name)}`);
        if (!d.ok) {
          onSkipped(d.failure.message);
          continue;
        }
        const key = digestString(d.value);
        if (seen.has(key)) continue;
        seen.add(key);
        next.push(d.value);
      }
    }
    const read = await mapLimit(next, READ_CONCURRENCY, (d) => readDirectoryBlob(store, d));
    const loaded: WalkedDirectory[] = [];
    read.forEach((dir, i) => {
      const d = next[i]!;
      if (dir.ok) loaded.push({ digest: d, directory: dir.directory });
      else onSkipped(`directory ${digestString(d)}: ${dir.why}`);
    });
    level = loaded;
  }
}

/** Reads and decodes one Directory blob; the reason when it cannot. */
export async function readDirectoryBlob(
  store: Pick<BlobStore, 'getBytes'>,
  d: Digest,
): Promise<{ ok: true; directory: Directory } | { ok: false; missing: boolean; why: string }> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await store.getBytes(d);
  } catch (e) {
    // A blob too large for getBytes cannot be a Directory anyone wrote on purpose.
    if (isFailureError(e) && e.failure.reason === 'blob-too-large') return { ok: false, missing: false, why: e.failure.message };
    throw e;
  }
  if (bytes === undefined) return { ok: false, missing: true, why: 'not in the CAS' };
  const decoded = decodeMessage(DirectorySchema, bytes);
  if (!decoded.ok) return { ok: false, missing: false, why: decoded.failure.message };
  return { ok: true, directory: decoded.value };
}
