import { create } from '@bufbuild/protobuf';
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FailureError, digestString, failure, isAbortError, isFailureError, isWithin, type Digest } from '../core/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  FileNodeSchema,
  OutputDirectorySchema,
  OutputFileSchema,
  OutputSymlinkSchema,
  SymlinkNodeSchema,
  TreeSchema,
  compareUtf8,
  digestMessage,
  toProtoDigest,
  type Directory,
  type FileNode,
  type OutputDirectory,
  type OutputFile,
  type OutputSymlink,
  type SymlinkNode,
} from '../reapi/index.js';
import { copyIntoStore } from './copy-into-store.js';
import { withFanOutSignal } from './fan-out-signal.js';
import { Limiter } from './limiter.js';
import type { LocalStore } from './local-store.js';
import { errnoCode } from './store-failures.js';
import { TreeBuilder } from './tree-builder.js';
import { putBlobBytes, putDirectoryMessage } from './tree-io.js';
import { assembleTree } from './tree-message.js';
import { settleInOrder } from './tree-nodes.js';
import { treePathSegments } from './tree-paths.js';

export interface CaptureOptions {
  readonly signal?: AbortSignal;
}

/** What a REAPI ActionResult needs about a process's outputs, plus all of them as one tree. */
export interface CapturedOutputs {
  /** Sorted by path. */
  readonly outputFiles: OutputFile[];
  /** Sorted by path; each with `tree_digest` (a stored Tree), `root_directory_digest` and `is_topologically_sorted`. */
  readonly outputDirectories: OutputDirectory[];
  /** Declared outputs (files or directories) that are symlinks, kept as such (REAPI v2.1 `output_symlinks`). */
  readonly outputSymlinks: OutputSymlink[];
  /** A Directory holding every output at its path relative to the working directory. */
  readonly outputRoot: Digest;
}

/** File-system operations in flight at once across every capture of the process. */
const IO_CONCURRENCY = 64;
const io = new Limiter(IO_CONCURRENCY);

interface CapturedTree {
  readonly digest: Digest;
  /** Every Directory of the tree (root included) by digestString, in canonical form. */
  readonly directories: ReadonlyMap<string, Directory>;
}

/**
 * Stores a whole directory: files streamed into the CAS by putFile, with
 * the executable bit from their mode; symlinks kept as SymlinkNodes with
 * their target as is; sockets, FIFOs and devices skipped (no CAS can hold
 * them). `absDir` itself may be a symlink to a directory.
 */
export async function captureDirectory(store: LocalStore, absDir: string, options: CaptureOptions = {}): Promise<Digest> {
  const st = await fsStep(`capturing ${absDir}`, () => stat(absDir));
  if (!st.isDirectory()) throw new FailureError(failure('environment', 'capture-failed', `cannot capture ${absDir}: it is not a directory`));
  return withFanOutSignal(options.signal, async (signal) => (await captureTree(store, absDir, signal)).digest);
}

async function captureTree(store: LocalStore, absDir: string, signal?: AbortSignal): Promise<CapturedTree> {
  const directories = new Map<string, Directory>();
  const walk = async (abs: string): Promise<Digest> => {
    const entries = await io.run(() => fsStep(`listing ${abs}`, () => readdir(abs, { withFileTypes: true })), signal);
    const files: FileNode[] = [];
    const symlinks: SymlinkNode[] = [];
    const subdirs: Array<{ name: string; digest?: Digest }> = [];
    // One list of promises, awaited together, so that no rejection is ever left without a handler.
    const work: Array<Promise<void>> = [];
    for (const e of entries) {
      const name = e.name;
      const path = join(abs, name);
      if (e.isDirectory()) {
        const sub: { name: string; digest?: Digest } = { name };
        subdirs.push(sub);
        work.push(walk(path).then((d) => void (sub.digest = d)));
      } else if (e.isFile()) {
        work.push(
          io.run(async () => {
            const st = await fsStep(`reading ${path}`, () => lstat(path));
            const digest = await copyIntoStore(store, path, st.size, signal);
            files.push(create(FileNodeSchema, { name, digest: toProtoDigest(digest), isExecutable: isExecutable(st) }));
          }, signal),
        );
      } else if (e.isSymbolicLink()) {
        work.push(
          io.run(async () => {
            const target = await fsStep(`reading the symlink ${path}`, () => readlink(path));
            symlinks.push(create(SymlinkNodeSchema, { name, target }));
          }, signal),
        );
      }
    }
    await settleInOrder(work);
    const dirNodes = subdirs.map((s) => create(DirectoryNodeSchema, { name: s.name, digest: toProtoDigest(s.digest!) }));
    const { digest, directory } = await putDirectoryMessage(store, create(DirectorySchema, { files, directories: dirNodes, symlinks }), signal);
    directories.set(digestString(digest), directory);
    return digest;
  };
  const digest = await walk(absDir);
  return { digest, directories };
}

type CapturedOutput =
  | { readonly kind: 'file'; readonly path: string; readonly digest: Digest; readonly isExecutable: boolean }
  | { readonly kind: 'dir'; readonly path: string; readonly root: Digest; readonly tree: Digest }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

/**
 * Captures a finished process's declared outputs, with REAPI's semantics:
 * an output that does not exist is simply absent; an output that is a
 * symlink is reported as an OutputSymlink (whatever it points at); an
 * output file that turns out to be a directory, or an output directory that
 * is a file, is an `output-type-mismatch` input failure (REAPI's
 * FAILED_PRECONDITION: the rule declared it wrong, and guessing would give
 * a result that differs from remote execution's). Outputs of other types
 * (sockets, FIFOs) are absent. An output reached through a symlink that
 * leads out of the working directory is refused (`output-outside-workdir`),
 * so a process cannot make us store files it was not given.
 */
export async function captureOutputs(
  store: LocalStore,
  workDirAbs: string,
  outputFiles: readonly string[],
  outputDirectories: readonly string[],
  options: CaptureOptions = {},
): Promise<CapturedOutputs> {
  return withFanOutSignal(options.signal, (signal) => captureAll(store, workDirAbs, outputFiles, outputDirectories, signal));
}

async function captureAll(
  store: LocalStore,
  workDirAbs: string,
  outputFiles: readonly string[],
  outputDirectories: readonly string[],
  signal: AbortSignal | undefined,
): Promise<CapturedOutputs> {
  const files = [...new Set(outputFiles)];
  const dirs = [...new Set(outputDirectories)];
  for (const p of files) treePathSegments(p, 'output file');
  for (const p of dirs) treePathSegments(p, 'output directory', true);
  const realWorkDir = await fsStep(`resolving ${workDirAbs}`, () => realpath(workDirAbs));

  const captureOne = async (path: string, declared: 'file' | 'dir'): Promise<CapturedOutput | undefined> => {
    const abs = path === '' ? workDirAbs : join(workDirAbs, path);
    let st: Stats;
    try {
      st = await lstat(abs);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      return fsStep(`reading the output ${path}`, () => Promise.reject(e));
    }
    if (path !== '') {
      const parent = await fsStep(`resolving the output ${path}`, () => realpath(dirname(abs)));
      if (!isWithin(parent, realWorkDir)) {
        throw new FailureError(
          failure('input', 'output-outside-workdir', `output \`${path}\` lies outside the working directory (through a symlink to ${parent})`),
        );
      }
    }
    if (st.isSymbolicLink()) {
      const target = await fsStep(`reading the symlink ${path}`, () => readlink(abs));
      return { kind: 'symlink', path, target };
    }
    if (declared === 'file') {
      if (st.isDirectory()) throw typeMismatch(path, 'output file', 'a directory', 'output directory');
      if (!st.isFile()) return undefined;
      const digest = await io.run(() => copyIntoStore(store, abs, st.size, signal), signal);
      return { kind: 'file', path, digest, isExecutable: isExecutable(st) };
    }
    if (st.isFile()) throw typeMismatch(path, 'output directory', 'a file', 'output file');
    if (!st.isDirectory()) return undefined;
    const tree = await captureTree(store, abs, signal);
    const message = await assembleTree(tree.digest, (d) => tree.directories.get(digestString(d))!);
    const encoded = digestMessage(TreeSchema, message);
    await putBlobBytes(store, encoded.digest, encoded.bytes, signal);
    return { kind: 'dir', path, root: tree.digest, tree: encoded.digest };
  };

  const captured = await settleInOrder([...files.map((p) => captureOne(p, 'file')), ...dirs.map((p) => captureOne(p, 'dir'))]);
  const present = captured.filter((c): c is CapturedOutput => c !== undefined).sort((a, b) => compareUtf8(a.path, b.path));

  const builder = new TreeBuilder();
  const result = { outputFiles: [] as OutputFile[], outputDirectories: [] as OutputDirectory[], outputSymlinks: [] as OutputSymlink[] };
  for (const c of present) {
    switch (c.kind) {
      case 'file':
        builder.addFile(c.path, c.digest, c.isExecutable);
        result.outputFiles.push(create(OutputFileSchema, { path: c.path, digest: toProtoDigest(c.digest), isExecutable: c.isExecutable }));
        break;
      case 'dir':
        builder.addTree(c.path, c.root);
        result.outputDirectories.push(
          create(OutputDirectorySchema, {
            path: c.path,
            treeDigest: toProtoDigest(c.tree),
            isTopologicallySorted: true,
            rootDirectoryDigest: toProtoDigest(c.root),
          }),
        );
        break;
      case 'symlink':
        builder.addSymlink(c.path, c.target);
        result.outputSymlinks.push(create(OutputSymlinkSchema, { path: c.path, target: c.target }));
        break;
    }
  }
  return { ...result, outputRoot: await builder.build(store, signal) };
}

function isExecutable(st: Stats): boolean {
  return (st.mode & 0o111) !== 0;
}

function typeMismatch(path: string, declared: string, found: string, instead: string): FailureError {
  return new FailureError(
    failure('input', 'output-type-mismatch', `${declared} \`${path}\` is ${found}`, {
      hints: [`declare it as an ${instead} instead`],
    }),
  );
}

/** File-system errors while capturing are the machine's (permissions, a vanished directory), not bugs. */
async function fsStep<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (isFailureError(e) || isAbortError(e) || errnoCode(e) === undefined) throw e;
    throw new FailureError(failure('environment', 'capture-failed', `${what}: ${(e as Error).message}`));
  }
}
