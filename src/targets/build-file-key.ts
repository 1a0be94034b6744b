import { parseBuildFile, type BuildFileSyntax } from '../build-files/index.js';
import { raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { FileTextKey } from '../fs/index.js';
import type { Project } from './project.js';

/** A parsed BUILD file; a syntax error is memoized as the node's failure. */
export class BuildFileKey implements Key<BuildFileSyntax> {
  readonly id: string;
  readonly #project: Project;
  readonly #path: string;
  constructor(project: Project, path: string) {
    this.#project = project;
    this.#path = path;
    this.id = `build-file:${path}`;
  }
  describe(): string {
    return `parse ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<BuildFileSyntax> {
    // A BUILD file deleted between listing and reading declares nothing.
    // Through FileTextKey's own node: it re-resolves the path when a sibling
    // file comes or goes, and cuts off there, so the BUILD file is not parsed again.
    const text = (await ctx.get(new FileTextKey(this.#project.ws, this.#path, 'utf8-strict'))) ?? '';
    const r = parseBuildFile(this.#path, text, this.#project.symbols);
    if (!r.ok) raise(r.failure);
    return r.value;
  }
}
