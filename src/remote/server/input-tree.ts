import { digestString, type Digest, mapLimit } from '../../core/index.js';
import { symlinkEscapes, type BlobStore } from '../../store/index.js';
import { canonicalDirectory, canonicalOrderViolation, fromProtoDigest } from '../../reapi/index.js';
import { invalidArgument } from './rpc-error.js';
import { readDirectoryBlob } from './tree-walk.js';

const READ_CONCURRENCY = 16;
/**
 * Paths (files, directories, symlinks) a tree may expand to. A Merkle DAG
 * can name one subtree many times, so a small set of blobs can describe an
 * exponentially large tree; this is where such an input is refused.
 */
const MAX_TREE_ENTRIES = 2_000_000;

export interface InputTreeCheck {
  /** Blobs the tree needs that the CAS lacks: Directory messages and file contents. */
  readonly missing: Digest[];
  readonly files: number;
  readonly directories: number;
}

/**
 * Checks an action's input root before it is queued, so every problem is
 * reported when the Operation is created (as REAPI wants) rather than by a
 * worker later:
 *
 * - every name is a single path segment: not empty, `.`, `..`, nor holding
 *   `/` or NUL, and unique in its directory; entries are in canonical
 *   order, sorted by name (INVALID_ARGUMENT naming the directory's digest);
 * - every symlink stays inside the input root, even through other symlinks
 *   of the tree; absolute targets are refused, as announced by
 *   SymlinkAbsolutePathStrategy DISALLOWED (INVALID_ARGUMENT);
 * - every Directory and file blob is in the CAS (collected, for the
 *   caller's FAILED_PRECONDITION with MISSING violations).
 *
 * A subtree shared by several parents is read once but its symlinks are
 * checked at every place it appears, since escaping depends on depth.
 */
export async function checkInputTree(store: Pick<BlobStore, 'getBytes' | 'findMissing'>, root: Digest): Promise<InputTreeCheck> {
  const missing = new Map<string, Digest>();
  const files = new Map<string, Digest>();
  const links = new Map<string, string>();
  const read = new Map<string, Awaited<ReturnType<typeof readDirectoryBlob>>>();
  let directories = 0;
  let entries = 0;
  let level: Array<{ digest: Digest; at: string }> = [{ digest: root, at: '' }];
  while (level.length > 0) {
    const fresh = [...new Set(level.map((l) => digestString(l.digest)))].filter((k) => !read.has(k));
    const byKey = new Map(level.map((l) => [digestString(l.digest), l.digest]));
    const results = await mapLimit(fresh, READ_CONCURRENCY, (k) => readDirectoryBlob(store, byKey.get(k)!));
    fresh.forEach((k, i) => read.set(k, results[i]!));
    const next: typeof level = [];
    for (const { digest, at } of level) {
      const where = `${at === '' ? 'the input root' : `input directory ${JSON.stringify(at)}`} (${digestString(digest)})`;
      const got = read.get(digestString(digest))!;
      if (!got.ok) {
        if (got.missing) missing.set(digestString(digest), digest);
        else throw invalidArgument(`${where} (${digestString(digest)}) is not a valid Directory message: ${got.why}`);
        continue;
      }
      directories++;
      const dir = got.directory;
      entries += dir.files.length + dir.directories.length + dir.symlinks.length;
      if (entries > MAX_TREE_ENTRIES) {
        throw invalidArgument(`the input root expands to more than ${MAX_TREE_ENTRIES} files, directories and symlinks; this server refuses trees that large`);
      }
      const canonical = canonicalDirectory(dir);
      const duplicate = !canonical.ok && canonical.failure.reason === 'duplicate-name';
      if (!canonical.ok && !duplicate) throw invalidArgument(`${where}: ${canonical.failure.message}`);
      const disorder = !canonical.ok ? canonical.failure.message : canonicalOrderViolation(dir);
      if (disorder !== undefined) {
        throw invalidArgument(
          `${where} is not in canonical form (${disorder}): REAPI requires the files, directories and symlinks of a Directory each sorted by name in UTF-8 byte order, every name once, so that one tree has one digest`,
        );
      }
      const join = (name: string): string => (at === '' ? name : `${at}/${name}`);
      for (const f of dir.files) {
        const d = fromProtoDigest(f.digest, `digest of file ${JSON.stringify(join(f.name))}`);
        if (!d.ok) throw invalidArgument(d.failure.message);
        files.set(digestString(d.value), d.value);
      }
      for (const s of dir.symlinks) {
        if (s.target.startsWith('/')) {
          throw invalidArgument(
            `input symlink ${JSON.stringify(join(s.name))} has the absolute target ${JSON.stringify(s.target)}; this server refuses absolute symlinks (symlink_absolute_path_strategy DISALLOWED)`,
          );
        }
        links.set(join(s.name), s.target);
      }
      for (const d of dir.directories) {
        const child = fromProtoDigest(d.digest, `digest of directory ${JSON.stringify(join(d.name))}`);
        if (!child.ok) throw invalidArgument(child.failure.message);
        next.push({ digest: child.value, at: join(d.name) });
      }
    }
    level = next;
  }
  for (const [path, target] of links) {
    if (symlinkEscapes(links, path)) {
      throw invalidArgument(`input symlink ${JSON.stringify(path)} -> ${JSON.stringify(target)} points outside the input root`);
    }
  }
  const absent = await store.findMissing([...files.values()]);
  for (const d of absent) missing.set(digestString(d), d);
  return { missing: [...missing.values()], files: files.size, directories };
}
