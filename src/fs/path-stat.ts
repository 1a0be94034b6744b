import { raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { linkFailure } from './link-failure.js';
import { realPathOf } from './real-path.js';
import type { Workspace } from './workspace.js';

export type PathKind = 'file' | 'dir' | 'other' | 'missing';

/**
 * What is at a path, following symlinks inside the build root. A symlink that
 * leads out of the root or loops is an input failure naming it.
 */
export class PathKindKey implements Key<PathKind> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #path: string;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.#path = path;
    this.id = `path-kind:${path}`;
  }
  describe(): string {
    return `existence of ${this.#path || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<PathKind> {
    const real = await realPathOf(ctx, this.#ws, this.#path);
    switch (real.type) {
      case 'missing':
        return 'missing';
      case 'found':
        return real.kind === 'file' || real.kind === 'dir' ? real.kind : 'other';
      default:
        raise(linkFailure(real));
    }
  }
}
