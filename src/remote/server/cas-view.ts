import type { Readable } from 'node:stream';
import { EMPTY_DIGEST, digestEquals, digestString, type Digest } from '../../core/index.js';
import type { LocalStore, LocalStoreStats, MaterializeMode, MaterializeOptions } from '../../store/index.js';
import { TreeSchema, decodeMessage, fromProtoDigest, type ActionResult, type ProtoDigest } from '../../reapi/index.js';

/**
 * The CAS and action cache as clients see them through this server's RPCs.
 *
 * By default the empty blob is always present, as in the local store (and
 * Bazel's and Buildbarn's servers). With `implicitEmptyBlob: false` (the
 * hidden flag `--no-implicit-empty-blob`) it exists only once someone has
 * uploaded it, as in BuildGrid: FindMissingBlobs lists it, reads are
 * NOT_FOUND, an input tree holding it is MISSING it, and a cached result
 * that references it is refused. That mode exists to test clients against
 * servers of that kind; the knowledge that it was uploaded lives in memory.
 *
 * The server's own work (the sandbox runner, output capture) uses the
 * local store directly: only what clients ask about goes through here.
 */
export interface CasView extends LocalStore {
  /** Whether the empty blob counts as present now. */
  hasEmptyBlob(): boolean;
  /**
   * The cached result for `actionDigest` when every blob it references is
   * present; otherwise why not, for the NOT_FOUND a client gets. Waits for
   * a write of that action's result still in progress (updateActionResult),
   * so a result written "soon" is never missed by a lookup after it.
   */
  lookupActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<{ readonly result: ActionResult } | { readonly refused: string }>;
}

export function createCasView(store: LocalStore, o: { readonly implicitEmptyBlob: boolean }): CasView {
  return new View(store, o.implicitEmptyBlob);
}

const isEmpty = (d: Digest): boolean => digestEquals(d, EMPTY_DIGEST);

class View implements CasView {
  readonly #store: LocalStore;
  readonly #implicit: boolean;
  #emptyUploaded = false;
  /** Action cache writes in progress, by action digest. */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(store: LocalStore, implicitEmptyBlob: boolean) {
    this.#store = store;
    this.#implicit = implicitEmptyBlob;
  }

  get dir(): string {
    return this.#store.dir;
  }

  hasEmptyBlob(): boolean {
    return this.#implicit || this.#emptyUploaded;
  }

  async findMissing(digests: readonly Digest[], signal?: AbortSignal): Promise<Digest[]> {
    const missing = await this.#store.findMissing(digests, signal);
    if (this.hasEmptyBlob()) return missing;
    const empty = digests.find(isEmpty);
    return empty === undefined ? missing : [...missing, empty];
  }

  get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined> {
    if (isEmpty(digest) && !this.hasEmptyBlob()) return Promise.resolve(undefined);
    return this.#store.get(digest, signal);
  }

  getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    if (isEmpty(digest) && !this.hasEmptyBlob()) return Promise.resolve(undefined);
    return this.#store.getBytes(digest, signal);
  }

  async put(digest: Digest, data: Readable | Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.#store.put(digest, data, signal);
    // The store checked the content: an empty blob that got here is the empty blob.
    if (isEmpty(digest)) this.#emptyUploaded = true;
  }

  async putFile(path: string, signal?: AbortSignal): Promise<Digest> {
    const d = await this.#store.putFile(path, signal);
    if (isEmpty(d)) this.#emptyUploaded = true;
    return d;
  }

  materializeFile(digest: Digest, destPath: string, options: MaterializeOptions, signal?: AbortSignal): Promise<MaterializeMode | undefined> {
    return this.#store.materializeFile(digest, destPath, options, signal);
  }

  async getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined> {
    const r = await this.lookupActionResult(actionDigest, signal);
    return 'result' in r ? r.result : undefined;
  }

  async lookupActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<{ readonly result: ActionResult } | { readonly refused: string }> {
    await this.#writing.get(digestString(actionDigest))?.catch(() => undefined);
    // The store answers only when every blob the result references is in
    // the CAS, as REAPI asks of servers; it cannot tell us which one is not.
    const result = await this.#store.getActionResult(actionDigest, signal);
    if (result === undefined) {
      return { refused: `no action result for ${digestString(actionDigest)} (none was stored, or its outputs are no longer all in the CAS)` };
    }
    if (!this.hasEmptyBlob()) {
      const where = await this.#emptyReferences(result, signal);
      if (where.length > 0) {
        return {
          refused: `the action result for ${digestString(actionDigest)} references the empty blob ${digestString(EMPTY_DIGEST)} (as ${where.slice(0, 3).join(', ')}), which is not in this CAS: upload it first`,
        };
      }
    }
    return { result };
  }

  updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal): Promise<void> {
    const key = digestString(actionDigest);
    const write = this.#store.updateActionResult(actionDigest, result, signal).finally(() => {
      if (this.#writing.get(key) === write) this.#writing.delete(key);
    });
    this.#writing.set(key, write);
    return write;
  }

  stats(): LocalStoreStats {
    return this.#store.stats();
  }

  forgetIdle(idlePeriods: number): number {
    return this.#store.forgetIdle(idlePeriods);
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  /** The fields of `result` (and files of its output trees) that name the empty blob. */
  async #emptyReferences(result: ActionResult, signal?: AbortSignal): Promise<string[]> {
    const where: string[] = [];
    const check = (p: ProtoDigest | undefined, field: string): void => {
      const d = fromProtoDigest(p);
      if (p !== undefined && d.ok && isEmpty(d.value)) where.push(field);
    };
    check(result.stdoutDigest, 'stdout_digest');
    check(result.stderrDigest, 'stderr_digest');
    for (const f of result.outputFiles) check(f.digest, `output file ${JSON.stringify(f.path)}`);
    for (const od of result.outputDirectories) {
      check(od.rootDirectoryDigest, `root_directory_digest of ${JSON.stringify(od.path)}`);
      const td = fromProtoDigest(od.treeDigest);
      if (!td.ok) continue;
      const bytes = await this.#store.getBytes(td.value, signal);
      const tree = bytes === undefined ? undefined : decodeMessage(TreeSchema, bytes);
      if (tree === undefined || !tree.ok) continue;
      for (const dir of [...(tree.value.root ? [tree.value.root] : []), ...tree.value.children]) {
        for (const f of dir.files) check(f.digest, `file ${JSON.stringify(f.name)} in output directory ${JSON.stringify(od.path)}`);
      }
    }
    return where;
  }
}
