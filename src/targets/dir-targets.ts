import { locationOf, type BuildFileSyntax, type CallStatement, type KeywordArg, type ValueNode } from '../build-files/index.js';
import { basenameRel, closest, failure, firstSentence, joinRel, raise, toRelPath, type Location } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import picomatch from 'picomatch';
import { BuildFilesInDirKey, GlobKey, isGlobPattern, ListingKey, PathKindKey } from '../fs/index.js';
import { nearestPath } from './near-path.js';
import { checkTargetName, compareAddresses, formatAddress, type Address } from './address.js';
import { BuildFileKey } from './build-file-key.js';
import { convertField, type FieldSpec, type FieldValue } from './fields.js';
import type { BuildDeclaration, SyntheticTarget } from './synthetic.js';
import type { DependencyRef, Target } from './target.js';
import type { Project } from './project.js';
import type { TargetType } from './target-type.js';

/**
 * Compiled matchers by pattern, a pure memo (as fs/glob.ts keeps): compiling
 * one per target and pattern cost ~50 ms of a cold `package ::` of 200
 * packages. Each keeps the pattern's regular expression only: a picomatch
 * matcher keeps its whole parse alive (~4 KiB), and a daemon on 1,000
 * packages held 2,000 of them, 8 MiB of its heap. On POSIX paths that
 * matcher is exactly this: the path itself, or a match of the expression.
 * Exported for its test only.
 */
const compiled = new Map<string, (path: string) => boolean>();
const COMPILED_MAX = 10_000;

export function compiledGlob(pattern: string): (path: string) => boolean {
  let m = compiled.get(pattern);
  if (m === undefined) {
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    m = globTest(pattern, picomatch.makeRe(pattern, { dot: false }));
    compiled.set(pattern, m);
  }
  return m;
}

/** Apart from `compiledGlob`, so the closure holds the pattern and its expression and nothing else of the caller. */
function globTest(pattern: string, re: RegExp): (path: string) => boolean {
  return (path) => path !== '' && (path === pattern || re.test(path));
}

/**
 * Every target of one directory, sorted by address: declared in (or generated
 * from) its BUILD files, and declared by backends without them (synthetic.ts),
 * merged by name: a BUILD target of the synthetic one's type extends it, one
 * of another type replaces it.
 */
export interface DirTargets {
  readonly dir: string;
  readonly targets: readonly Target[];
}

export class DirTargetsKey implements Key<DirTargets> {
  readonly id: string;
  readonly #project: Project;
  readonly #dir: string;
  constructor(project: Project, dir: string) {
    this.#project = project;
    this.#dir = dir;
    this.id = `dir-targets:${dir}`;
  }
  describe(): string {
    return `targets in ${this.#dir || '//'}`;
  }
  async compute(ctx: ComputeContext): Promise<DirTargets> {
    const files = await ctx.get(new BuildFilesInDirKey(this.#project.ws, this.#dir));
    const syntaxes = await ctx.getAll(files.map((f) => new BuildFileKey(this.#project, f)));
    const declared: Declared[] = [];
    for (const syntax of syntaxes) {
      for (const call of syntax.calls) declared.push(declare(this.#project, this.#dir, syntax, call));
    }
    checkUniqueNames(declared);
    const synthetic = await syntheticTargets(ctx, this.#project, this.#dir, declared);
    const targets: Target[] = [];
    for (const d of declared) {
      const s = synthetic.get(d.name);
      synthetic.delete(d.name);
      if (s !== undefined && s.type === d.type.alias) targets.push(extended(this.#project, this.#dir, s, d));
      else targets.push(...(await expandDeclaration(ctx, this.#project, this.#dir, d)));
    }
    for (const s of synthetic.values()) targets.push(syntheticTarget(this.#project, this.#dir, s));
    targets.sort((a, b) => compareAddresses(a.address, b.address));
    return { dir: this.#dir, targets };
  }
}

/** A target call after its fields were checked, before its sources were expanded. */
interface Declared {
  readonly type: TargetType;
  readonly name: string;
  readonly fields: Record<string, FieldValue>;
  readonly syntax: BuildFileSyntax;
  readonly call: CallStatement;
  readonly nameArg?: KeywordArg;
  readonly dependencyRefs: DependencyRef[];
}

function at(syntax: BuildFileSyntax, node: { span: ValueNode['span'] }): Location {
  return locationOf(syntax, node.span);
}

function declare(project: Project, dir: string, syntax: BuildFileSyntax, call: CallStatement): Declared {
  const type = project.types.get(call.callee);
  if (!type) {
    // The parser only lets known symbols through; this is a registry/parser mismatch.
    raise(failure('internal', 'unknown-target-type', `target type \`${call.callee}\` is not registered`));
  }
  const specs = project.types.fieldsOf(type);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const fields: Record<string, FieldValue> = {};
  let nameArg: KeywordArg | undefined;
  for (const arg of call.args) {
    const spec = byName.get(arg.name);
    if (!spec) {
      const guess = closest(arg.name, byName.keys());
      raise(
        failure('input', 'unknown-field', `unknown field \`${arg.name}\` for target type \`${type.alias}\``, {
          location: locationOf(syntax, arg.nameSpan),
          hints: guess ? [`did you mean \`${guess}\`?`] : [`\`${type.alias}\` has fields: ${specs.map((s) => s.name).join(', ')}`],
        }),
      );
    }
    const conv = convertField(spec, arg.value);
    if (!conv.ok) raise(failure('input', 'bad-field-value', conv.message, { location: at(syntax, conv.at ?? arg.value) }));
    fields[arg.name] = conv.value;
    if (arg.name === 'name') nameArg = arg;
  }
  for (const spec of specs) {
    if (spec.name in fields) continue;
    if (spec.required) {
      raise(
        failure('input', 'missing-field', `\`${type.alias}\` target is missing the required field \`${spec.name}\``, {
          location: locationOf(syntax, call.calleeSpan),
          hints: [`add \`${spec.name}=…\`: ${firstSentence(spec.help)}`],
        }),
      );
    }
    fields[spec.name] = spec.name === 'name' ? null : (spec.default ?? null);
  }
  const name = typeof fields.name === 'string' ? fields.name : dir === '' ? project.rootName : basenameRel(dir);
  const bad = checkTargetName(name);
  if (bad) raise(failure('input', 'bad-target-name', bad, { location: at(syntax, nameArg?.value ?? { span: call.calleeSpan }) }));
  fields.name = name;
  const depsArg = call.args.find((a) => a.name === 'dependencies');
  const dependencyRefs: DependencyRef[] = [];
  if (depsArg && (depsArg.value.kind === 'list' || depsArg.value.kind === 'tuple')) {
    for (const item of depsArg.value.items) {
      if (item.kind === 'str') dependencyRefs.push({ raw: item.value, location: at(syntax, item) });
    }
  }
  return { type, name, fields, syntax, call, dependencyRefs, ...(nameArg ? { nameArg } : {}) };
}

function checkUniqueNames(declared: readonly Declared[]): void {
  const seen = new Map<string, Declared>();
  for (const d of declared) {
    const prev = seen.get(d.name);
    if (prev) {
      const p = locationOf(prev.syntax, prev.call.calleeSpan);
      raise(
        failure('input', 'duplicate-target', `a target named \`${d.name}\` is already declared in this directory`, {
          location: at(d.syntax, d.nameArg?.value ?? { span: d.call.calleeSpan }),
          notes: [`first declared at ${p.file}:${p.line}:${p.col}`],
          hints: ['give one of them a different `name=`'],
        }),
      );
    }
    seen.set(d.name, d);
  }
}

/** What a provider is shown of a BUILD target. */
function declaration(d: Declared): BuildDeclaration {
  return {
    type: d.type.alias,
    name: d.name,
    fields: d.fields,
    written: d.call.args.map((a) => a.name),
    location: locationOf(d.syntax, d.call.calleeSpan),
    fieldLocations: Object.fromEntries(d.call.args.map((a) => [a.name, at(d.syntax, a.value)])),
  };
}

/** The synthetic targets of a directory from every provider, by name; two with one name is an error at the second. */
async function syntheticTargets(ctx: ComputeContext, project: Project, dir: string, declared: readonly Declared[]): Promise<Map<string, SyntheticTarget>> {
  const byName = new Map<string, SyntheticTarget>();
  if (project.synthetic.length === 0) return byName;
  const views = declared.map(declaration);
  for (const provider of project.synthetic) {
    for (const s of await provider.targetsIn(ctx, project, dir, views)) {
      // Per-file targets share their generator's name; the file tells them apart (a BUILD target never merges with one).
      const key = s.file === undefined ? s.name : `${s.name}\0${s.file}`;
      const prev = byName.get(key);
      if (prev !== undefined) {
        raise(
          failure('input', 'duplicate-target', `a target named \`${s.name}\` is already inferred in this directory`, {
            location: s.location,
            notes: [`first inferred from ${prev.location.file}:${prev.location.line}:${prev.location.col}`],
          }),
        );
      }
      byName.set(key, s);
    }
  }
  return byName;
}

/** The type of a synthetic target, checked to be one a provider may declare (a bug of the backend otherwise). */
function syntheticType(project: Project, s: SyntheticTarget): TargetType {
  const type = project.types.get(s.type);
  if (!type) raise(failure('internal', 'unknown-target-type', `a synthetic target \`${s.name}\` has unregistered type \`${s.type}\``));
  if (type.generator !== undefined || type.fields.some((f) => f.type.kind === 'sources' || f.type.kind === 'source')) {
    raise(failure('internal', 'bad-synthetic-target', `synthetic targets cannot be of type \`${s.type}\`, which has a sources field or generates targets`));
  }
  const bad = checkTargetName(s.name);
  if (bad) raise(failure('internal', 'bad-target-name', `synthetic target: ${bad}`));
  return type;
}

function syntheticTarget(project: Project, dir: string, s: SyntheticTarget): Target {
  const type = syntheticType(project, s);
  const fields: Record<string, FieldValue> = {};
  for (const spec of project.types.fieldsOf(type)) {
    const v = s.fields[spec.name];
    fields[spec.name] = v === undefined ? (spec.default ?? null) : v;
  }
  fields.name = s.name;
  const addr: Address = s.file === undefined ? { dir, name: s.name } : { dir, name: s.name, file: s.file };
  return {
    address: formatAddress(addr),
    addr,
    type: s.type,
    fields,
    buildFile: s.location.file,
    line: s.location.line,
    col: s.location.col,
    sources: s.sources,
    sourcePatterns: s.sourcePatterns,
    dependencyRefs: (s.dependencyRefs ?? []).map((r) => ({ ...r, inferred: true })),
    ...(s.file === undefined ? {} : { generatedFrom: formatAddress({ dir, name: s.name }) }),
  };
}

/**
 * A BUILD target extending a synthetic one of its type (Pants'
 * `_extend_synthetic=True`, implied here by the type): the fields the BUILD
 * file writes win, the others keep their inferred values; dependencies are
 * both, so `!addr` in the BUILD file drops an inferred one. It points at the
 * BUILD file, which is what a user edits.
 */
function extended(project: Project, dir: string, s: SyntheticTarget, d: Declared): Target {
  const base = syntheticTarget(project, dir, s);
  const fields: Record<string, FieldValue> = { ...base.fields };
  for (const a of d.call.args) fields[a.name] = d.fields[a.name]!;
  const loc = locationOf(d.syntax, d.call.calleeSpan);
  return {
    ...base,
    fields,
    buildFile: d.syntax.path,
    line: loc.line ?? 1,
    col: loc.col ?? 1,
    dependencyRefs: [...base.dependencyRefs, ...d.dependencyRefs],
  };
}

/** The `sources`/`source` argument's value node, to point errors at. */
function sourcesNode(d: Declared, field: string): ValueNode | undefined {
  return d.call.args.find((a) => a.name === field)?.value;
}

/** The list element that wrote `pattern` (or the whole value when it is not a list), to point errors at. */
function patternNode(d: Declared, field: string, pattern: string): ValueNode | undefined {
  const node = sourcesNode(d, field);
  return node && (node.kind === 'list' || node.kind === 'tuple') ? node.items.find((i) => i.kind === 'str' && i.value === pattern) : node;
}

/** Checks a pattern stays inside the build root and returns it root-relative. */
function rootRelativePattern(d: Declared, dir: string, field: string, pattern: string): string {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  const rel = toRelPath(joinRel(dir, body));
  if (body === '' || body.startsWith('/') || rel === undefined || (dir !== '' && !(rel === dir || rel.startsWith(`${dir}/`)))) {
    const item = patternNode(d, field, pattern);
    raise(
      failure('input', 'bad-source-pattern', `\`${field}\` entry \`${pattern}\` must be a path or glob inside the BUILD file's directory`, {
        ...(item ? { location: at(d.syntax, item) } : {}),
        hints: ['declare the files in a BUILD file of the directory that contains them, and depend on that target'],
      }),
    );
  }
  return pattern.startsWith('!') ? `!${rel}` : rel;
}

/**
 * A glob written in a BUILD file that matches no file is an error at the
 * glob, as Pants' `unmatched_build_file_globs` is by default: left alone it
 * would surface later, as a file missing from some sandbox. Globs a target
 * type brings as its default are not checked (a directory may have no
 * scripts), nor exclusions.
 */
async function checkGlobsMatch(
  ctx: ComputeContext,
  project: Project,
  dir: string,
  d: Declared,
  field: string,
  patterns: readonly string[],
  rootPatterns: readonly string[],
  files: readonly string[],
  address: string,
): Promise<void> {
  if (sourcesNode(d, field) === undefined) return;
  // Matched relative to the directory, normalized (rootRelativePattern): `src/**` of every
  // package is one compiled expression, not one per package (~50 ms of a cold `list ::` of
  // 200 packages), and a directory whose name holds glob syntax is not read as a glob.
  const prefix = dir === '' ? 0 : dir.length + 1;
  for (const [i, pattern] of patterns.entries()) {
    if (pattern.startsWith('!') || !isGlobPattern(pattern)) continue;
    const matches = compiledGlob(rootPatterns[i]!.slice(prefix));
    if (files.some((f) => matches(f.slice(prefix)))) continue;
    // Matched, but only files a `!` pattern leaves out: that is what the exclusion is for.
    if ((await ctx.get(new GlobKey(project.ws, dir, [pattern]))).files.length > 0) continue;
    const item = patternNode(d, field, pattern);
    const base = toRelPath(picomatch.scan(pattern).base) ?? '';
    const baseDir = base === '' ? dir : joinRel(dir, base);
    const baseKind = base === '' ? 'dir' : await ctx.get(new PathKindKey(project.ws, baseDir));
    let hint: string;
    if (baseKind !== 'dir') {
      const near = await nearestPath(ctx, project.ws, baseDir, true);
      const nearRel = near === undefined ? undefined : dir === '' ? near : near.startsWith(`${dir}/`) ? near.slice(dir.length + 1) : undefined;
      hint =
        nearRel !== undefined
          ? `did you mean \`${nearRel}${pattern.slice(base.length)}\`? (there is no directory \`${baseDir}\`)`
          : `there is no directory \`${baseDir}\``;
    } else {
      const listing = await ctx.get(new ListingKey(project.ws, baseDir));
      hint =
        listing.files.length === 0
          ? `\`${baseDir || '//'}\` has no files; remove the glob, or add the files`
          : `files in \`${baseDir || '//'}\`: ${listing.files.slice(0, 8).join(', ')}${listing.files.length > 8 ? `, and ${listing.files.length - 8} more` : ''}`;
    }
    raise(
      failure('input', 'unmatched-glob', `\`${field}\` of \`${address}\`: the glob \`${pattern}\` matches no file`, {
        location: at(d.syntax, item ?? { span: d.call.calleeSpan }),
        hints: [hint],
      }),
    );
  }
}

async function expandDeclaration(ctx: ComputeContext, project: Project, dir: string, d: Declared): Promise<Target[]> {
  const addr: Address = { dir, name: d.name };
  const address = formatAddress(addr);
  const loc = locationOf(d.syntax, d.call.calleeSpan);
  const base = {
    addr,
    address,
    type: d.type.alias,
    buildFile: d.syntax.path,
    line: loc.line ?? 1,
    col: loc.col ?? 1,
    dependencyRefs: d.dependencyRefs,
  };
  const sourceField = d.type.fields.find((f) => f.type.kind === 'sources' || f.type.kind === 'source');
  if (!sourceField) return [{ ...base, fields: d.fields, sources: [], sourcePatterns: [] }];

  const raw = d.fields[sourceField.name];
  const patterns = raw === null || raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [raw as string];
  if (sourceField.type.kind === 'source' && patterns.length === 1 && isGlobPattern(patterns[0]!)) {
    raise(
      failure('input', 'bad-source-pattern', `\`${sourceField.name}\` names exactly one file; \`${patterns[0]}\` is a glob`, {
        location: at(d.syntax, sourcesNode(d, sourceField.name) ?? { span: d.call.calleeSpan }),
        hints: [`use \`${d.type.generator ? 'sources' : 'a generator target such as files(sources=[…])'}\` for several files`],
      }),
    );
  }
  const sourcePatterns = patterns.map((p) => rootRelativePattern(d, dir, sourceField.name, p));
  const glob = await ctx.get(new GlobKey(project.ws, dir, patterns));
  if (glob.missingLiterals.length > 0) {
    const missing = glob.missingLiterals[0]!;
    const item = patternNode(d, sourceField.name, missing);
    raise(
      failure('input', 'missing-source', `\`${sourceField.name}\` of \`${address}\` names \`${missing}\`, which does not exist`, {
        location: at(d.syntax, item ?? { span: d.call.calleeSpan }),
        hints: [`create ${joinRel(dir, missing)}, or remove it from \`${sourceField.name}\``],
      }),
    );
  }
  await checkGlobsMatch(ctx, project, dir, d, sourceField.name, patterns, sourcePatterns, glob.files, address);
  if (glob.escapes.length > 0) {
    const { pattern, path, problem } = glob.escapes[0]!;
    const item = patternNode(d, sourceField.name, pattern);
    const exclude = isGlobPattern(pattern) ? `; or leave it out with \`!${path.slice(dir === '' ? 0 : dir.length + 1)}\`` : '';
    const through =
      problem.type === 'outside'
        ? `which resolves outside the build root: \`${problem.link}\` is a symlink to ${JSON.stringify(problem.target)}`
        : `which cannot be resolved: \`${problem.link}\` is a symlink that leads round in a loop`;
    raise(
      failure('input', problem.type === 'outside' ? 'symlink-outside-root' : 'symlink-loop', `\`${sourceField.name}\` of \`${address}\` names \`${path}\`, ${through}`, {
        location: at(d.syntax, item ?? { span: d.call.calleeSpan }),
        hints: [
          problem.type === 'outside'
            ? `trews reads nothing outside the build root: copy the file into the repository, or point the link inside it${exclude}`
            : `point the link at a file or directory, not (through other links) at itself${exclude}`,
        ],
      }),
    );
  }
  const sources = glob.files;
  const gen = d.type.generator;
  if (!gen) return [{ ...base, fields: d.fields, sources, sourcePatterns }];

  const genType = project.types.get(gen.generates);
  if (!genType) raise(failure('internal', 'unknown-target-type', `\`${d.type.alias}\` generates unregistered type \`${gen.generates}\``));
  const prefix = dir === '' ? 0 : dir.length + 1;
  const generated: Target[] = [];
  for (const file of sources) {
    const rel = file.slice(prefix);
    const gaddr: Address = { dir, name: d.name, file: rel };
    const fields: Record<string, FieldValue> = {};
    for (const spec of project.types.fieldsOf(genType)) fields[spec.name] = copiedField(spec, d, gen.sourceField, rel);
    generated.push({
      ...base,
      addr: gaddr,
      address: formatAddress(gaddr),
      type: genType.alias,
      fields,
      sources: [file],
      sourcePatterns: [file],
      generatedFrom: address,
    });
  }
  const generator: Target = {
    ...base,
    fields: d.fields,
    sources,
    sourcePatterns,
    generated: generated.map((g) => g.addr),
  };
  return [generator, ...generated];
}

/** A generated target takes its generator's values for the fields they share. */
function copiedField(spec: FieldSpec, d: Declared, sourceField: string, file: string): FieldValue {
  if (spec.name === sourceField) return file;
  if (spec.name in d.fields && spec.name !== 'sources') return d.fields[spec.name]!;
  return spec.default ?? null;
}
