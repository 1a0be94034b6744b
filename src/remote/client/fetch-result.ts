import { EMPTY_DIGEST, FailureError, digestEquals, digestOf, digestString, failure, type Digest } from '../../core/index.js';
import { executionMsOf, type ProcessResult, type ResultSource } from '../../exec/index.js';
import { outputRootOf, type BlobStore } from '../../store/index.js';
import { DirectorySchema, decodeMessage, digestMessage, fromProtoDigest, toProtoDigest, type ActionResult, type Directory, type ProtoDigest } from '../../reapi/index.js';
import { actionResultBlobs, walkTrees } from './ensure-uploaded.js';
import { remoteMissing } from './blob-transfer.js';
import type { OutputFetcher } from './output-fetcher.js';
import type { ByteStoreProvider } from './provider.js';
import type { CacheContentBehavior } from './remote-config.js';
import type { CallContext } from './request-metadata.js';

export interface FetchResultOptions {
  readonly actionDigest: Digest;
  readonly source: ResultSource;
  readonly behavior: CacheContentBehavior;
  readonly timedOut: boolean;
  readonly startedAt: number;
  readonly signal?: AbortSignal;
  readonly call?: CallContext;
  /**
   * With `fetch`: download output files in the background through this
   * (output-fetcher.ts) instead of before returning; `description` names the
   * process in its errors, `runSignal` is the run's (not the action's).
   */
  readonly later?: { readonly fetcher: OutputFetcher; readonly description: string; readonly runSignal?: AbortSignal };
}

function digestOrFail(p: ProtoDigest | undefined, what: string): Digest {
  const r = fromProtoDigest(p, what);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

/**
 * Turns an ActionResult from a remote server into a ProcessResult whose
 * metadata is in the local store. What is always fetched: inline contents,
 * stdout and stderr (people read them), the Tree of every output directory
 * (the output root is built from it). Output file contents per
 * `cache_content_behavior`:
 * - `fetch`: downloaded now, so later local work finds them; or, given
 *   `later`, scheduled there: the result returns with only the metadata
 *   local, and reads of an output wait for it (createAwaitingStore);
 * - `validate`: only checked present on the server (FindMissingBlobs); a
 *   missing one throws `remote-missing-blob`, which a cache lookup treats
 *   as a miss;
 * - `defer`: assumed present; they are fetched if and when something local
 *   needs them (see createFetchingStore).
 */
export async function fetchActionResult(local: BlobStore, remote: ByteStoreProvider, ar: ActionResult, o: FetchResultOptions): Promise<ProcessResult> {
  const { signal, call } = o;
  const stdout = await inline(local, ar.stdoutDigest, ar.stdoutRaw, signal);
  const stderr = await inline(local, ar.stderrDigest, ar.stderrRaw, signal);
  for (const f of ar.outputFiles) {
    if (f.contents.byteLength > 0) {
      const d = digestOrFail(f.digest, `digest of output file ${JSON.stringify(f.path)}`);
      const got = digestOf(f.contents);
      if (got.hash !== d.hash || got.sizeBytes !== d.sizeBytes) {
        throw new FailureError(failure('environment', 'remote-corrupt-blob', `${remote.description} sent inline contents of ${JSON.stringify(f.path)} that do not match its digest ${digestString(d)}`));
      }
      await local.put(d, f.contents, signal);
    }
  }

  // Metadata first: stdout/stderr and the trees; with `fetch`, the output
  // files named in the result come in the same batch (one round trip).
  const meta: Digest[] = [stdout, stderr];
  for (const od of ar.outputDirectories) {
    if (od.treeDigest !== undefined) meta.push(digestOrFail(od.treeDigest, `tree of output directory ${JSON.stringify(od.path)}`));
  }
  const later = o.behavior === 'fetch' ? o.later : undefined;
  const direct = o.behavior === 'fetch' && later === undefined ? ar.outputFiles.filter((f) => f.contents.byteLength === 0).map((f) => digestOrFail(f.digest, `digest of output file ${JSON.stringify(f.path)}`)) : [];
  await remote.downloadTo(local, [...meta, ...direct], signal, call);
  // A v2.3 server may send only root_directory_digest: its Directories come by GetTree.
  for (const od of ar.outputDirectories) {
    if (od.treeDigest !== undefined || od.rootDirectoryDigest === undefined) continue;
    const root = digestOrFail(od.rootDirectoryDigest, `root directory of ${JSON.stringify(od.path)}`);
    const dirs = remote.getTree !== undefined ? await remote.getTree(root, signal, call) : await treeByLevels(local, remote, root, signal, call);
    if (dirs === undefined) throw remoteMissing(root, remote.description);
    for (const dir of dirs) {
      const e = digestMessage(DirectorySchema, dir);
      await local.put(e.digest, e.bytes, signal);
    }
  }

  const files = (await actionResultBlobs(local, { ...ar, stdoutDigest: toProtoDigest(stdout), stderrDigest: toProtoDigest(stderr) }, signal)).filter(
    (d) => !meta.some((m) => m.hash === d.hash && m.sizeBytes === d.sizeBytes),
  );
  for (const od of ar.outputDirectories) {
    if (od.treeDigest !== undefined || od.rootDirectoryDigest === undefined) continue;
    // Files of directories that came by GetTree.
    files.push(...(await filesBelow(local, digestOrFail(od.rootDirectoryDigest, 'root directory'), signal)));
  }
  if (later !== undefined) {
    const paths = new Map<string, string>();
    for (const f of ar.outputFiles) if (f.digest !== undefined) paths.set(`${f.digest.hash}/${f.digest.sizeBytes}`, f.path);
    // Those already local are skipped when the download goes (downloadTo asks the local store): not a stat each here, on the chain's path.
    later.fetcher.schedule(
      files.map((d) => {
        const path = paths.get(digestString(d));
        return { digest: d, what: `${path !== undefined ? `output ${JSON.stringify(path)}` : 'a file of an output directory'} of ${later.description}` };
      }),
      later.runSignal,
    );
  } else if (o.behavior === 'fetch') await remote.downloadTo(local, files, signal, call);
  else if (o.behavior === 'validate') {
    // The empty blob is never downloaded (its content is known), so a server lacking it loses us nothing.
    const missing = await remote.findMissing(
      files.filter((d) => !digestEquals(d, EMPTY_DIGEST)),
      signal,
      call,
    );
    if (missing[0] !== undefined) throw remoteMissing(missing[0], remote.description);
  }

  const outputRoot = await outputRootOf(local, ar, signal);
  return {
    exitCode: ar.exitCode,
    timedOut: o.timedOut,
    stdout,
    stderr,
    outputRoot,
    actionDigest: o.actionDigest,
    source: o.source,
    durationMs: performance.now() - o.startedAt,
    executionMs: executionMsOf(ar),
    actionResult: ar,
  };
}

/** stdout/stderr as a digest in the local store, whether the server sent a digest or the bytes inline. */
async function inline(local: BlobStore, d: ProtoDigest | undefined, raw: Uint8Array, signal?: AbortSignal): Promise<Digest> {
  if (raw.byteLength > 0) {
    const digest = digestOf(raw);
    await local.put(digest, raw, signal);
    return digest;
  }
  if (d === undefined) return EMPTY_DIGEST;
  return digestOrFail(d, 'stdout/stderr digest');
}

/**
 * A tree fetched one level at a time, for protocols without GetTree: each
 * level's Directories are downloaded (verified) into the local store, read
 * back and decoded for the next level's digests.
 */
async function treeByLevels(local: BlobStore, remote: ByteStoreProvider, root: Digest, signal?: AbortSignal, call?: CallContext): Promise<Directory[] | undefined> {
  if ((await remote.findMissing([root], signal, call)).length > 0) return undefined;
  const dirs: Directory[] = [];
  const seen = new Set<string>();
  let level = [root];
  while (level.length > 0) {
    await remote.downloadTo(local, level, signal, call);
    const next: Digest[] = [];
    for (const d of level) {
      const bytes = await local.getBytes(d, signal);
      if (bytes === undefined) throw remoteMissing(d, remote.description);
      const dir = decodeMessage(DirectorySchema, bytes);
      if (!dir.ok) throw new FailureError(dir.failure);
      dirs.push(dir.value);
      for (const c of dir.value.directories) {
        const cd = digestOrFail(c.digest, `digest of directory ${JSON.stringify(c.name)}`);
        if (!seen.has(digestString(cd))) {
          seen.add(digestString(cd));
          next.push(cd);
        }
      }
    }
    level = next;
  }
  return dirs;
}

async function filesBelow(local: BlobStore, root: Digest, signal?: AbortSignal): Promise<Digest[]> {
  const w = await walkTrees(local, [root], undefined, signal);
  return w.digests;
}
