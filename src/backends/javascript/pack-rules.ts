import { posix } from 'node:path';
import { FailureError, type Digest } from '../../core/index.js';
import { makeProcess, type SharedInput } from '../../exec/index.js';
import { EMPTY_TREE_DIGEST, listTree, mergeTrees, SnapshotKey, subsetTree, treeFromFiles } from '../../store/index.js';
import type { Target } from '../../targets/index.js';
import { BUILD, PACKAGE, processFailure, provide, TOOLS_DIR, type BuiltPackage, type RuleContext } from '../api/index.js';
import { installInputs, JsInstallKey, SANDBOX_HOME, shimsTree } from './install.js';
import { jsSandbox, LOCAL } from './js-sandbox.js';
import { extraTools, nodeTool, packageManagerTool, shTool } from './nodejs.js';
import { PackageJsonKey } from './package-json.js';
import { JsWorkspaceKey, requireLockfile, requirePackageManager, type JsWorkspace, type PackageManagerName } from './workspace.js';

/** Where the tarball is written in the sandbox (from the package's directory). */
const PACK_DIR = '.trews-pack';

/** npm's name for a package's tarball (`@demo/strings` 1.0.0 → `demo-strings-1.0.0.tgz`), which pnpm uses too: the one trews writes for every manager. */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`;
}

function packArgs(pm: PackageManagerName, version: string, tarball: string): string[] {
  switch (pm) {
    // The build ran already (trews built the outputs the tarball takes): no prepack/prepare.
    case 'npm':
      return ['pack', '--ignore-scripts', '--pack-destination', PACK_DIR];
    // pnpm and yarn rewrite `workspace:` ranges to the versions they link, as their publish does.
    case 'pnpm':
      return ['pack', '--pack-destination', PACK_DIR];
    // yarn names it `@demo-strings-1.0.0.tgz` (berry's %s) or `demo-strings-v1.0.0.tgz` (yarn 1): npm's name instead.
    case 'yarn':
      return version.startsWith('1.') ? ['pack', '--filename', `${PACK_DIR}/${tarball}`] : ['pack', '--out', `${PACK_DIR}/${tarball}`];
  }
}

/**
 * What the package manager must see besides the package to pack it. npm
 * packs the directory alone. pnpm and yarn rewrite `workspace:` ranges to
 * the linked packages' versions, which they read from the project: yarn
 * from the workspace's manifests and lockfile, pnpm from the linked
 * packages in node_modules (the shared install and the workspace links).
 */
async function projectTree(rc: RuleContext, w: JsWorkspace, pm: PackageManagerName): Promise<{ tree: Digest; shared?: SharedInput }> {
  if (pm === 'npm') return { tree: EMPTY_TREE_DIGEST };
  const files = await rc.get(new SnapshotKey(rc.project.ws, rc.store, await installInputs(rc, w, requireLockfile(w))));
  if (pm === 'yarn') return { tree: files.digest };
  const install = await rc.get(new JsInstallKey(rc.ruleEnv));
  const links = install.links.length === 0 ? EMPTY_TREE_DIGEST : await treeFromFiles(rc.store, install.links.map((l) => ({ kind: 'symlink' as const, path: l.path, target: l.target })), rc.signal);
  // The install is linked from its shared read-only copy, as in a script's sandbox.
  return { tree: await mergeTrees(rc.store, [files.digest, install.tree, links], rc.signal), shared: { tree: install.tree, realDirs: install.realDirs } };
}

/**
 * `trews package` of a publishable package (not `private`): the tarball
 * its package manager packs (`npm pack`) from its files and its build's
 * outputs, in a sandbox, cached; written to the dist directory as the
 * package manager names it (`demo-strings-1.0.0.tgz`). A private package
 * packages to nothing.
 */
async function packPackage(rc: RuleContext, t: Target): Promise<BuiltPackage> {
  const pkgDir = t.addr.dir;
  const manifest = await rc.get(new PackageJsonKey(rc.project.ws, pkgDir));
  if (manifest === null || manifest.private || manifest.name === null || manifest.version === null) return { tree: EMPTY_TREE_DIGEST, files: [] };
  const w = await rc.get(new JsWorkspaceKey(rc.project.ws));
  const location = { file: t.buildFile, line: t.line, col: t.col };
  const tarball = tarballName(manifest.name, manifest.version);
  const [extra, node, sh, pm, sources, built] = await Promise.all([
    extraTools(rc),
    nodeTool(rc, `which packs ${t.address}`, location),
    shTool(rc, `which packs ${t.address}`, location),
    packageManagerTool(rc, requirePackageManager(w)),
    rc.get(new SnapshotKey(rc.project.ws, rc.store, t.sources)),
    rc.serve(BUILD, t, undefined),
  ]);
  const tools = [...extra, node, sh, pm.tool];
  const [shims, sandbox] = await Promise.all([
    shimsTree(rc, tools),
    jsSandbox(rc, t, LOCAL, tools, pm, { declareHint: `declare it: a file of ${pkgDir || 'the root package'} is packed from the sources of ${t.address} and its build's outputs` }),
  ]);
  const project = await projectTree(rc, w, pm.name);
  const inputRoot = await mergeTrees(rc.store, [project.tree, sources.digest, built?.tree ?? EMPTY_TREE_DIGEST, shims], rc.signal);
  const toolsDir = posix.relative(pkgDir || '.', TOOLS_DIR);
  const process = makeProcess({
    // REAPI makes no output directory: the package managers want theirs to exist.
    argv: [`${toolsDir}/sh`, '-c', `mkdir -p ${PACK_DIR} && exec "$@"`, 'pack', pm.name, ...packArgs(pm.name, pm.version, tarball)],
    env: {
      PATH: toolsDir,
      HOME: posix.relative(pkgDir || '.', SANDBOX_HOME),
      npm_config_cache: posix.join(posix.relative(pkgDir || '.', SANDBOX_HOME), 'npm-cache'),
      npm_config_update_notifier: 'false',
      YARN_ENABLE_TELEMETRY: '0',
    },
    inputRoot,
    workingDirectory: pkgDir,
    outputDirectories: [PACK_DIR],
    description: `Pack ${t.address} (${pm.name} pack${pkgDir === '' ? '' : ` in ${pkgDir}`})`,
    cacheScope: 'successful',
    ...(project.shared !== undefined ? { sharedInputs: [project.shared] } : {}),
    ...sandbox,
  });
  const result = await rc.execute(process);
  if (result.exitCode !== 0 || result.timedOut) {
    throw new FailureError(await processFailure(rc.store, `packing ${t.address} (${pm.name} pack)`, result, null, location, rc.signal));
  }
  const tree: Digest = await subsetTree(rc.store, result.outputRoot, [`${PACK_DIR}/*.tgz`], rc.signal);
  const inside = await treeAt(rc, tree);
  return { tree: inside, files: (await listTree(rc.store, inside, rc.signal)).map((e) => e.path).sort(), result };
}

/** The tree under PACK_DIR (where its paths are relative to the dist directory). */
async function treeAt(rc: RuleContext, tree: Digest): Promise<Digest> {
  const entries = (await listTree(rc.store, tree, rc.signal)).filter((e) => e.kind === 'file');
  return treeFromFiles(
    rc.store,
    entries.map((e) => ({ kind: 'file' as const, path: posix.basename(e.path), digest: e.digest, isExecutable: false })),
    rc.signal,
  );
}

export const packRule = provide(PACKAGE, packPackage);
