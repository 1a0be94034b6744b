import { clone } from '@bufbuild/protobuf';
import type { Digest } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';
import { ActionResultSchema, fromProtoDigest, type ActionResult } from '../../reapi/index.js';

export interface InlineRequest {
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly files: readonly string[];
}

/**
 * Bytes inlined into one ActionResult at most. Inlining is a hint the server
 * MAY ignore and MUST skip when the response would get too large; 1 MiB keeps
 * any result far below the clients' 4 MiB receive limit.
 */
const INLINE_BUDGET_BYTES = 1024 * 1024;

/**
 * A copy of `result` with stdout, stderr and the named output files inlined
 * where asked for, smallest first within the budget (the digests stay: they
 * remain authoritative). Blobs that vanished meanwhile are simply not inlined.
 */
export async function inlineOutputs(store: BlobStore, result: ActionResult, want: InlineRequest, signal?: AbortSignal): Promise<ActionResult> {
  if (!want.stdout && !want.stderr && want.files.length === 0) return result;
  const out = clone(ActionResultSchema, result);
  const jobs: Array<{ digest: Digest; apply: (b: Uint8Array) => void }> = [];
  const add = (p: Parameters<typeof fromProtoDigest>[0], apply: (b: Uint8Array) => void): void => {
    const d = fromProtoDigest(p);
    if (d.ok) jobs.push({ digest: d.value, apply });
  };
  if (want.stdout && out.stdoutDigest !== undefined) add(out.stdoutDigest, (b) => (out.stdoutRaw = b));
  if (want.stderr && out.stderrDigest !== undefined) add(out.stderrDigest, (b) => (out.stderrRaw = b));
  const files = new Set(want.files);
  for (const f of out.outputFiles) if (files.has(f.path)) add(f.digest, (b) => (f.contents = b));
  jobs.sort((a, b) => a.digest.sizeBytes - b.digest.sizeBytes);
  let budget = INLINE_BUDGET_BYTES;
  for (const job of jobs) {
    if (job.digest.sizeBytes > budget) break;
    const bytes = await store.getBytes(job.digest, signal);
    if (bytes === undefined) continue;
    job.apply(bytes);
    budget -= bytes.byteLength;
  }
  return out;
}
