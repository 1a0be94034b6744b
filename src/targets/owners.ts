import picomatch from 'picomatch';
import { ancestorsRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { PathKindKey } from '../fs/index.js';
import { compareAddresses, formatAddress, type Address } from './address.js';
import { DirTargetsKey } from './dir-targets.js';
import type { Target } from './target.js';
import type { Project } from './project.js';

/**
 * The targets that own a file: the most specific ones, so a file in `files(...)`
 * is owned by its generated `file` target, not by the generator. A file that no
 * longer exists is owned by the targets whose `sources` patterns would match it,
 * so `--changed-since` still finds who cared about a deleted file.
 */
export class OwnersKey implements Key<readonly Address[]> {
  readonly id: string;
  readonly #project: Project;
  readonly #path: string;
  constructor(project: Project, path: string) {
    this.#project = project;
    this.#path = path;
    this.id = `owners:${path}`;
  }
  describe(): string {
    return `owners of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly Address[]> {
    const dirs = [...ancestorsRel(this.#path)];
    const all = await ctx.getAll(dirs.map((d) => new DirTargetsKey(this.#project, d)));
    const candidates: Target[] = [];
    for (const dt of all) for (const t of dt.targets) if (t.sources.includes(this.#path)) candidates.push(t);
    if (candidates.length === 0 && (await ctx.get(new PathKindKey(this.#project.ws, this.#path))) === 'missing') {
      for (const dt of all) for (const t of dt.targets) if (t.generatedFrom === undefined && matchesPatterns(t, this.#path)) candidates.push(t);
    }
    const owned = new Set(candidates.map((t) => t.address));
    // Drop a generator when one of its generated targets owns the file.
    const owners = candidates.filter((t) => !(t.generated ?? []).some((g) => owned.has(formatAddress(g))));
    return owners.sort((a, b) => compareAddresses(a.address, b.address)).map((t) => t.addr);
  }
}

function matchesPatterns(t: Target, path: string): boolean {
  const inc = t.sourcePatterns.filter((p) => !p.startsWith('!'));
  const exc = t.sourcePatterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return picomatch.isMatch(path, inc) && (exc.length === 0 || !picomatch.isMatch(path, exc));
}

