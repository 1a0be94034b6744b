import { dirnameRel, failure, raise } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { DirTargetsKey, type Address, type DependencyInferrer, type DirTargets, type InferenceWarning, type Project, type Target } from '../../targets/index.js';
import { FileDependenciesKey, type ResolvedImport } from './resolve-imports.js';
import { JAVASCRIPT_SCOPE } from './pipeline.js';
import { JAVASCRIPT_SOURCE, JAVASCRIPT_TEST, JsSourcesConfigKey } from './source-targets.js';
import { PACKAGE_JSON } from './target-types.js';
import { JsWorkspaceKey } from './workspace.js';

export interface FileInference {
  readonly dependencies: readonly Address[];
  /** Unresolved imports. */
  readonly warnings: readonly InferenceWarning[];
  readonly parseWarning?: InferenceWarning;
}

/** Per directory's targets: source file → its per-file target, and the package target. Beside the value, like lookup.ts's index. */
const fileIndex = new WeakMap<DirTargets, { readonly files: ReadonlyMap<string, Address>; readonly pkg: Address | undefined }>();

function indexOf(dt: DirTargets): { readonly files: ReadonlyMap<string, Address>; readonly pkg: Address | undefined } {
  let index = fileIndex.get(dt);
  if (index === undefined) {
    const files = new Map<string, Address>();
    let pkg: Address | undefined;
    for (const t of dt.targets) {
      if (t.addr.file !== undefined && (t.type === JAVASCRIPT_SOURCE || t.type === JAVASCRIPT_TEST)) files.set(t.sources[0]!, t.addr);
      else if (t.type === PACKAGE_JSON) pkg = t.addr;
    }
    index = { files, pkg };
    fileIndex.set(dt, index);
  }
  return index;
}

/**
 * A file's inferred dependencies as addresses: its imports, resolved
 * (resolve-imports.ts), each to the per-file target of the file it names,
 * or to a package's target (a third-party package, the file of a package
 * that has no per-file target such as a .json, a workspace package whose
 * entry maps to no source). Built-ins are no dependency; what resolves to
 * nothing is a warning at the import's file:line:col.
 */
export class FileInferenceKey implements Key<FileInference> {
  readonly id: string;
  readonly #project: Project;
  readonly #path: string;
  readonly #pkgDir: string;
  constructor(project: Project, path: string, pkgDir: string) {
    this.#project = project;
    this.#path = path;
    this.#pkgDir = pkgDir;
    this.id = `js-file-inference:${pkgDir}:${path}`;
  }
  describe(): string {
    return `inferred dependencies of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<FileInference> {
    const resolved = await ctx.get(new FileDependenciesKey(this.#project.ws, this.#path, this.#pkgDir));
    const deps = new Map<string, Address>();
    const warnings: InferenceWarning[] = [];
    let packageDirs: readonly string[] | undefined;
    for (const r of resolved.imports) {
      const res = r.resolution;
      if (res.type === 'builtin') continue;
      if (res.type === 'unresolved') {
        warnings.push(unresolvedWarning(this.#path, r));
        continue;
      }
      let dir: string;
      if (res.type === 'package') dir = res.dir;
      else {
        packageDirs ??= (await ctx.get(new JsWorkspaceKey(this.#project.ws))).packages.map((p) => p.dir);
        dir = owningPackage(packageDirs, res.path);
      }
      const index = indexOf(await ctx.get(new DirTargetsKey(this.#project, dir)));
      const addr = res.type === 'file' ? (index.files.get(res.path) ?? index.pkg) : index.pkg;
      if (addr !== undefined) deps.set(`${addr.dir}\0${addr.name}\0${addr.file ?? ''}`, addr);
    }
    const bad = resolved.parseError;
    // Not an unresolved import: a file the parser stumbles on may still run (a newer syntax), so it never fails a goal here.
    if (bad !== null) return { dependencies: [...deps.values()], warnings, parseWarning: { file: this.#path, line: bad.line, col: bad.col, message: `cannot parse (${bad.message}): imports after this point may be missing` } };
    return { dependencies: [...deps.values()], warnings };
  }
}

function unresolvedWarning(path: string, r: ResolvedImport): InferenceWarning {
  const i = r.import;
  const what = i.kind === 'reference' ? 'reference path' : i.kind === 'dynamic' ? 'dynamic import' : i.kind === 'require' ? 'require' : i.typeOnly ? 'type import' : i.kind;
  const reason = r.resolution.type === 'unresolved' ? r.resolution.reason : '';
  return { file: path, line: i.line, col: i.col, message: `cannot resolve ${what} ${JSON.stringify(i.specifier)}: ${reason}` };
}

/** The deepest workspace package directory that holds `path` ('' is the root package's). */
function owningPackage(dirs: readonly string[], path: string): string {
  let best = '';
  for (const d of dirs) if (d !== '' && d.length > best.length && path.startsWith(`${d}/`)) best = d;
  return best;
}

async function inferenceOf(ctx: ComputeContext, project: Project, t: Target): Promise<FileInference> {
  return ctx.get(new FileInferenceKey(project, t.sources[0]!, t.addr.dir));
}

/**
 * The dependencies of a package's per-file targets, from their imports.
 * `[javascript] unresolved_imports = "error"` makes the first import that
 * resolves to nothing an error, at its file:line:col.
 */
export const importDependencies: DependencyInferrer = {
  name: 'javascript-imports',
  appliesTo: (t) => (t.type === JAVASCRIPT_SOURCE || t.type === JAVASCRIPT_TEST) && t.sources.length === 1,
  async infer(ctx, project, t) {
    const inference = await inferenceOf(ctx, project, t);
    const first = inference.warnings[0];
    if (first !== undefined && (await ctx.get(new JsSourcesConfigKey())).unresolvedImports === 'error') {
      raise(
        failure('input', 'unresolved-import', first.message, {
          location: { file: first.file, line: first.line, col: first.col },
          ...(inference.warnings.length > 1 ? { notes: [`and ${inference.warnings.length - 1} more unresolved import(s) in ${first.file}`] } : {}),
          hints: [
            `fix the import (or add the package to the dependencies of the package.json that owns ${dirnameRel(first.file) || 'the file'}), or set \`[${JAVASCRIPT_SCOPE}] unresolved_imports = "warn"\` to only report it`,
          ],
        }),
      );
    }
    return inference.dependencies;
  },
  async warnings(ctx, project, t) {
    const inference = await inferenceOf(ctx, project, t);
    return inference.parseWarning === undefined ? inference.warnings : [inference.parseWarning, ...inference.warnings];
  },
};
