import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_DIR, type AbsPath } from '../core/index.js';
import type { FileDigestIndex } from './file-digest-index.js';

/** The file-system rules that decide what trews sees in a build root. */
export interface FsRules {
  /** Globs for BUILD file names (`BUILD`, `BUILD.*`). */
  readonly buildPatterns: readonly string[];
  /** gitignore-syntax patterns relative to the build root (the `ignore` option). */
  readonly ignorePatterns: readonly string[];
  /** Honour `.gitignore` files (root and nested) as well. */
  readonly useGitignore: boolean;
  /**
   * The largest BUILD (or `.gitignore`) file trews reads, in bytes (the
   * `build_file_max_size` option; default DEFAULT_TEXT_FILE_MAX_BYTES). A
   * bigger one is an error rather than seconds of reading and parsing.
   */
  readonly textFileMaxBytes?: number;
}

/** 10 MiB: a generated BUILD file of 100,000 targets is about 5 MiB. */
export const DEFAULT_TEXT_FILE_MAX_BYTES = 10 * 1024 * 1024;

/**
 * A build root as the file-system keys see it. One per engine: keys carry it but
 * it is not part of their ids, because an engine never serves two roots.
 */
export interface Workspace {
  readonly root: AbsPath;
  readonly rules: FsRules;
  /** Digests persisted by earlier processes (file-digest-index.ts), asked before a file is hashed. */
  readonly digestIndex?: FileDigestIndex;
}

/** The absolute path of a build root's work directory. */
export function workDirOf(root: string): string {
  return join(root, WORK_DIR);
}

/**
 * Creates the work directory if needed, with a `.gitignore` of `*` in it
 * so git ignores it out of the box, as it would a `.git`: nothing in it is
 * a source (logs, run history, the daemon's files). A `.gitignore` already
 * there is left as it is. Best effort: a read-only checkout still builds.
 */
export function ensureWorkDir(root: string): void {
  const dir = workDirOf(root);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.gitignore'), '# Written by trews: nothing here belongs in git.\n*\n', { flag: 'wx' });
  } catch {
    // exists already, or cannot be written
  }
}

/** Directories trews never looks into, whatever the ignore rules say. */
export const ALWAYS_IGNORED_DIRS: ReadonlySet<string> = new Set(['.git', WORK_DIR]);
