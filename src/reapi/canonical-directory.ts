import { create } from '@bufbuild/protobuf';
import { err, failure, ok, type Failure, type Result } from '../core/index.js';
import {
  DirectoryNodeSchema,
  DirectorySchema,
  FileNodeSchema,
  NodePropertiesSchema,
  NodePropertySchema,
  SymlinkNodeSchema,
  type Directory,
  type NodeProperties,
} from './schemas.js';
import { fromProtoDigest } from './digest.js';
import { compareUtf8, isWellFormedUnicode } from './utf8-order.js';

/**
 * Checks one name inside a Directory: exactly one path segment, so a tree
 * cannot smuggle `..` or `a/b` past a sandbox when it is materialized.
 * Returns undefined when the name is fine.
 */
export function checkPathSegment(name: string, where = 'directory entry'): Failure | undefined {
  const bad = (why: string): Failure =>
    failure('input', 'invalid-path-segment', `${where} ${JSON.stringify(name)} ${why}`);
  if (name === '') return bad('is empty');
  if (name === '.' || name === '..') return bad('is not allowed as a name');
  if (name.includes('/')) return bad("contains '/'");
  if (name.includes('\0')) return bad('contains a NUL character');
  if (!isWellFormedUnicode(name)) return bad('is not valid Unicode');
  return undefined;
}

/** Node properties sorted by name (then value, so that the order is total). */
export function canonicalNodeProperties(p: NodeProperties | undefined): NodeProperties | undefined {
  if (p === undefined) return undefined;
  const properties = p.properties
    .map((q) => create(NodePropertySchema, { name: q.name, value: q.value }))
    .sort((a, b) => compareUtf8(a.name, b.name) || compareUtf8(a.value, b.value));
  return create(NodePropertiesSchema, { properties, mtime: p.mtime, unixMode: p.unixMode });
}

/**
 * Returns `dir` in REAPI's canonical form — files, directories and symlinks
 * each sorted by name in UTF-8 byte order, node properties sorted — or a
 * Failure when it cannot have one: a name that is not a single segment, a
 * name used twice (across all three lists), or a file or directory without a
 * valid digest. The input is not modified.
 */
export function canonicalDirectory(dir: Directory): Result<Directory> {
  const seen = new Set<string>();
  for (const node of [...dir.files, ...dir.directories, ...dir.symlinks]) {
    const bad = checkPathSegment(node.name);
    if (bad) return err(bad);
    if (seen.has(node.name)) {
      return err(failure('input', 'duplicate-name', `directory entry ${JSON.stringify(node.name)} appears more than once`));
    }
    seen.add(node.name);
  }
  for (const node of [...dir.files, ...dir.directories]) {
    const d = fromProtoDigest(node.digest, `digest of ${JSON.stringify(node.name)}`);
    if (!d.ok) return d;
  }
  for (const s of dir.symlinks) {
    if (s.target === '' || s.target.includes('\0') || !isWellFormedUnicode(s.target)) {
      return err(failure('input', 'invalid-symlink', `symlink ${JSON.stringify(s.name)} has an invalid target ${JSON.stringify(s.target)}`));
    }
  }
  const plain = plainDirectory(dir);
  if (plain !== undefined) return ok(plain);
  return ok(canonicalByCreate(dir));
}

const byName = (a: { name: string }, b: { name: string }): number => compareUtf8(a.name, b.name);
const DIGEST = 'build.bazel.remote.execution.v2.Digest';

/**
 * canonicalDirectory's result for a Directory without node properties, whose
 * digests are messages, built as object literals: the same messages (fields,
 * key order, shared digests) protobuf-es's create makes, which every tree
 * walk would otherwise pay for, and which would load the schemas in a run
 * that only reads trees (scripts/lazy-modules.mjs). canonical.test.ts
 * compares the two. Undefined for anything else.
 */
function plainDirectory(dir: Directory): Directory | undefined {
  if (dir.nodeProperties !== undefined) return undefined;
  for (const f of dir.files) if (f.nodeProperties !== undefined || (f.digest !== undefined && f.digest.$typeName !== DIGEST)) return undefined;
  for (const d of dir.directories) if (d.digest !== undefined && d.digest.$typeName !== DIGEST) return undefined;
  for (const l of dir.symlinks) if (l.nodeProperties !== undefined) return undefined;
  return {
    $typeName: 'build.bazel.remote.execution.v2.Directory',
    files: dir.files
      .map((f) =>
        f.digest === undefined
          ? { $typeName: 'build.bazel.remote.execution.v2.FileNode', name: f.name, isExecutable: f.isExecutable }
          : { $typeName: 'build.bazel.remote.execution.v2.FileNode', name: f.name, isExecutable: f.isExecutable, digest: f.digest },
      )
      .sort(byName),
    directories: dir.directories
      .map((d) =>
        d.digest === undefined ? { $typeName: 'build.bazel.remote.execution.v2.DirectoryNode', name: d.name } : { $typeName: 'build.bazel.remote.execution.v2.DirectoryNode', name: d.name, digest: d.digest },
      )
      .sort(byName),
    symlinks: dir.symlinks.map((l) => ({ $typeName: 'build.bazel.remote.execution.v2.SymlinkNode', name: l.name, target: l.target })).sort(byName),
  } as Directory;
}

/** canonicalDirectory's result by protobuf-es's create (exported for canonical.test.ts, which holds plainDirectory to it). */
export function canonicalByCreate(dir: Directory): Directory {
  return (
    create(DirectorySchema, {
      files: dir.files
        .map((f) =>
          create(FileNodeSchema, {
            name: f.name,
            digest: f.digest,
            isExecutable: f.isExecutable,
            nodeProperties: canonicalNodeProperties(f.nodeProperties),
          }),
        )
        .sort(byName),
      directories: dir.directories.map((d) => create(DirectoryNodeSchema, { name: d.name, digest: d.digest })).sort(byName),
      symlinks: dir.symlinks
        .map((s) =>
          create(SymlinkNodeSchema, {
            name: s.name,
            target: s.target,
            nodeProperties: canonicalNodeProperties(s.nodeProperties),
          }),
        )
        .sort(byName),
      nodeProperties: canonicalNodeProperties(dir.nodeProperties),
    })
  );
}

/**
 * Why `dir` as given is not in REAPI's canonical order, or undefined when
 * it is: files, directories and symlinks each strictly ascending by name
 * in UTF-8 byte order (so no name twice within a list), and node
 * properties by name. REAPI: "The files, directories and symlinks in the
 * directory must each be sorted in lexicographical order by path", so that
 * one tree has one digest. (canonicalDirectory would sort such a message
 * silently; a server must refuse it instead, since its digest is not the
 * tree's.)
 */
export function canonicalOrderViolation(dir: Directory): string | undefined {
  const lists: Array<[string, ReadonlyArray<{ readonly name: string }>]> = [
    ['files', dir.files],
    ['directories', dir.directories],
    ['symlinks', dir.symlinks],
  ];
  for (const [what, list] of lists) {
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!.name;
      const b = list[i]!.name;
      const c = compareUtf8(a, b);
      if (c === 0) return `${what} lists ${JSON.stringify(a)} twice`;
      if (c > 0) return `${what} are not sorted by name (${JSON.stringify(a)} comes before ${JSON.stringify(b)})`;
    }
  }
  const nodes: Array<[string, NodeProperties | undefined]> = [
    ['the directory', dir.nodeProperties],
    ...dir.files.map((f): [string, NodeProperties | undefined] => [`file ${JSON.stringify(f.name)}`, f.nodeProperties]),
    ...dir.symlinks.map((l): [string, NodeProperties | undefined] => [`symlink ${JSON.stringify(l.name)}`, l.nodeProperties]),
  ];
  for (const [what, props] of nodes) {
    const list = props?.properties ?? [];
    for (let i = 1; i < list.length; i++) {
      if (compareUtf8(list[i - 1]!.name, list[i]!.name) > 0) return `the node properties of ${what} are not sorted by name`;
    }
  }
  return undefined;
}
