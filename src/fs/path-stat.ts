import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Key } from '../engine/index.js';
import type { Workspace } from './workspace.js';

export type PathKind = 'file' | 'dir' | 'other' | 'missing';

/** What is at a path (following symlinks): a file-system key. */
export class PathKindKey implements Key<PathKind> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.path = path;
    this.id = `path-kind:${path}`;
  }
  describe(): string {
    return `existence of ${this.path || '.'}`;
  }
  async compute(): Promise<PathKind> {
    try {
      const s = await stat(join(this.#ws.root, this.path));
      return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
    } catch {
      return 'missing';
    }
  }
}
