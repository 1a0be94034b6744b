import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { abortError, failure, FailureError, type Digest, type Sha256Hex } from '../../core/index.js';

/**
 * Digests and fingerprints of programs outside the workspace (node, bash,
 * cat…), which are part of the cache key of every process that uses them.
 *
 * No watcher sees these files, so each run stats them again; the content is
 * hashed again only when the stat changed (device, inode, size, mtime,
 * ctime — ctime moves on any write or chmod, even one that restores the
 * mtime). Hashing node (~100 MB) takes a tenth of a second, which would be
 * most of a fully cached run, so what was hashed is also kept in
 * `.trews.d/tool-digests.json` for the next trews process, as git's index
 * keeps stat data to avoid re-reading files.
 */
const FILE_NAME = 'tool-digests.json';
const FINGERPRINT_TIMEOUT_MS = 10_000;

interface FileEntry {
  readonly stat: string;
  readonly hash: string;
  readonly size: number;
}

interface FingerprintEntry {
  readonly stat: string;
  readonly output: string;
}

interface Persisted {
  version: 1;
  files: Record<string, FileEntry>;
  fingerprints: Record<string, FingerprintEntry>;
}

// Synchronous, as the tool lookups are (tools.ts findExecutable): each run
// checks every tool again, and a few microseconds beat a thread-pool round trip.
function statKey(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** One per build root (the file lives in its .trews.d); shared by every run of a process. */
export class ToolDigests {
  readonly #file: string;
  #loaded: Promise<Persisted> | undefined;
  #saving: Promise<void> = Promise.resolve();

  constructor(workDir: string) {
    this.#file = join(workDir, FILE_NAME);
  }

  /** The REAPI digest of the program's content (following symlinks). */
  async digest(path: string, signal?: AbortSignal): Promise<Digest> {
    const real = realpathSync.native(path);
    const key = statKey(real);
    const data = await this.#data();
    const known = data.files[real];
    if (known !== undefined && known.stat === key) return { hash: known.hash as Sha256Hex, sizeBytes: known.size };
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(real, signal ? { signal } : {})) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
    const digest: Digest = { hash: hash.digest('hex') as Sha256Hex, sizeBytes: size };
    // Stat again: a file replaced while we read it must not be remembered under the new stat.
    if (statKey(real) === key) {
      data.files[real] = { stat: key, hash: digest.hash, size };
      this.#save(data);
    }
    return digest;
  }

  /**
   * What the program prints (stdout, then stderr) when run with `args`, as
   * `system_binary(fingerprint=…)` needs. Remembered like digests, keyed
   * by the program's stat and the arguments.
   */
  async fingerprint(path: string, args: readonly string[], env: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<string> {
    const real = realpathSync.native(path);
    const key = statKey(real);
    const id = `${path}\0${args.join('\0')}`;
    const data = await this.#data();
    const known = data.fingerprints[id];
    if (known !== undefined && known.stat === key) return known.output;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        path,
        [...args],
        { env: { ...env }, timeout: FINGERPRINT_TIMEOUT_MS, maxBuffer: 1024 * 1024, encoding: 'utf8', ...(signal ? { signal } : {}) },
        (error, stdout, stderr) => {
          if (signal?.aborted) {
            reject(abortError());
            return;
          }
          // A string code is a failure to start (ENOENT, EACCES); a number is an exit code.
          if (error !== null && typeof (error as NodeJS.ErrnoException).code === 'string') {
            reject(
              new FailureError(
                failure('environment', 'fingerprint-failed', `cannot run \`${path} ${args.join(' ')}\` to fingerprint it: ${error.message}`),
              ),
            );
            return;
          }
          // A non-zero exit still prints a version often enough (`java -version` writes to stderr); the regex decides.
          resolve(`${stdout}${stderr}`);
        },
      );
    });
    data.fingerprints[id] = { stat: key, output };
    this.#save(data);
    return output;
  }

  #data(): Promise<Persisted> {
    this.#loaded ??= readFile(this.#file, 'utf8').then(
      (text) => {
        const v = JSON.parse(text) as Partial<Persisted>;
        if (v.version === 1 && typeof v.files === 'object' && typeof v.fingerprints === 'object' && v.files !== null && v.fingerprints !== null) {
          return { version: 1, files: v.files, fingerprints: v.fingerprints };
        }
        return { version: 1, files: {}, fingerprints: {} };
      },
      () => ({ version: 1, files: {}, fingerprints: {} }),
    );
    return this.#loaded;
  }

  /** Writes are serialized and best-effort: a lost write only costs a re-hash. */
  #save(data: Persisted): void {
    this.#saving = this.#saving.then(async () => {
      try {
        await mkdir(dirname(this.#file), { recursive: true });
        const tmp = `${this.#file}.${randomBytes(6).toString('hex')}.tmp`;
        await writeFile(tmp, JSON.stringify(data));
        await rename(tmp, this.#file);
      } catch {
        // best effort
      }
    });
  }
}

const byWorkDir = new Map<string, ToolDigests>();

/** The ToolDigests of a build root's work directory (`<root>/.trews.d`). */
export function toolDigestsFor(workDir: string): ToolDigests {
  let t = byWorkDir.get(workDir);
  if (t === undefined) byWorkDir.set(workDir, (t = new ToolDigests(workDir)));
  return t;
}
