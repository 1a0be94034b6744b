import picomatch from 'picomatch';
import { basenameRel, closest, dirnameRel, failure, joinRel, raise, toRelPath, type Failure } from '../core/index.js';
import { deepEqual, type ComputeContext, type Key } from '../engine/index.js';
import { FilesUnderKey, PathKindKey, isGlobPattern } from '../fs/index.js';
import type { Address } from './address.js';
import { targetAt } from './dependencies.js';
import type { Target } from './target.js';
import { parseAddressInput, resolveAddressInput } from './address-input.js';
import { DirTargetsKey } from './dir-targets.js';
import { OwnersKey } from './owners.js';
import { nearestPath } from './near-path.js';
import { TargetDirsUnderKey } from './synthetic.js';
import type { Project } from './project.js';

/**
 * One command-line spec, as in Pants:
 * `dir:name` / `dir/f.txt:gen` (address), `dir:` (targets in dir), `dir::` (and
 * below), `::`, `dir` or `dir/file.txt` (path), `'src/**\/*.txt'` (glob); a
 * leading `-` excludes. Paths are relative to the working directory unless they
 * start with `//`.
 */
export interface Spec {
  readonly raw: string;
  readonly exclude: boolean;
  readonly kind: 'address' | 'dir' | 'recursive' | 'path' | 'glob';
  /** Root-relative directory, file path or glob. */
  readonly path: string;
  readonly name?: string;
}

function usage(message: string, hint?: string): Failure {
  return failure('input', 'bad-spec', message, { exitCode: 2, ...(hint ? { hints: [hint] } : {}) });
}

export function parseSpec(raw: string, cwd: string): Spec | Failure {
  const exclude = raw.startsWith('-') && raw.length > 1;
  let body = exclude ? raw.slice(1) : raw;
  let base = cwd;
  if (body.startsWith('//')) {
    body = body.slice(2);
    base = '';
  }
  const rel = (p: string): string | undefined => (p.startsWith('/') ? undefined : toRelPath(joinRel(base, p)));
  const outside = usage(`spec \`${raw}\` points outside the build root`, 'specs are paths relative to the working directory, or to the build root when they start with //');
  if (body.endsWith('::')) {
    const dir = rel(body.slice(0, -2));
    return dir === undefined ? outside : { raw, exclude, kind: 'recursive', path: dir };
  }
  if (body.endsWith(':')) {
    const dir = rel(body.slice(0, -1));
    return dir === undefined ? outside : { raw, exclude, kind: 'dir', path: dir };
  }
  const colon = body.indexOf(':');
  if (colon >= 0) {
    const path = colon === 0 ? base : rel(body.slice(0, colon));
    if (path === undefined) return outside;
    const parsed = parseAddressInput(`//${path}${body.slice(colon)}`, '');
    if (typeof parsed === 'string') return usage(`bad spec \`${raw}\`: ${parsed}`);
    return { raw, exclude, kind: 'address', path: parsed.path, ...(parsed.name !== undefined ? { name: parsed.name } : {}) };
  }
  const path = rel(body);
  if (path === undefined) return outside;
  return { raw, exclude, kind: isGlobPattern(body) ? 'glob' : 'path', path };
}

/**
 * Resolves specs to targets (sorted by address, unique): the union of the
 * include specs minus the exclude ones. An include spec that matches nothing is
 * an error that names it. An engine key, so the daemon answers a repeated query
 * from memory and a one-file edit recomputes only what it touched.
 */
export class SpecsKey implements Key<readonly Target[]> {
  readonly id: string;
  readonly #project: Project;
  readonly #specs: readonly Spec[];
  constructor(project: Project, specs: readonly Spec[]) {
    this.#project = project;
    this.#specs = specs;
    this.id = `specs:${JSON.stringify(specs.map((s) => [s.exclude, s.kind, s.path, s.name ?? null]))}`;
  }
  describe(): string {
    return `targets matching ${this.#specs.map((s) => s.raw).join(' ')}`;
  }
  /**
   * Targets of directories whose targets did not change are the very objects of
   * the last answer (the engine keeps an equal value's old object), so identity
   * settles almost every element without a deep comparison.
   */
  equal(a: readonly Target[], b: readonly Target[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !deepEqual(a[i], b[i])) return false;
    return true;
  }
  async compute(ctx: ComputeContext): Promise<readonly Target[]> {
    const included = new Map<string, Target>();
    const excluded = new Set<string>();
    const results = await Promise.all(this.#specs.map((s) => expandSpec(ctx, this.#project, s)));
    for (const [i, spec] of this.#specs.entries()) {
      const found = results[i]!;
      if (spec.exclude) {
        for (const a of found) excluded.add(a.address);
        continue;
      }
      if (found.length === 0) raise(await noMatch(ctx, this.#project, spec));
      for (const t of found) included.set(t.address, t);
    }
    for (const a of excluded) included.delete(a);
    // Plain sort() orders by UTF-16 code units, as compareAddresses does, and is much faster.
    return [...included.keys()].sort().map((a) => included.get(a)!);
  }
}

/**
 * The addresses of SpecsKey's targets, in its order: what `list` prints. A
 * node of its own so that a run that only lists — most often a process
 * without a daemon, answering from the kept graph — reads a list of strings
 * rather than every target in full (SpecsKey's value for `::` is 1 MB at 200
 * packages, 5 MB at 1,000, deserialized whole).
 */
export class SpecAddressesKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #targets: SpecsKey;
  constructor(project: Project, specs: readonly Spec[]) {
    this.#targets = new SpecsKey(project, specs);
    this.id = `spec-addresses:${this.#targets.id.slice('specs:'.length)}`;
  }
  describe(): string {
    return `addresses of ${this.#targets.describe()}`;
  }
  equal(a: readonly string[], b: readonly string[]): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    return (await ctx.get(this.#targets)).map((t) => t.address);
  }
}

async function noMatch(ctx: ComputeContext, project: Project, spec: Spec): Promise<Failure> {
  if (spec.kind === 'recursive' || spec.kind === 'dir') {
    // A directory that is not there is a typo far more often than an empty one.
    const kind = spec.path === '' ? 'dir' : await ctx.get(new PathKindKey(project.ws, spec.path));
    if (kind !== 'dir') {
      const dirs = (await ctx.get(new TargetDirsUnderKey(project, ''))).filter((d) => d !== '');
      const near = closest(spec.path, dirs);
      const suffix = spec.kind === 'recursive' ? '::' : ':';
      return failure('input', 'no-such-dir', `spec \`${spec.raw}\`: the directory \`${spec.path}\` ${kind === 'missing' ? 'does not exist' : 'is not a directory'}`, {
        hints: [
          near !== undefined
            ? `did you mean \`${near}${suffix}\`?`
            : 'specs are paths relative to the working directory, or to the build root when they start with //',
        ],
      });
    }
    return failure('input', 'spec-matched-nothing', `spec \`${spec.raw}\` matched no targets`, {
      hints: [`the directory \`${spec.path || '//'}\` exists, but no BUILD file ${spec.kind === 'recursive' ? 'in or under' : 'in'} it declares targets; \`trews help targets\` lists the target types`],
    });
  }
  if (spec.kind === 'glob') {
    return failure('input', 'spec-matched-nothing', `spec \`${spec.raw}\` matched no targets`, {
      hints: ['no file that a target owns matches the glob (specs are relative to the working directory); `trews list ::` lists every target'],
    });
  }
  return failure('input', 'spec-matched-nothing', `spec \`${spec.raw}\` matched no targets`, { hints: ['check the spelling, or run `trews list ::` to see every target'] });
}

/**
 * `trews test p2` where `p2` is a target of the directory, not a file: the
 * most common slip is a target name written as a path. Otherwise the
 * nearest existing path.
 */
async function noSuchPath(ctx: ComputeContext, project: Project, spec: Spec): Promise<Failure> {
  const dir = dirnameRel(spec.path);
  const name = basenameRel(spec.path);
  const inDir = (await ctx.get(new PathKindKey(project.ws, dir))) === 'dir' ? (await ctx.get(new DirTargetsKey(project, dir))).targets : [];
  const rawSlash = spec.raw.lastIndexOf('/');
  let hint = 'specs are paths relative to the working directory, or to the build root when they start with //';
  if (inDir.some((t) => t.addr.name === name && t.addr.dir === dir)) {
    hint = `did you mean the target \`${rawSlash < 0 ? '' : spec.raw.slice(0, rawSlash)}:${name}\`? (a spec without \`:\` is a path)`;
  } else {
    const near = await nearestPath(ctx, project.ws, spec.path);
    if (near !== undefined) hint = `did you mean \`${dirnameRel(near) === dir && spec.raw.endsWith(name) ? `${spec.raw.slice(0, spec.raw.length - name.length)}${basenameRel(near)}` : `//${near}`}\`?`;
  }
  return failure('input', 'no-such-path', `spec \`${spec.raw}\`: \`${spec.path}\` does not exist`, { hints: [hint] });
}

/**
 * A file spec means the file: when a per-file target owns it (a generated
 * target, a package's source file), the targets that only list it among many
 * (its package, the scripts that read it) are left out, as Pants answers a
 * file spec with the file's own target. `OwnersKey` keeps them all, for
 * `--changed-since`.
 */
function mostSpecific(targets: readonly Target[]): readonly Target[] {
  return targets.some((t) => t.addr.file !== undefined) ? targets.filter((t) => t.addr.file !== undefined) : targets;
}

async function targetsOf(ctx: ComputeContext, project: Project, addrs: readonly Address[]): Promise<Target[]> {
  return Promise.all(addrs.map((a) => targetAt(ctx, project, a)));
}

async function expandSpec(ctx: ComputeContext, project: Project, spec: Spec): Promise<readonly Target[]> {
  switch (spec.kind) {
    case 'recursive': {
      const dirs = await ctx.get(new TargetDirsUnderKey(project, spec.path));
      const all = await ctx.getAll(dirs.map((d) => new DirTargetsKey(project, d)));
      return all.flatMap((dt) => dt.targets);
    }
    case 'dir':
      return (await ctx.get(new DirTargetsKey(project, spec.path))).targets;
    case 'address':
      return targetsOf(ctx, project, await resolveAddressInput(ctx, project, { raw: spec.raw, path: spec.path, ...(spec.name !== undefined ? { name: spec.name } : {}) }, { what: '' }));
    case 'path': {
      const kind = await ctx.get(new PathKindKey(project.ws, spec.path));
      if (kind === 'missing') raise(await noSuchPath(ctx, project, spec));
      if (kind === 'dir') return (await ctx.get(new DirTargetsKey(project, spec.path))).targets;
      return mostSpecific(await targetsOf(ctx, project, await ctx.get(new OwnersKey(project, spec.path))));
    }
    case 'glob': {
      const scan = picomatch.scan(spec.path);
      const base = toRelPath(scan.base) ?? '';
      const m = picomatch(spec.path, { dot: false });
      const files = (await ctx.get(new FilesUnderKey(project.ws, base))).files.filter((f) => m(f));
      const owners = await ctx.getAll(files.map((f) => new OwnersKey(project, f)));
      return (await Promise.all(owners.map(async (o) => mostSpecific(await targetsOf(ctx, project, o))))).flat();
    }
  }
}
