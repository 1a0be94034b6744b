import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure } from '../core/index.js';
import type { Key } from '../engine/index.js';
import type { Workspace } from './workspace.js';

/** The text of a small file (BUILD files, .gitignore), or null when it does not exist. */
export class FileTextKey implements Key<string | null> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.path = path;
    this.id = `file-text:${path}`;
  }
  describe(): string {
    return `contents of ${this.path}`;
  }
  async compute(): Promise<string | null> {
    try {
      return await readFile(join(this.#ws.root, this.path), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
      raise(failure('environment', 'fs-read', `cannot read ${this.path}: ${(e as Error).message}`));
    }
  }
}
