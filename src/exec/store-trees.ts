// INTERIM: the tree operations exec needs, with the signatures src/store is
// adding (materializeTree, captureOutputs, outputRootOf, treeFromBytes,
// mergeTrees, EMPTY_TREE_DIGEST). exec imports them only from this file, so
// when they land in ../store/index.js this file becomes a re-export.
import { create } from '@bufbuild/protobuf';
import { lstat, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EMPTY_DIGEST, FailureError, digestOf, digestString, failure, type Digest } from '../core/index.js';
import type { LocalStore } from '../store/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  FileNodeSchema,
  OutputDirectorySchema,
  OutputFileSchema,
  OutputSymlinkSchema,
  SymlinkNodeSchema,
  TreeSchema,
  canonicalDirectory,
  decodeMessage,
  digestMessage,
  fromProtoDigest,
  toProtoDigest,
  type ActionResult,
  type Directory,
  type OutputDirectory,
  type OutputFile,
  type OutputSymlink,
} from '../remote/proto/index.js';

export const EMPTY_TREE_DIGEST: Digest = EMPTY_DIGEST;

function missing(what: string, d: Digest): FailureError {
  return new FailureError(failure('environment', 'missing-blob', `${what} (${digestString(d)}) is not in the local store`));
}

async function readDir(store: LocalStore, d: Digest, signal?: AbortSignal): Promise<Directory> {
  const bytes = await store.getBytes(d, signal);
  if (bytes === undefined) throw missing('directory', d);
  const r = decodeMessage(DirectorySchema, bytes);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

async function putDir(store: LocalStore, dir: Directory): Promise<Digest> {
  const c = canonicalDirectory(dir);
  if (!c.ok) throw new FailureError(c.failure);
  const { digest, bytes } = digestMessage(DirectorySchema, c.value);
  await store.put(digest, bytes);
  return digest;
}

function dig(p: Parameters<typeof fromProtoDigest>[0], what: string): Digest {
  const r = fromProtoDigest(p, what);
  if (!r.ok) throw new FailureError(r.failure);
  return r.value;
}

export async function materializeTree(
  store: LocalStore,
  digest: Digest,
  destDir: string,
  opts: { mode: 'hardlink' | 'copy'; signal?: AbortSignal },
): Promise<void> {
  await mkdir(destDir, { recursive: true });
  const dir = await readDir(store, digest, opts.signal);
  for (const f of dir.files) {
    const d = dig(f.digest, f.name);
    const how = await store.materializeFile(d, join(destDir, f.name), { executable: f.isExecutable, mode: opts.mode }, opts.signal);
    if (how === undefined) throw missing(`input file ${f.name}`, d);
  }
  for (const s of dir.symlinks) await symlink(s.target, join(destDir, s.name));
  for (const sub of dir.directories) {
    await materializeTree(store, dig(sub.digest, sub.name), join(destDir, sub.name), opts);
  }
}

/** A directory being assembled in memory. */
class Builder {
  readonly files = new Map<string, { digest: Digest; exec: boolean }>();
  readonly dirs = new Map<string, Builder>();
  readonly links = new Map<string, string>();

  at(segments: readonly string[]): Builder {
    let b = this as Builder;
    for (const s of segments) {
      let next = b.dirs.get(s);
      if (next === undefined) {
        next = new Builder();
        b.dirs.set(s, next);
      }
      b = next;
    }
    return b;
  }

  async addDirectory(store: LocalStore, d: Digest): Promise<void> {
    const dir = await readDir(store, d);
    for (const f of dir.files) this.files.set(f.name, { digest: dig(f.digest, f.name), exec: f.isExecutable });
    for (const s of dir.symlinks) this.links.set(s.name, s.target);
    for (const sub of dir.directories) await this.at([sub.name]).addDirectory(store, dig(sub.digest, sub.name));
  }

  async put(store: LocalStore): Promise<Digest> {
    const directories = [];
    for (const [name, b] of this.dirs) directories.push(create(DirectoryNodeSchema, { name, digest: toProtoDigest(await b.put(store)) }));
    return putDir(
      store,
      create(DirectorySchema, {
        files: [...this.files].map(([name, f]) => create(FileNodeSchema, { name, digest: toProtoDigest(f.digest), isExecutable: f.exec })),
        directories,
        symlinks: [...this.links].map(([name, target]) => create(SymlinkNodeSchema, { name, target })),
      }),
    );
  }
}

function split(path: string): { parent: string[]; name: string } {
  const segs = path.split('/');
  return { parent: segs.slice(0, -1), name: segs[segs.length - 1] ?? '' };
}

async function captureDir(store: LocalStore, abs: string, all: Directory[]): Promise<Directory> {
  const files = [];
  const directories = [];
  const symlinks = [];
  for (const e of await readdir(abs, { withFileTypes: true })) {
    const p = join(abs, e.name);
    if (e.isSymbolicLink()) symlinks.push(create(SymlinkNodeSchema, { name: e.name, target: await readlink(p) }));
    else if (e.isFile()) {
      const st = await lstat(p);
      files.push(create(FileNodeSchema, { name: e.name, digest: toProtoDigest(await store.putFile(p)), isExecutable: (st.mode & 0o100) !== 0 }));
    } else if (e.isDirectory()) {
      const child = await captureDir(store, p, all);
      const { digest, bytes } = digestMessage(DirectorySchema, child);
      await store.put(digest, bytes);
      directories.push(create(DirectoryNodeSchema, { name: e.name, digest: toProtoDigest(digest) }));
    }
  }
  const c = canonicalDirectory(create(DirectorySchema, { files, directories, symlinks }));
  if (!c.ok) throw new FailureError(c.failure);
  all.push(c.value);
  return c.value;
}

export async function captureOutputs(
  store: LocalStore,
  workDirAbs: string,
  outputFiles: readonly string[],
  outputDirectories: readonly string[],
): Promise<{ outputFiles: OutputFile[]; outputDirectories: OutputDirectory[]; outputSymlinks: OutputSymlink[]; outputRoot: Digest }> {
  const root = new Builder();
  const files: OutputFile[] = [];
  const dirs: OutputDirectory[] = [];
  const links: OutputSymlink[] = [];
  for (const path of [...new Set(outputFiles)].sort()) {
    const abs = join(workDirAbs, path);
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined) continue;
    const { parent, name } = split(path);
    if (st.isSymbolicLink()) {
      const target = await readlink(abs);
      links.push(create(OutputSymlinkSchema, { path, target }));
      root.at(parent).links.set(name, target);
    } else if (st.isFile()) {
      const digest = await store.putFile(abs);
      const exec = (st.mode & 0o100) !== 0;
      files.push(create(OutputFileSchema, { path, digest: toProtoDigest(digest), isExecutable: exec }));
      root.at(parent).files.set(name, { digest, exec });
    }
  }
  for (const path of [...new Set(outputDirectories)].sort()) {
    const abs = path === '' ? workDirAbs : join(workDirAbs, path);
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) continue;
    const all: Directory[] = [];
    const top = await captureDir(store, abs, all);
    const { digest: rootDigest, bytes: rootBytes } = digestMessage(DirectorySchema, top);
    await store.put(rootDigest, rootBytes);
    const tree = create(TreeSchema, { root: top, children: all.slice(0, -1) });
    const { digest: treeDigest, bytes } = digestMessage(TreeSchema, tree);
    await store.put(treeDigest, bytes);
    dirs.push(create(OutputDirectorySchema, { path, treeDigest: toProtoDigest(treeDigest) }));
    await root.at(path === '' ? [] : path.split('/')).addDirectory(store, rootDigest);
  }
  return { outputFiles: files, outputDirectories: dirs, outputSymlinks: links, outputRoot: await root.put(store) };
}

export async function outputRootOf(store: LocalStore, ar: ActionResult): Promise<Digest> {
  const root = new Builder();
  for (const f of ar.outputFiles) {
    const { parent, name } = split(f.path);
    root.at(parent).files.set(name, { digest: dig(f.digest, f.path), exec: f.isExecutable });
  }
  for (const s of ar.outputSymlinks) {
    const { parent, name } = split(s.path);
    root.at(parent).links.set(name, s.target);
  }
  for (const od of ar.outputDirectories) {
    const td = dig(od.treeDigest, `tree of ${od.path}`);
    const bytes = await store.getBytes(td);
    if (bytes === undefined) throw missing(`tree of ${od.path}`, td);
    const tree = decodeMessage(TreeSchema, bytes);
    if (!tree.ok) throw new FailureError(tree.failure);
    for (const d of [...tree.value.children, ...(tree.value.root ? [tree.value.root] : [])]) {
      const { digest, bytes: b } = digestMessage(DirectorySchema, d);
      await store.put(digest, b);
    }
    const { digest } = digestMessage(DirectorySchema, tree.value.root ?? create(DirectorySchema));
    await root.at(od.path === '' ? [] : od.path.split('/')).addDirectory(store, digest);
  }
  return root.put(store);
}

export async function treeFromBytes(
  store: LocalStore,
  files: { path: string; content: Uint8Array | string; isExecutable?: boolean }[],
): Promise<Digest> {
  const root = new Builder();
  for (const f of files) {
    const bytes = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    const { parent, name } = split(f.path);
    root.at(parent).files.set(name, { digest, exec: f.isExecutable ?? false });
  }
  return root.put(store);
}

export async function mergeTrees(store: LocalStore, digests: readonly Digest[]): Promise<Digest> {
  const root = new Builder();
  for (const d of digests) await root.addDirectory(store, d);
  return root.put(store);
}
