import { closest, failure, raise } from '../../core/index.js';
import type { ComputeContext } from '../../engine/index.js';
import { DirTargetsKey, stringListField, type Address, type DependencyInferrer, type Target, type Project } from '../../targets/index.js';
import { PackageDependenciesKey } from './package-dependencies.js';
import { NODE_SCRIPT, PACKAGE_JSON } from './target-types.js';
import { JsWorkspaceKey } from './workspace.js';

/** The package target of a workspace package's directory (absent when a BUILD target of another type replaced it). */
async function packageTarget(ctx: ComputeContext, project: Project, dir: string): Promise<Address | undefined> {
  return (await ctx.get(new DirTargetsKey(project, dir))).targets.find((t) => t.type === PACKAGE_JSON)?.addr;
}

/** The target of script `script` of the package in `dir`, if it has that script. */
async function scriptTarget(ctx: ComputeContext, project: Project, dir: string, script: string): Promise<Address | undefined> {
  return (await ctx.get(new DirTargetsKey(project, dir))).targets.find((t) => t.type === NODE_SCRIPT && t.fields.script === script)?.addr;
}

/**
 * `^script`: that script of each first-party dependency; through a
 * dependency without it to its own dependencies, as Turborepo runs
 * `^build` through packages that have no `build`.
 */
async function upstreamScripts(ctx: ComputeContext, project: Project, dir: string, script: string): Promise<Address[]> {
  const out: Address[] = [];
  const seen = new Set([dir]);
  let frontier = [dir];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const d of frontier) {
      for (const dep of (await ctx.get(new PackageDependenciesKey(project.ws, d))).firstParty) {
        if (seen.has(dep.dir)) continue;
        seen.add(dep.dir);
        const s = await scriptTarget(ctx, project, dep.dir, script);
        if (s !== undefined) out.push(s);
        else next.push(dep.dir);
      }
    }
    frontier = next;
  }
  return out;
}

async function namedPackageScript(ctx: ComputeContext, project: Project, t: Target, entry: string): Promise<Address | undefined> {
  const hash = entry.lastIndexOf('#');
  const name = entry.slice(0, hash);
  const w = await ctx.get(new JsWorkspaceKey(project.ws));
  const pkg = w.packages.find((p) => p.name === name);
  if (pkg === undefined) {
    const guess = closest(name, w.packages.flatMap((p) => (p.name === null ? [] : [p.name])));
    raise(
      failure('input', 'unknown-workspace-package', `\`depends_on\` of ${t.address} names \`${entry}\`, and no package of the workspace is named \`${name}\``, {
        location: { file: t.buildFile, line: t.line, col: t.col },
        hints: [guess !== undefined ? `did you mean \`${guess}#${entry.slice(hash + 1)}\`?` : 'write `package-name#script`, with the name from its package.json'],
      }),
    );
  }
  return scriptTarget(ctx, project, pkg.dir, entry.slice(hash + 1));
}

/**
 * The dependencies of inferred targets. A package depends on the workspace
 * packages it links; a script on its package (it runs in the package's
 * files) and on the scripts its `depends_on` names. `!address` in a BUILD
 * file's `dependencies` removes any of them.
 */
export const packageDependencies: DependencyInferrer = {
  name: 'javascript-package-dependencies',
  appliesTo: (t) => t.type === PACKAGE_JSON || t.type === NODE_SCRIPT,
  async infer(ctx, project, t) {
    const dir = t.addr.dir;
    if (t.type === PACKAGE_JSON) {
      const deps = await ctx.get(new PackageDependenciesKey(project.ws, dir));
      const found = await Promise.all(deps.firstParty.map((d) => packageTarget(ctx, project, d.dir)));
      return found.filter((a): a is Address => a !== undefined);
    }
    const out: (Address | undefined)[] = [await packageTarget(ctx, project, dir)];
    for (const entry of stringListField(t, 'depends_on')) {
      if (entry.startsWith('^')) out.push(...(await upstreamScripts(ctx, project, dir, entry.slice(1))));
      else if (entry.includes('#')) out.push(await namedPackageScript(ctx, project, t, entry));
      else out.push(await scriptTarget(ctx, project, dir, entry));
    }
    // A script never waits for itself (`build` naming `build`).
    return out.filter((a): a is Address => a !== undefined && !(a.dir === t.addr.dir && a.name === t.addr.name));
  },
};
