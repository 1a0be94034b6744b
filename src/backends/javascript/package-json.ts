import type { Node } from 'jsonc-parser';
import { failure, FailureError, joinRel, raise, type Failure, type Location } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, type Workspace } from '../../fs/index.js';
import { describeJson, parseJsonDocument, properties, property, type JsonDocument } from './json-document.js';

/** One entry of a package.json's `scripts`. */
export interface PackageScript {
  readonly name: string;
  readonly command: string;
  /** The script's key. */
  readonly at: Location;
}

export type DependencyField = 'dependencies' | 'devDependencies' | 'peerDependencies' | 'optionalDependencies';

/** The dependency fields read, in the order a name found in several is reported. */
export const DEPENDENCY_FIELDS: readonly DependencyField[] = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/** One `"name": "range"` of a dependency field. */
export interface DeclaredDependency {
  readonly name: string;
  readonly range: string;
  readonly field: DependencyField;
  /** The range (the value), which is what decides first- or third-party. */
  readonly at: Location;
}

/** A workspace glob of the root package.json's `workspaces`. */
export interface WorkspacePattern {
  readonly pattern: string;
  readonly at: Location;
}

/**
 * What trews reads of a package.json, with positions for errors. Plain data,
 * so an edit that changes nothing read here (a `description`) cuts off.
 */
export interface PackageManifest {
  /** Root-relative path of the file. */
  readonly path: string;
  readonly dir: string;
  readonly name: string | null;
  readonly version: string | null;
  /** `"private": true`: never published, so `trews package` packs nothing. */
  readonly private: boolean;
  /** The `name` value, or the start of the file without one: where errors about the package point. */
  readonly at: Location;
  readonly scripts: readonly PackageScript[];
  readonly dependencies: readonly DeclaredDependency[];
  /** `workspaces` (an array, or yarn's `{packages: [...]}`); null when absent. */
  readonly workspaces: readonly WorkspacePattern[] | null;
  /** A malformed `workspaces`: only the root's matters (npm ignores nested ones), so it is raised there. */
  readonly workspacesProblem: Failure | null;
  /** Corepack's `packageManager` (`pnpm@9.1.0`). */
  readonly packageManager: { readonly value: string; readonly at: Location } | null;
}

/** The package.json of a directory, parsed (null when there is none); a malformed one is a memoized failure at its file:line:col. */
export class PackageJsonKey implements Key<PackageManifest | null> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `package-json:${dir}`;
  }
  describe(): string {
    return `parse ${joinRel(this.#dir, 'package.json')}`;
  }
  async compute(ctx: ComputeContext): Promise<PackageManifest | null> {
    const path = joinRel(this.#dir, 'package.json');
    const text = await ctx.get(new FileTextKey(this.#ws, path, 'utf8-strict'));
    return text === null ? null : readManifest(this.#dir, path, text);
  }
}

/** Reads a package.json's text; exported for the unit tests. */
export function readManifest(dir: string, path: string, text: string): PackageManifest {
  const doc = parseJsonDocument(path, text);
  const loc = (n: Node): Location => doc.lines.at(n.offset, n.length);
  if (doc.root.type !== 'object') {
    raise(typeError(doc, doc.root, 'a package.json', 'an object'));
  }
  const str = (key: string): { value: string; node: Node } | null => {
    const p = property(doc.root, key);
    if (p === undefined || p.value.type === 'null') return null;
    if (p.value.type !== 'string') raise(typeError(doc, p.value, `\`${key}\``, 'a string'));
    return { value: p.value.value as string, node: p.value };
  };
  const name = str('name');
  const version = str('version');
  const pm = str('packageManager');
  const scripts: PackageScript[] = [];
  const scriptsProp = property(doc.root, 'scripts');
  if (scriptsProp !== undefined && scriptsProp.value.type !== 'null') {
    if (scriptsProp.value.type !== 'object') raise(typeError(doc, scriptsProp.value, '`scripts`', 'an object of script names to commands'));
    for (const p of properties(scriptsProp.value)) {
      if (p.value.type !== 'string') raise(typeError(doc, p.value, `script \`${p.name}\``, 'a string (the command)'));
      scripts.push({ name: p.name, command: p.value.value as string, at: loc(p.key) });
    }
  }
  const dependencies: DeclaredDependency[] = [];
  for (const field of DEPENDENCY_FIELDS) {
    const p = property(doc.root, field);
    if (p === undefined || p.value.type === 'null') continue;
    if (p.value.type !== 'object') raise(typeError(doc, p.value, `\`${field}\``, 'an object of package names to version ranges'));
    for (const d of properties(p.value)) {
      if (d.value.type !== 'string') raise(typeError(doc, d.value, `\`${field}\` entry \`${d.name}\``, 'a string (a version range)'));
      dependencies.push({ name: d.name, range: d.value.value as string, field, at: loc(d.value) });
    }
  }
  let workspaces: WorkspacePattern[] | null = null;
  let workspacesProblem: Failure | null = null;
  try {
    workspaces = readWorkspaces(doc);
  } catch (e) {
    if (!(e instanceof FailureError)) throw e;
    workspacesProblem = e.failure;
  }
  return {
    path,
    dir,
    name: name?.value ?? null,
    version: version?.value ?? null,
    private: property(doc.root, 'private')?.value.type === 'boolean' && property(doc.root, 'private')?.value.value === true,
    at: name !== null ? loc(name.node) : doc.lines.at(doc.root.offset),
    scripts,
    dependencies,
    workspaces,
    workspacesProblem,
    packageManager: pm === null ? null : { value: pm.value, at: loc(pm.node) },
  };
}

/** npm's and yarn's `workspaces`: an array of globs, or (yarn) an object whose `packages` is one. */
function readWorkspaces(doc: JsonDocument): WorkspacePattern[] | null {
  const p = property(doc.root, 'workspaces');
  if (p === undefined || p.value.type === 'null') return null;
  let list = p.value;
  const expected = 'an array of globs (`["packages/*"]`), or an object with `packages` (yarn)';
  if (list.type === 'object') {
    const packages = property(list, 'packages');
    if (packages === undefined) raise(typeError(doc, list, '`workspaces`', 'an array of globs, or an object with a `packages` array'));
    list = packages.value;
  }
  if (list.type !== 'array') raise(typeError(doc, list, list === p.value ? '`workspaces`' : '`workspaces.packages`', expected));
  const out: WorkspacePattern[] = [];
  for (const item of list.children ?? []) {
    if (item.type !== 'string') raise(typeError(doc, item, 'a `workspaces` entry', 'a string (a glob of package directories)'));
    out.push({ pattern: item.value as string, at: doc.lines.at(item.offset, item.length) });
  }
  return out;
}

function typeError(doc: JsonDocument, node: Node, what: string, expected: string): Failure {
  return failure('input', 'bad-package-json', `${what} must be ${expected}, not ${describeJson(node)}`, {
    location: doc.lines.at(node.offset, node.length),
  });
}
